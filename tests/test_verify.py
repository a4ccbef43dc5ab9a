"""``reunite verify DIR`` on a real scan: all match → exit 0; one changed byte in an output or
an original, a missing or an unlisted file → exit 1 with one line naming it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.media import write_clip


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, models_dir) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("verify")
    clip = write_clip(root / "cam 1.mp4", [i / 10 for i in range(30)])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REUNITE_MODELS", str(models_dir))
        mp.setenv("HOME", str(root / "home"))
        r = CliRunner().invoke(main, ["scan", "--quiet", str(clip), "--out", str(root / "out")],
                               catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return clip, root / "out"


@pytest.fixture
def case(scanned, tmp_path) -> tuple[Path, Path]:
    """A private copy of the original and the output folder, manifest pointing at the copy."""
    clip, out = scanned
    c = shutil.copy2(clip, tmp_path / clip.name)
    d = tmp_path / "out"
    shutil.copytree(out, d)
    m = json.loads((d / "manifest.json").read_text())
    m["inputs"][0]["path"] = str(c)
    (d / "manifest.json").write_text(json.dumps(m))
    return Path(c), d


def verify(d: Path):
    return CliRunner().invoke(main, ["verify", str(d)])


def flip_byte(p: Path, at: int) -> None:
    b = bytearray(p.read_bytes())
    b[at] ^= 0x01
    p.write_bytes(bytes(b))


def test_untouched_case_verifies(case):
    _, d = case
    r = verify(d)
    assert r.exit_code == 0, r.output
    assert "1 original(s)" in r.output and "all match the manifest" in r.output
    m = json.loads((d / "manifest.json").read_text())
    assert {"report.html", "events.csv", "matches.csv"} <= set(m["outputs"])


def test_one_changed_byte_in_an_output_is_named(case):
    _, d = case
    flip_byte(d / "report.html", 500)
    r = verify(d)
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.startswith("reunite: CHANGED")]
    assert len(lines) == 1 and "output report.html" in lines[0]


def test_one_changed_byte_in_the_original_is_named(case):
    clip, d = case
    flip_byte(clip, clip.stat().st_size // 2)
    r = verify(d)
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.startswith("reunite: CHANGED")]
    assert len(lines) == 1 and f"original {clip}" in lines[0]


def test_missing_and_unlisted_files_are_named(case):
    clip, d = case
    m = json.loads((d / "manifest.json").read_text())
    tracks = next(k for k in m["outputs"] if k.endswith("tracks.jsonl"))
    (d / tracks).unlink()
    (d / "notes.txt").write_text("added later")
    clip.unlink()
    r = verify(d)
    assert r.exit_code == 1
    assert f"reunite: MISSING output {tracks}" in r.output
    assert "reunite: UNLISTED output notes.txt (not in the manifest)" in r.output
    assert f"reunite: MISSING original {clip}" in r.output


def test_not_a_case_folder_is_one_line_exit_2(tmp_path):
    r = verify(tmp_path)
    assert r.exit_code == 2 and "manifest.json: no manifest here" in r.output
    assert "Traceback" not in r.output


def test_report_rebuild_keeps_the_case_verifiable(case):
    _, d = case
    (d / "report.html").write_text("tampered")
    assert verify(d).exit_code == 1
    r = CliRunner().invoke(main, ["report", str(d)])
    assert r.exit_code == 0, r.output
    assert verify(d).exit_code == 0
