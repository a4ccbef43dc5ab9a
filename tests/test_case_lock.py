"""One writer at a time in a case folder (pipeline/case_lock.py), through the CLI.

The other writer is a real second process holding the folder's lock as a scan does
(``hold_case``), so each test controls exactly when it holds and lets go; a real scan racing a
real scan is in tests/batch/test_busy.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from cli import main
from pipeline.case_lock import LOCK_NAME
from tests.media import write_clip

ROOT = Path(__file__).resolve().parents[1]

_HOLD = """
import sys
from pathlib import Path
from pipeline.case_lock import hold_case
with hold_case(Path(sys.argv[1]), ["reunite", "scan", "--out", sys.argv[1]]):
    print("held", flush=True)
    sys.stdin.read()
"""


def hold(out: Path) -> subprocess.Popen:
    """Another process holding ``out`` until its stdin is closed (or it is killed)."""
    p = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], cwd=ROOT, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == "held"
    return p


def let_go(p: subprocess.Popen) -> None:
    p.stdin.close()
    assert p.wait(timeout=30) == 0


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_scan_into_a_folder_being_written_is_refused_and_removes_nothing(tmp_path, models_env):
    clip = write_clip(tmp_path / "cam1.mp4", [i / 10 for i in range(10)])
    out = tmp_path / "out"
    out.mkdir()
    # what a running scan has half-written: a scan starting here would remove it as stale
    writing = out / ".events.json.k2j4.part"
    writing.write_text("{")
    holder = hold(out)
    try:
        r = cli("scan", "--quiet", str(clip), "--out", str(out))
        assert r.exit_code == 2, r.output
        assert f"is in use by another reunite command (pid {holder.pid} on " in r.output
        assert "reunite scan --out" in r.output and len(r.output.strip().splitlines()) == 1
        assert writing.read_text() == "{"
        assert not (out / "manifest.json").exists() and not (out / "case.sqlite").exists()
    finally:
        let_go(holder)
    r = cli("scan", "--quiet", str(clip), "--out", str(out))
    assert r.exit_code == 0, r.output
    assert not writing.exists()  # stale now: its writer is gone
    assert f"pid {holder.pid} " not in (out / LOCK_NAME).read_text()


def test_a_killed_writer_leaves_the_folder_free(tmp_path, models_env):
    clip = write_clip(tmp_path / "cam1.mp4", [i / 10 for i in range(10)])
    out = tmp_path / "out"
    out.mkdir()
    holder = hold(out)
    holder.kill()
    holder.wait(timeout=30)
    r = cli("scan", "--quiet", str(clip), "--out", str(out))
    assert r.exit_code == 0, r.output


def test_verify_and_report_decline_a_folder_being_written(tmp_path, models_env):
    clip = write_clip(tmp_path / "cam1.mp4", [i / 10 for i in range(10)])
    out = tmp_path / "out"
    assert cli("scan", "--quiet", str(clip), "--out", str(out)).exit_code == 0
    holder = hold(out)
    try:
        for command in ("verify", "report"):
            r = cli(command, str(out))
            assert r.exit_code == 2, (command, r.output)
            assert f"is in use by another reunite command (pid {holder.pid} on " in r.output
    finally:
        let_go(holder)
    assert cli("report", str(out)).exit_code == 0
    r = cli("verify", str(out))
    assert r.exit_code == 0 and "all match the manifest" in r.output


def test_verify_changes_nothing_in_the_folder(tmp_path, models_env):
    clip = write_clip(tmp_path / "cam1.mp4", [i / 10 for i in range(10)])
    out = tmp_path / "out"
    assert cli("scan", "--quiet", str(clip), "--out", str(out)).exit_code == 0
    (out / LOCK_NAME).unlink()  # a folder as handed over, without the lock file

    def state() -> dict[str, tuple[int, int]]:
        return {p.relative_to(out).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
                for p in out.rglob("*")}

    before = state()
    assert cli("verify", str(out)).exit_code == 0
    assert state() == before


def test_the_lock_holds_on_a_full_disk_without_its_holder_line(tmp_path, monkeypatch):
    import errno
    import os

    from pipeline.case_lock import hold_case

    def full(*_a):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    check = ("import sys; from pathlib import Path; from pipeline.case_lock import check_not_busy\n"
             "try:\n    check_not_busy(Path(sys.argv[1]))\nexcept Exception as e:\n    print(e)")
    with hold_case(tmp_path, ["reunite", "scan"]):
        r = subprocess.run([sys.executable, "-c", check, str(tmp_path)], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert "is in use by another reunite command (holder unknown)" in r.stdout, r.stdout + r.stderr
