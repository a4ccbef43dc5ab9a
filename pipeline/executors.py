"""Where sources are processed: in the driver, in worker processes, or as Ray tasks.

Every executor runs the same :class:`Worker` (one model load per worker, stage reuse from the
case store read-only) and hands each :class:`~pipeline.runner.SourceResult` to the driver's
``on_result`` as it finishes; the driver alone writes the store, events.json and the manifest.
Results are put back in input order by the driver, so the outputs do not depend on which
worker finished first.

- ``local``, 1 worker: in the driver's process (progress bars, plain tracebacks).
- ``local``, N workers: ``pebble`` process pool (spawned, not forked: the models' thread pools
  do not survive a fork). A worker that dies (a decoder crash, the OOM killer) fails only the
  file it held, with one line; the pool starts a new worker and the batch goes on.
- ``ray``: one actor per worker on an existing cluster (``--ray-address``) or a local
  instance; a dead actor likewise fails its file only and is replaced. The output folder and
  the case store must be on storage every node sees.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Config
from pipeline.inputs import display_name, safe_name
from pipeline.models import ModelIds, Models
from pipeline.runner import SourceResult, process_source
from pipeline.store import StoreReader

OnResult = Callable[["Job", SourceResult], None]


@dataclass(frozen=True)
class Job:
    """One input of the batch: its place in the input order and its folder-name suffix."""

    position: int
    path: Path
    slug_suffix: int = 1


def make_jobs(files: Sequence[Path]) -> list[Job]:
    """Number the inputs; inputs whose names fold to the same folder stem get suffixes 2, 3...
    in input order, so their folders differ whichever worker runs first (and on a resume)."""
    seen: dict[str, int] = {}
    jobs = []
    for pos, p in enumerate(files):
        stem = safe_name(p.stem)
        seen[stem] = seen.get(stem, 0) + 1
        jobs.append(Job(pos, Path(p), seen[stem]))
    return jobs


class Worker:
    """Processes jobs; built once per worker process / actor (loads its models on first use).

    Args:
        cfg, ids: the resolved config and model identities (from the driver).
        out_dir: the scan's output folder.
        store_path: the case store to reuse stage outputs from (read-only here).
        detector_factory / faces_factory: see :class:`~pipeline.models.Models`.
    """

    def __init__(self, cfg: Config, ids: ModelIds, out_dir: str | Path, store_path: str | Path | None,
                 detector_factory: Callable[[], Any] | None = None,
                 faces_factory: Callable[[], Any] | None = None) -> None:
        os.umask(0o077)  # a worker on another node did not inherit the driver's
        _one_opencv_thread()
        self.cfg, self.out_dir = cfg, Path(out_dir)
        self.models = Models(cfg, ids, detector_factory, faces_factory)
        self.store = StoreReader(store_path) if store_path is not None else None

    def run(self, job: Job, on_start: Callable[[Any], None] | None = None,
            on_frame: Callable[[Any], None] | None = None) -> SourceResult:
        return process_source(job.path, self.out_dir, self.cfg, self.models, job.slug_suffix,
                              self.store, on_start, on_frame)


def _one_opencv_thread() -> None:
    """OpenCV's own thread pool off in the workers (unless OPENCV_FOR_THREADS_NUM says otherwise).

    The pass already spreads over the cores (libav's frame threads, the detector's lanes,
    worker processes), and OpenCV's calls here are small (the gate's grey copies, letterboxes,
    head crops). Its pool's extra thread spins (sched_yield) after each parallel call: on the
    sparse 10 min file (bench/speed.py) it took 0.6 s of system CPU a scan. With one thread,
    five scans each, alternating: system CPU 1.28 -> 0.69 s, wall median 5.79 -> 5.58 s; on the
    1080p file (3 each) the gate 1.58 -> 1.18 s, wall 18.3 -> 18.1 s. OpenCV's results do not
    depend on its threads (tracks, faces and MOT files compared byte for byte)."""
    if "OPENCV_FOR_THREADS_NUM" not in os.environ:
        import cv2

        cv2.setNumThreads(1)


def died(job: Job, how: str) -> SourceResult:
    """The result of a file whose worker died under it."""
    return SourceResult(path=str(job.path), error=(
        f"{display_name(job.path)}: the worker processing it died ({how}); the rest of the "
        "batch went on, and a rerun retries it"))


def run_local(jobs: Sequence[Job], worker: Worker, on_result: OnResult,
              progress: Callable[[Path], Any] | None = None) -> None:
    """One job after another in this process."""
    for job in jobs:
        if progress is not None:
            with progress(job.path) as bar:
                r = worker.run(job, bar.start, bar.frame)
        else:
            r = worker.run(job)
        on_result(job, r)


# -- worker processes ---------------------------------------------------------------------------

_WORKER: Worker | None = None


def _init_process(args: tuple[Any, ...]) -> None:
    global _WORKER
    # ^C reaches the whole process group: the driver decides, workers do not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    _WORKER = Worker(*args)


def _die_with_parent() -> None:
    """Linux: be killed when the driver dies (``kill -9``), so no orphan worker goes on
    writing into the output folder while the resumed scan does."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the driver died before the line above ran
            os._exit(1)


def _run_in_process(job: Job) -> SourceResult:
    assert _WORKER is not None
    return _WORKER.run(job)


_POOL_RESTARTS = 2
# seconds between checks that the pool is still alive while no file finishes
_POOL_CHECK_S = 1.0


def run_processes(jobs: Sequence[Job], n: int, worker_args: tuple[Any, ...],
                  on_result: OnResult) -> None:
    """``n`` spawned worker processes; a dead worker fails only its file.

    A worker that dies holding no file (at start-up, loading models; or between files) leaves
    pebble no task to blame, and it breaks the whole pool. The files not finished then go to a
    fresh pool, up to ``_POOL_RESTARTS`` times, and after that each fails with one line.
    """
    todo = list(jobs)
    for _ in range(_POOL_RESTARTS + 1):
        todo = _run_pool(todo, n, worker_args, on_result)
        if not todo:
            return
    for job in todo:
        on_result(job, died(job, "the worker processes kept dying before they could take it"))


def _run_pool(jobs: Sequence[Job], n: int, worker_args: tuple[Any, ...],
              on_result: OnResult) -> list[Job]:
    """Run ``jobs`` in one pool; returns the ones not finished when the pool broke ([]: all)."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    from pebble import ProcessExpired, ProcessPool

    pool = ProcessPool(max_workers=n, initializer=_init_process, initargs=(worker_args,),
                       context=multiprocessing.get_context("spawn"))
    finished: set[int] = set()

    def unfinished() -> list[Job]:
        pool.stop()
        pool.join()
        return [j for j in jobs if j.position not in finished]

    try:
        futures = {pool.schedule(_run_in_process, args=(job,)): job for job in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=_POOL_CHECK_S, return_when=FIRST_COMPLETED)
            if not done and not pool.active:
                # pebble's threads have ended (the pool broke) with futures left pending: seen
                # once, a scan hung for good after a worker was killed while starting (its
                # threads gone, the other worker waiting for a task); those files go to a
                # fresh pool like the ones failed with BrokenProcessPool
                return unfinished()
            broken = False
            for fut in done:
                job = futures[fut]
                try:
                    r = fut.result()
                except ProcessExpired as exc:
                    r = died(job, _exit_description(exc.exitcode))
                except BrokenProcessPool:
                    broken = True  # the files finished beside it are still kept
                    continue
                except BaseException as exc:
                    # A bug (or a full disk) in a worker: show the worker's own traceback.
                    tb = getattr(exc, "traceback", None)
                    if tb:
                        print(f"reunite: in the worker processing {display_name(job.path)}:\n{tb}",
                              file=sys.stderr)
                    raise
                on_result(job, r)
                finished.add(job.position)
            if broken:
                return unfinished()
    except BaseException:
        pool.stop()
        pool.join()
        raise
    pool.close()
    pool.join()
    return []


def _exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


# -- Ray ----------------------------------------------------------------------------------------

class _RayWorker:
    """The Ray actor: a :class:`Worker` living in a Ray worker process."""

    def __init__(self, *args: Any) -> None:
        self.worker = Worker(*args)

    def run(self, job: Job) -> SourceResult:
        return self.worker.run(job)


def run_ray(jobs: Sequence[Job], n: int | None, address: str | None,
            worker_args: tuple[Any, ...], on_result: OnResult) -> dict[str, Any]:
    """Run the jobs on Ray actors; returns what the manifest records about the cluster.

    Args:
        n: actors (workers); None = one per CPU of the cluster.
        address: an existing cluster (``auto``, ``ray://host:10001``, ``host:6379``); None
            starts a local instance with ``n`` CPUs for this scan and stops it afterwards.
    """
    import logging

    import ray
    from ray.exceptions import ActorDiedError, RayActorError, WorkerCrashedError

    started_here = not ray.is_initialized()
    if started_here:
        on_term = signal.getsignal(signal.SIGTERM)
        ray.init(address=address, num_cpus=n if address is None else None,
                 include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        if callable(on_term):
            # ray.init puts its own SIGTERM handler in (sys.exit); the caller's (the CLI's:
            # stop as Ctrl-C does) goes back, and either way ray.shutdown below runs
            signal.signal(signal.SIGTERM, on_term)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        n_actors = max(1, min(n or cpus, len(jobs) or 1))
        actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_RayWorker)
        actors = [actor_cls.remote(*worker_args) for _ in range(n_actors)]
        queue = list(jobs)
        pending: dict[Any, tuple[Job, Any]] = {}

        def submit(actor: Any) -> None:
            if queue:
                job = queue.pop(0)
                pending[actor.run.remote(job)] = (job, actor)

        for a in actors:
            submit(a)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job, actor = pending.pop(done[0])
            try:
                r = ray.get(done[0])
            except (ActorDiedError, RayActorError, WorkerCrashedError) as exc:
                r = died(job, f"Ray actor lost: {type(exc).__name__}")
                ray.kill(actor, no_restart=True)
                actor = actor_cls.remote(*worker_args)
            on_result(job, r)
            submit(actor)
        return {"address": address or "local instance", "cpus": cpus, "actors": n_actors,
                "ray": ray.__version__}
    finally:
        if started_here:
            ray.shutdown()
