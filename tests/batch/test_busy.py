"""A second scan started into the folder a running scan writes is refused, and the running
scan ends as if alone (pipeline/case_lock.py). Before the lock, the second scan removed the
first one's half-written outputs as stale and both wrote the manifest."""

from __future__ import annotations

import subprocess
import time

from pipeline.case_lock import LOCK_NAME
from tests.batch.conftest import ROOT, results_of, run_scan_cli, scan_cmd, scan_env


def test_a_second_scan_into_a_running_scans_folder(batch_dir, baseline, models_dir, tmp_path):
    out, home = tmp_path / "out", tmp_path / "home"
    args = [str(batch_dir), "--out", str(out)]
    first = subprocess.Popen(scan_cmd(*args), env=scan_env(models_dir, home), cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lock, deadline = out / LOCK_NAME, time.monotonic() + 120
        while not (lock.exists() and lock.read_text().startswith(f"pid {first.pid} ")):
            assert first.poll() is None and time.monotonic() < deadline, "the scan never locked"
            time.sleep(0.05)
        second = run_scan_cli(args, models_dir, home)
        assert second.returncode == 2, second.stderr
        assert f"is in use by another reunite command (pid {first.pid} on " in second.stderr
    finally:
        _, err = first.communicate(timeout=900)
    assert first.returncode == 0, err
    assert results_of(out) == results_of(baseline[0])
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    v = subprocess.run(scan_cmd()[:3] + ["verify", str(out)], cwd=ROOT, capture_output=True,
                       text=True, env=scan_env(models_dir, home))
    assert v.returncode == 0, v.stdout + v.stderr
