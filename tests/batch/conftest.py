"""A 6-file batch on real footage and its uninterrupted scan, shared by the batch tests.

Files: the carry composite of tests/outputs (a real boy on a real walker's hip: one carry
event), four 2-second cuts of vtest.avi (real pedestrians, different moments) and one of those
cuts again under another name (a byte-identical copy: same sha256, its own folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.media import write_clip
from tests.outputs.composite import carry_clip

ROOT = Path(__file__).resolve().parents[2]


def vtest_cut(src: Path, dst: Path, start_frame: int, n: int = 20) -> Path:
    cap = cv2.VideoCapture(str(src))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start_frame)
    frames = []
    while len(frames) < n:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    h, w = frames[0].shape[:2]
    return write_clip(dst, [i / 10 for i in range(len(frames))], (w, h), frames=frames)


@pytest.fixture(scope="session")
def batch_dir(tmp_path_factory, shared_data) -> Path:
    d = tmp_path_factory.mktemp("batch") / "in"
    d.mkdir()
    carry_clip(d / "a_carry.mp4", shared_data)
    vtest = shared_data / "pedestrians" / "opencv__vtest.avi"
    for k, start in enumerate((0, 200, 400, 600)):
        vtest_cut(vtest, d / f"b_street{k}.mp4", start)
    shutil.copyfile(d / "b_street1.mp4", d / "c_copy.mp4")
    return d


def scan_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "import cli; cli.main()", "scan", "--quiet", *args]


def scan_env(models_dir: Path, home: Path) -> dict[str, str]:
    return {**os.environ, "REUNITE_MODELS": str(models_dir), "HOME": str(home)}


def run_scan_cli(args: list[str], models_dir: Path, home: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(scan_cmd(*args), env=scan_env(models_dir, home), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def results_of(out: Path) -> dict[str, object]:
    """What must not depend on how the scan ran: events, tracks, faces, identities."""
    res: dict[str, object] = {"events": json.loads((out / "events.json").read_text())}
    for p in sorted((out / "sources").glob("*/tracks.jsonl")):
        res[p.relative_to(out).as_posix()] = p.read_text()
    for p in sorted((out / "sources").glob("*/faces.json")):
        res[p.relative_to(out).as_posix()] = json.loads(p.read_text())
    res["identities"] = json.loads((out / "identities.json").read_text())
    return res


@pytest.fixture(scope="session")
def baseline(batch_dir, models_dir, tmp_path_factory) -> tuple[Path, float]:
    """(DIR, seconds) of one uninterrupted sequential scan of the batch."""
    import time

    root = tmp_path_factory.mktemp("baseline")
    t = time.monotonic()
    r = run_scan_cli([str(batch_dir), "--out", str(root / "out")], models_dir, root / "home")
    took = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    events = json.loads((root / "out" / "events.json").read_text())["events"]
    assert [e["type"] for e in events].count("carry") == 1, events
    return root / "out", took
