"""--workers N: the same results as one worker; a worker dying under a file fails that file
only (ISSUE 6: parallel on one machine)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.batch.conftest import ROOT, results_of, run_scan_cli, scan_cmd, scan_env


def test_two_workers_give_the_same_results(batch_dir, baseline, models_dir, tmp_path):
    base_out, _ = baseline
    out = tmp_path / "out"
    r = run_scan_cli([str(batch_dir), "--out", str(out), "--workers", "2"], models_dir,
                     tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert results_of(out) == results_of(base_out)
    m = json.loads((out / "manifest.json").read_text())
    assert m["run"]["execution"] == {"executor": "local", "workers": 2}
    assert [i["path"] for i in m["inputs"]] == sorted(str(p) for p in batch_dir.iterdir())


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _cpu_ticks(pid: int) -> int:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1
    return int(f[11]) + int(f[12])


def _busiest_worker(pid: int) -> int | None:
    """The spawned worker process using the most CPU over half a second (it holds a file)."""
    kids = [c for c in _children(pid)
            if b"multiprocessing" in Path(f"/proc/{c}/cmdline").read_bytes()]
    before = {c: _cpu_ticks(c) for c in kids}
    time.sleep(0.5)
    delta = {c: _cpu_ticks(c) - t for c, t in before.items()}
    busy = [c for c, d in delta.items() if d > 0]
    return max(busy, key=delta.get) if busy else None


def test_a_worker_killed_mid_file_fails_that_file_only(batch_dir, baseline, models_dir, tmp_path):
    base_out, _ = baseline
    out, home = tmp_path / "out", tmp_path / "home"
    args = [str(batch_dir), "--out", str(out), "--workers", "2"]
    p = subprocess.Popen(scan_cmd(*args), env=scan_env(models_dir, home), cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline and p.poll() is None:
        # wait until a worker is past its start-up and analysing (the store has a result or
        # a few seconds have passed), then crash it the way a decoder bug would
        time.sleep(2.0)
        victim = _busiest_worker(p.pid)
    assert victim is not None, "no busy worker found"
    os.kill(victim, signal.SIGSEGV)
    _, err = p.communicate(timeout=900)
    lines = [ln for ln in err.splitlines() if ln.startswith("reunite:")]
    died = [ln for ln in lines if "the worker processing it died (killed by SIGSEGV)" in ln]
    assert p.returncode == 1 and len(died) == 1, err
    assert "Traceback" not in err, err
    m = json.loads((out / "manifest.json").read_text())
    assert m["complete"] and m["summary"]["failed"] == 1 and m["summary"]["ok"] == 5, m["summary"]
    # the same command again retries the failed file and reuses the other five
    r = run_scan_cli(args, models_dir, home)
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["summary"]["reused"]["analysis"] == 5
    assert results_of(out) == results_of(base_out)
