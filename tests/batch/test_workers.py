"""--workers N: the same results as one worker; a worker dying under a file fails that file
only (ISSUE 6: parallel on one machine)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from detectors.base import inference_threads
from tests.batch.conftest import ROOT, results_of, run_scan_cli, scan_cmd, scan_env


def test_two_workers_give_the_same_results(batch_dir, baseline, models_dir, tmp_path):
    base_out, _ = baseline
    out = tmp_path / "out"
    r = run_scan_cli([str(batch_dir), "--out", str(out), "--workers", "2"], models_dir,
                     tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert results_of(out) == results_of(base_out)
    m = json.loads((out / "manifest.json").read_text())
    # detector.threads 0 (auto): the cores, shared by the two workers; decoder threads per file
    assert m["run"]["execution"] == {"executor": "local", "workers": 2,
                                     "detector_threads": inference_threads(0, 2),
                                     "decode_threads": 0}
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


def _workers(pid: int) -> list[int]:
    """The spawned worker processes of the scan ``pid`` (not multiprocessing's resource tracker)."""
    return [c for c in _children(pid)
            if b"multiprocessing.spawn" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _worker_holding_a_file(pid: int, folder: Path) -> int | None:
    """A spawned worker with one of ``folder``'s files open (analysing it), or None.

    (The busiest worker is not enough: under load it may still be loading its models.)"""
    for c in _workers(pid):
        try:
            fds = list(Path(f"/proc/{c}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd).startswith(str(folder) + os.sep):
                    return c
            except OSError:
                continue
    return None


def test_a_worker_killed_mid_file_fails_that_file_only(batch_dir, baseline, models_dir, tmp_path):
    base_out, _ = baseline
    out, home = tmp_path / "out", tmp_path / "home"
    args = [str(batch_dir), "--out", str(out), "--workers", "2"]
    p = subprocess.Popen(scan_cmd(*args), env=scan_env(models_dir, home), cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline and p.poll() is None:
        # wait until a worker holds one of the files, then crash it the way a decoder bug
        # would
        time.sleep(0.2)
        victim = _worker_holding_a_file(p.pid, batch_dir)
    assert victim is not None, "no worker holding a file found"
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


def test_a_worker_killed_while_starting_does_not_stop_the_batch(batch_dir, baseline, models_dir,
                                                                  tmp_path):
    """A worker that dies holding no file (here: while it loads its models) breaks pebble's
    pool; the files go to a fresh pool and all finish."""
    base_out, _ = baseline
    out, home = tmp_path / "out", tmp_path / "home"
    args = [str(batch_dir), "--out", str(out), "--workers", "2"]
    p = subprocess.Popen(scan_cmd(*args), env=scan_env(models_dir, home), cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while not workers and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
        workers = _workers(p.pid)
    assert workers, "no worker started"
    os.kill(workers[0], signal.SIGKILL)
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0 and "Traceback" not in err, err
    assert results_of(out) == results_of(base_out)


def test_workers_run_opencv_on_one_thread_unless_told_otherwise(monkeypatch, tmp_path):
    # OpenCV's pool thread spins after each call; the pass has its own threads (see
    # pipeline.executors._one_opencv_thread); a user's OPENCV_FOR_THREADS_NUM still wins
    import cv2

    from pipeline.config import load_config
    from pipeline.executors import Worker
    from pipeline.models import ModelIds

    cfg = load_config(None, [])
    ids = ModelIds(person={"name": "yolox_nano"}, faces=None)  # models load lazily: none here
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(2)
        monkeypatch.setenv("OPENCV_FOR_THREADS_NUM", "2")
        Worker(cfg, ids, tmp_path, None)
        assert cv2.getNumThreads() == 2
        monkeypatch.delenv("OPENCV_FOR_THREADS_NUM")
        Worker(cfg, ids, tmp_path, None)
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)


class _FakePool:
    """Stands in for pebble's ProcessPool in the driver's loop. The first one made is in the
    state once seen to hang a scan: pebble's threads ended (``active`` false) with its futures
    left pending forever. The later ones finish every file at once."""

    made: list[_FakePool] = []

    def __init__(self, **_: object) -> None:
        self.broken = not _FakePool.made
        self.scheduled: list[int] = []
        self.stopped = False
        _FakePool.made.append(self)

    def schedule(self, fn, args):  # noqa: ANN001 - pebble's signature
        from concurrent.futures import Future

        from pipeline.runner import SourceResult

        job = args[0]
        self.scheduled.append(job.position)
        fut: Future = Future()
        if not self.broken:
            fut.set_result(SourceResult(path=str(job.path), status="ok"))
        return fut

    @property
    def active(self) -> bool:
        return not self.broken and not self.stopped

    def stop(self) -> None:
        self.stopped = True

    def join(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_pool_whose_threads_ended_with_files_pending_hands_them_to_a_fresh_pool(monkeypatch):
    import threading

    import pebble

    from pipeline.executors import make_jobs, run_processes

    monkeypatch.setattr(pebble, "ProcessPool", _FakePool)
    monkeypatch.setattr(_FakePool, "made", [])
    jobs = make_jobs([Path(f"/footage/cam{k}.mp4") for k in range(3)])
    got: list[tuple[int, str]] = []
    runner = threading.Thread(
        target=run_processes, args=(jobs, 2, (), lambda job, r: got.append((job.position, r.status))),
        daemon=True)
    runner.start()
    runner.join(timeout=60)  # ~1 s: the driver checks the pool every second
    assert not runner.is_alive(), "the driver kept waiting on a pool whose threads had ended"
    first, second = _FakePool.made
    assert first.scheduled == [0, 1, 2] and first.stopped
    assert second.scheduled == [0, 1, 2]
    assert sorted(got) == [(0, "ok"), (1, "ok"), (2, "ok")]
