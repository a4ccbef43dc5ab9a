"""Fixtures of the hardening suite: one batch scan over every odd and generated bad input,
shared by the tests that check how it ended (it is the slow part; it runs once)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import DATA, MODELS
from tests.hardening.corpus import build_corpus, snapshot
from tests.hardening.table import FAST


@dataclass
class Batch:
    odd: Path
    gen: Path
    out: Path
    kinds: dict[str, str]
    exit_code: int
    output: str
    exception: BaseException | None
    manifest: dict
    before: dict[str, dict]
    after: dict[str, dict]


@pytest.fixture(scope="session")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """``reunite scan odd_media generated --out out`` (fast settings), with snapshots of both
    input folders taken before and after."""
    odd = DATA / "odd_media"
    if not odd.is_dir():
        pytest.skip(f"shared odd media not present at {odd}")
    if not (MODELS / "yolox_nano_reexport_k00.onnx").is_file():
        pytest.skip(f"YOLOX-Nano weights not present in {MODELS}")
    tmp = tmp_path_factory.mktemp("batch")
    gen = tmp / "generated"
    kinds = build_corpus(gen)
    out = tmp / "out"
    before = {"odd": snapshot(odd), "gen": snapshot(gen)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REUNITE_MODELS", str(MODELS))
        mp.setenv("HOME", str(tmp / "home"))
        r = CliRunner().invoke(
            main, ["scan", "--quiet", str(odd), str(gen), "--out", str(out), *FAST])
    after = {"odd": snapshot(odd), "gen": snapshot(gen)}
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    return Batch(odd, gen, out, kinds, r.exit_code, r.output, r.exception, manifest, before, after)
