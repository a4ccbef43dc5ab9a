"""Ctrl-C or a scheduler's SIGTERM in the middle of a batch: one line saying what is kept and
how to resume, exit status 128 + the signal, no temporary file left; the same command then
finishes with what an uninterrupted scan gives."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from pipeline.case_lock import LOCK_NAME
from tests.batch.conftest import ROOT, results_of, run_scan_cli, scan_cmd, scan_env


@pytest.mark.parametrize("sig, code, said", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "stopped (SIGTERM)")])
def test_a_stopped_scan_says_so_and_resumes(sig, code, said, batch_dir, baseline, models_dir,
                                            tmp_path):
    out, home = tmp_path / "out", tmp_path / "home"
    args = [str(batch_dir), "--out", str(out)]
    p = subprocess.Popen(scan_cmd(*args), env=scan_env(models_dir, home), cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lock, deadline = out / LOCK_NAME, time.monotonic() + 120
    # the scan holds its folder once its imports are done: the signal lands in the batch
    while not (lock.exists() and lock.read_text().startswith(f"pid {p.pid} ")):
        assert p.poll() is None and time.monotonic() < deadline, "the scan never started"
        time.sleep(0.05)
    time.sleep(min(2.0, baseline[1] / 4))
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    if p.returncode == 0:
        pytest.fail(f"the scan finished before the signal ({baseline[1]:.1f} s uninterrupted)")
    assert p.returncode == code, err
    assert err.strip().splitlines() == [
        f"reunite: error: {said}; the files finished are kept in {out} (its manifest.json lists "
        "them, marked incomplete); run the same command again to resume"], err
    assert not [q for q in out.rglob("*") if q.name.endswith(".part")]
    verify = scan_cmd()[:3] + ["verify", str(out)]
    v = subprocess.run(verify, cwd=ROOT, capture_output=True, text=True,
                       env=scan_env(models_dir, home))
    assert v.returncode == 2, v.stdout + v.stderr
    assert "the scan into this folder did not finish" in v.stderr, v.stderr
    r = run_scan_cli(args, models_dir, home)
    assert r.returncode == 0, r.stderr
    assert results_of(out) == results_of(baseline[0])
    v = subprocess.run(verify, cwd=ROOT, capture_output=True, text=True,
                       env=scan_env(models_dir, home))
    assert v.returncode == 0, v.stdout + v.stderr
