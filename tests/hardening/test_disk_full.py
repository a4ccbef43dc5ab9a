"""Output disk full: one clear line, exit 1, no half-written file under a final name, temporary
names cleaned up, and a rerun into the same folder completes once space is back.

Two ways to fill the disk: a real 1 MiB tmpfs (needs root and mount; skipped otherwise), and an
ENOSPC injected into the atomic writer's fsync (runs everywhere)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from tests.media import write_clip

ONE_LINE_ENOSPC = "No space left on device"


def _noise_clip(path: Path, n: int = 12) -> Path:
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (240, 320, 3), np.uint8) for _ in range(n)]
    return write_clip(path, [i / 10 for i in range(n)], size=(320, 240), frames=frames)


def _scan(inputs: list[Path], out: Path, *extra: str):
    return CliRunner().invoke(main, ["scan", "--quiet", *map(str, inputs), "--out", str(out),
                                     "--set", "detector.tiling=off",
                                     # the annotated video is the biggest writer
                                     "--set", "output.annotated_video=always", *extra])


def _assert_no_half_written(out: Path) -> None:
    """Nothing under a temporary name; every file under a final name is whole."""
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or ".part" in p.name]
    assert not leftovers, leftovers
    for p in out.rglob("*"):
        if p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".jsonl":
            for line in p.read_text().splitlines():
                json.loads(line)
        elif p.suffix == ".mp4":
            with av.open(str(p)) as c:
                assert sum(1 for _ in c.decode(video=0)) > 0


def _error_lines(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.startswith("reunite: error: ")]


def _check_rerun(inputs: list[Path], out: Path, *extra: str) -> None:
    r = _scan(inputs, out, *extra)
    assert r.exit_code == 0, r.output
    m = json.loads((out / "manifest.json").read_text())
    assert m["complete"] is True and m["summary"]["ok"] == len(inputs)
    for rel, digest in m["outputs"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest, rel
    _assert_no_half_written(out)


@pytest.fixture
def tmpfs(tmp_path):
    """A 1 MiB tmpfs: a real disk that fills up (root only)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        # lazily if busy (a file of the scan may still be open): never leave the mount behind
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_real_disk_full_then_rerun(tmp_path, models_env, tmpfs):
    a = write_clip(tmp_path / "a_small.mp4", [i / 10 for i in range(5)])
    b = _noise_clip(tmp_path / "b_noise.mp4")
    out = tmpfs / "out"
    extra = ("--set", "ingest.analysis_fps=0", "--set", "output.video_crf=0")
    r = _scan([a, b], out, *extra)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    errors = _error_lines(r.output)
    assert len(errors) == 1 and ONE_LINE_ENOSPC in errors[0], r.output
    assert errors[0].startswith("reunite: error: cannot write ") and "disk full" in errors[0]
    assert errors[0].endswith("annotated.mp4: No space left on device (disk full; files under "
                              "their final names are complete, rerun when space is back)")
    _assert_no_half_written(out)
    m = json.loads((out / "manifest.json").read_text())
    assert m["complete"] is False  # the last manifest that fit says the batch did not finish
    assert [Path(i["path"]).name for i in m["inputs"]] == ["a_small.mp4"]
    subprocess.run(["mount", "-o", "remount,size=64m", str(tmpfs)], check=True)
    _check_rerun([a, b], out, *extra)


def test_injected_enospc_in_atomic_writer_then_rerun(tmp_path, models_env, monkeypatch):
    clips = [write_clip(tmp_path / f"{c}.mp4", [i / 10 for i in range(5)]) for c in "abc"]
    out = tmp_path / "out"
    real_fsync = os.fsync
    full = {"now": False}

    def fsync_fills_disk(fd: int) -> None:
        # The disk fills at the second source's first output (its folder is sources/b-...),
        # and stays full: the manifest rewrite after it fails too.
        target = os.readlink(f"/proc/self/fd/{fd}")
        if "/sources/b" in target:
            full["now"] = True
        if full["now"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr("pipeline.outputs.atomic.os.fsync", fsync_fills_disk)
    r = _scan(clips, out)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    errors = _error_lines(r.output)
    assert len(errors) == 1, r.output
    assert errors[0].startswith("reunite: error: cannot write ") and ONE_LINE_ENOSPC in errors[0]
    assert "disk full" in errors[0] and "rerun" in errors[0]
    _assert_no_half_written(out)
    m = json.loads((out / "manifest.json").read_text())
    assert m["complete"] is False and [Path(i["path"]).name for i in m["inputs"]] == ["a.mp4"]
    monkeypatch.setattr("pipeline.outputs.atomic.os.fsync", real_fsync)
    _check_rerun(clips, out)


def test_encoder_hits_enospc_then_rerun(tmp_path, models_env):
    """The real encoder writing into /dev/full (the kernel answers every write with ENOSPC):
    its temporary file is made a link to /dev/full before the scan. Runs without root."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    from pipeline.originals import hash_original
    from pipeline.inputs import source_slug

    clip = write_clip(tmp_path / "a.mp4", [i / 10 for i in range(5)])
    out = tmp_path / "out"
    src_dir = out / "sources" / source_slug(clip, hash_original(clip))
    src_dir.mkdir(parents=True, mode=0o700)
    os.chmod(out, 0o700)
    os.symlink("/dev/full", src_dir / ".annotated.mp4.part.mp4")
    r = _scan([clip], out)
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    errors = _error_lines(r.output)
    assert len(errors) == 1 and errors[0].startswith("reunite: error: cannot write "), r.output
    assert errors[0].endswith("annotated.mp4: No space left on device (disk full; files under "
                              "their final names are complete, rerun when space is back)")
    _assert_no_half_written(out)
    assert not (src_dir / "annotated.mp4").exists()
    _check_rerun([clip], out)
