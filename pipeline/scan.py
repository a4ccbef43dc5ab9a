"""The batch: expand inputs, load the detector once, process each source, write the manifest.

One source failing never stops the batch. The manifest is rewritten (atomically) after every
source with ``complete: false``, so an interrupted batch still says what was done; the final
write adds the sha256 of every output and ``complete: true``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from detectors.base import inference_threads
from pipeline import __version__
from pipeline.case_lock import hold_case
from pipeline.config import Config
from pipeline.errors import ReuniteError
from pipeline.inputs import InputSet, display_name, expand_inputs, one_line
from pipeline.manifest import hash_outputs, software_versions
from pipeline.outputs.atomic import write_json_atomic
from pipeline.outputs.deliver import deliver_outputs, stored_items
from pipeline.memory import release_free_memory
from pipeline.outputs.face_reports import copy_reference_thumbnails, write_face_reports
from pipeline.executors import Job, Worker, make_jobs, run_local, run_processes, run_ray
from pipeline.models import resolve_model_ids
from pipeline.store import STORE_NAME, CaseStore
from pipeline.watchlist import load_watchlist
from pipeline.runner import SourceResult

MANIFEST = "manifest.json"
EVENTS = "events.json"
MATCHES = "matches.json"


def collect_events(results: list[SourceResult]) -> list[dict[str, Any]]:
    """All sources' events in one list (ARCHITECTURE.md's contract), highest score first.

    ``clip`` and ``thumbnail`` are null until the render pass cuts per-event clips.
    """
    out: list[dict[str, Any]] = []
    for r in results:
        for k, ev in enumerate(r.events, 1):
            out.append({
                "id": f"{r.slug}-e{k}",
                **{key: ev[key] for key in ("type", "source")},
                "source_sha256": r.sha256_before,
                **{key: ev[key] for key in ev if key not in ("type", "source")},
                "clip": None,
                "thumbnail": None,
                "annotated_video": r.outputs.get("annotated_video"),
            })
    return sorted(out, key=lambda e: (-e["score"], e["source"], e["start_s"]))


class UsageError(ReuniteError):
    """Bad command-line use (exit 2)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def refuse_inside_inputs(option: str, path: Path, inputs: list[str]) -> None:
    """Raise :class:`UsageError` when ``path`` lies inside (or is) a folder being scanned:
    writing there would write beside the originals."""
    target = path.resolve()
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            d = p.resolve()
            if target == d or d in target.parents:
                raise UsageError(
                    f"{option} {display_name(path)} is inside the input folder {display_name(raw)}: "
                    "outputs must never be written beside the originals"
                )


def prepare_out_dir(out_dir: Path, inputs: list[str]) -> None:
    """Create the output folder private (0700) and refuse one inside an input folder.

    Raises:
        UsageError: the output folder lies inside (or is) a folder being scanned, which would
            write beside the originals.
    """
    refuse_inside_inputs("--out", out_dir, inputs)
    if not out_dir.exists():
        try:
            out_dir.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise UsageError(f"--out {display_name(out_dir)}: cannot create ({exc.strerror or exc})") from None
        os.chmod(out_dir, 0o700)
    elif not out_dir.is_dir():
        raise UsageError(f"--out {display_name(out_dir)} exists and is not a folder")


def clean_stale_parts(out_dir: Path) -> int:
    """Remove temporary files a killed scan left (``.NAME.*.part``, see outputs.atomic); no
    final file is ever half-written, so these are all a kill can leave. Returns the count."""
    n = 0
    for p in out_dir.rglob(".*.part"):
        if p.is_file() and not p.is_symlink():
            p.unlink()
            n += 1
    return n


@dataclass
class Execution:
    """How the batch runs: ``local`` (1 worker: in this process; N: worker processes) or
    ``ray`` (actors on ``ray_address``, or a local Ray instance when None)."""

    executor: str = "local"
    workers: int | None = 1
    ray_address: str | None = None


def run_scan(
    inputs: list[str],
    out_dir: Path,
    cfg: Config,
    detector_factory: Callable[[], Any] | None = None,
    argv: list[str] | None = None,
    progress: Callable[[Path], Any] | None = None,
    report_line: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
    face_models_factory: Callable[[], Any] | None = None,
    watchlist: Path | None = None,
    store_path: Path | None = None,
    execution: Execution | None = None,
) -> tuple[dict[str, Any], int]:
    """Scan every input; return the manifest and the exit code (0 all ok, 1 some failed).

    Args:
        inputs: files or folders.
        out_dir: output folder (created 0700).
        cfg: the resolved configuration.
        detector_factory: builds the person detector for an in-process run (default: from
            ``cfg``); worker processes and Ray actors always build it from ``cfg``.
        argv: the command line, recorded in the manifest.
        progress: given a path, returns a context manager with ``start(source)`` and
            ``frame(frame)`` callbacks (a progress bar), or None. In-process runs only.
        report_line: where one-line per-file problems go.
        face_models_factory: like ``detector_factory``, for the face models.
        watchlist: a list folder written by ``reunite enroll``; matches go to matches.json.
        store_path: the case store (default ``out_dir/case.sqlite``): stage outputs found
            there are reused, new ones are added.
        execution: executor and workers (default: one worker, in this process).

    Raises:
        UsageError: a bad ``--out``.
        CaseBusyError: another reunite command is writing ``out_dir`` (pipeline.case_lock).
        ModelError: a model is missing or fails its checksum.
        StoreError: the case store cannot be used.
        OutputError: an output cannot be written (disk full): the batch stops; files under
            their final names are complete and the last manifest says what was done.
    """
    # Everything the scan creates (folders, outputs, the encoder's files) is private: 0700/0600.
    umask = os.umask(0o077)
    try:
        prepare_out_dir(out_dir, inputs)

        def line(text: str) -> None:
            report_line(one_line(text))

        with hold_case(out_dir, argv, warn=line):
            return _run_scan(inputs, out_dir, cfg, detector_factory, argv, progress, line,
                             face_models_factory, watchlist, store_path, execution or Execution())
    finally:
        os.umask(umask)


def _with_threads(cfg: Config, execution: Execution, local_workers: int,
                  desc: dict[str, Any]) -> Config:
    """The workers' config: ``detector.threads`` 0 (auto) resolved for how many detectors share
    this machine (one per local worker; a Ray actor is given one CPU, so one thread, and one
    decoder thread), and the numbers recorded in the manifest's ``run.execution``
    (``decode_threads`` 0: chosen per file, pipeline.ingest.decoder_threads)."""
    ray = execution.executor == "ray"
    out = cfg.model_copy(deep=True)
    if not cfg.detector.threads:
        out.detector.threads = 1 if ray else inference_threads(0, local_workers)
    if ray and not cfg.ingest.decode_threads:
        out.ingest.decode_threads = 1
    desc["detector_threads"] = out.detector.threads
    desc["decode_threads"] = out.ingest.decode_threads
    return out


def _run_scan(
    inputs: list[str],
    out_dir: Path,
    cfg: Config,
    detector_factory: Callable[[], Any] | None,
    argv: list[str] | None,
    progress: Callable[[Path], Any] | None,
    report_line: Callable[[str], None],
    face_models_factory: Callable[[], Any] | None,
    watchlist: Path | None,
    store_path: Path | None,
    execution: Execution,
) -> tuple[dict[str, Any], int]:
    if store_path is not None:
        refuse_inside_inputs("--store", store_path, inputs)
    started, t0 = _now(), time.perf_counter()
    stale = clean_stale_parts(out_dir)
    found: InputSet = expand_inputs(inputs, exclude=out_dir)
    if watchlist is not None and not cfg.faces.enabled:
        raise UsageError("--watchlist needs the face stage (faces.enabled=true)")
    ids = resolve_model_ids(cfg)
    wl = load_watchlist(watchlist, cfg.faces.embedder) if watchlist is not None else None
    store = CaseStore(store_path or out_dir / STORE_NAME)
    executor_desc: dict[str, Any] = {"executor": execution.executor, "workers": execution.workers}
    run_id = store.start_run(out_dir, argv or [], cfg.hash(), cfg.to_dict(), execution.executor)
    manifest: dict[str, Any] = {
        "tool": "reunite",
        "version": __version__,
        "complete": False,
        "run": {"started_utc": started, "command": argv or [], "cwd": os.getcwd(),
                "execution": executor_desc, "stale_temporary_files_removed": stale},
        "software": software_versions(cfg.models.cache_dir),
        "models": {"person_detector": ids.person, **({"faces": ids.faces} if ids.faces else {})},
        "config": {"hash": cfg.hash(), "resolved": cfg.to_dict()},
        "store": {"path": str(store.path), "run_id": run_id},
        "inputs": [],
        "skipped": found.skipped,
    }
    if wl is not None:
        manifest["watchlist"] = {"path": str(watchlist), "subjects": len(wl["subjects"]),
                                 "embedder": wl["embedder"], "sha256": wl["file_sha256"]}
    refs = copy_reference_thumbnails(wl, out_dir) if wl is not None else {}
    missing: list[SourceResult] = []
    for raw in found.missing:
        r = SourceResult(path=raw, error=f"{display_name(raw)}: file not found")
        missing.append(r)
        report_line(f"reunite: FAILED {r.error}")
    done: dict[int, SourceResult] = {}

    def ordered() -> list[SourceResult]:
        return missing + [done[k] for k in sorted(done)]

    def on_result(job: Job, r: SourceResult) -> None:
        # The stage outputs are committed before anything points at them: a kill after this
        # line resumes with this file reused, a kill before it recomputes it.
        try:
            store.save_source(run_id, job.position, r, r.new_stages, r.artifacts, out_dir)
        finally:
            r.drop_spilled()  # stored now, or a rerun computes them again
        r.new_stages, r.artifacts = [], []
        release_free_memory()  # what the source held, before the next one or the render pass
        done[job.position] = r
        if r.status != "ok":
            report_line(f"reunite: {r.status.upper()} {r.error}")
        elif r.decode and r.decode["decode_faults"]:
            d = r.decode
            report_line(
                f"reunite: FAULTS {display_name(r.path)}: decoded to the end with {d['decode_faults']} decode "
                f"fault(s) (first: {d['fault_messages'][0]})"
            )
        results = ordered()
        manifest["inputs"] = [x.to_dict() for x in results]
        write_json_atomic(out_dir / EVENTS, {"events": collect_events(results)})
        write_json_atomic(out_dir / MANIFEST, manifest)

    jobs = make_jobs(found.files)
    local_workers = min(execution.workers or 1, len(jobs)) if execution.executor != "ray" else 1
    worker_args = (_with_threads(cfg, execution, local_workers, executor_desc), ids, out_dir, store.path)
    if execution.executor == "ray":
        executor_desc.update(run_ray(jobs, execution.workers, execution.ray_address,
                                     worker_args, on_result))
    elif (execution.workers or 1) > 1 and len(jobs) > 1:
        run_processes(jobs, min(execution.workers or 1, len(jobs)), worker_args, on_result)
    else:
        worker = Worker(*worker_args, detector_factory, face_models_factory)
        try:
            run_local(jobs, worker, on_result, progress)
        finally:
            if worker.store is not None:
                worker.store.close()
    results = ordered()
    write_json_atomic(out_dir / EVENTS, {"events": collect_events(results)})
    face_counts = (write_face_reports(results, out_dir, cfg.faces, ids.faces["match_threshold_cosine"],
                                      wl, refs)
                   if ids.faces is not None else {})
    n = {s: sum(r.status == s for r in results) for s in ("ok", "partial", "failed")}
    manifest["inputs"] = [x.to_dict() for x in results]
    manifest["summary"] = {
        "inputs": len(results), **n, "skipped_non_video": len(found.skipped),
        "events": sum(len(r.events) for r in results),
        "reused": {stage: sum(bool(r.stages.get(stage, {}).get("reused")) for r in results)
                   for stage in ("analysis", "events", "faces", "annotated_video")},
    }
    if ids.faces is not None:
        manifest["summary"]["faces"] = {
            k: sum((r.faces or {}).get(k, 0) for r in results)
            for k in ("tracks", "with_face", "low_quality", "skipped_no_face", "faces_found")
        } | face_counts
    deliver_outputs(out_dir, cfg, manifest, report_line, store)  # clips, sheets, CSVs, report.html
    store.save_findings(run_id, stored_items(out_dir, EVENTS, "events"),
                        stored_items(out_dir, MATCHES, "matches"))
    manifest["run"]["finished_utc"] = _now()
    manifest["run"]["elapsed_s"] = round(time.perf_counter() - t0, 3)
    manifest["outputs"] = hash_outputs(out_dir, exclude={MANIFEST, STORE_NAME, STORE_NAME + "-wal",
                                                         STORE_NAME + "-shm"})
    manifest["complete"] = True
    write_json_atomic(out_dir / MANIFEST, manifest)
    store.finish_run(run_id, manifest["summary"])
    store.close()
    return manifest, 0 if n["partial"] == 0 and n["failed"] == 0 else 1

