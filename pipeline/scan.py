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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.config import Config
from pipeline.errors import ReuniteError
from pipeline.inputs import InputSet, display_name, expand_inputs, one_line
from pipeline.manifest import hash_outputs, software_versions
from pipeline.outputs.atomic import write_json_atomic
from pipeline.outputs.deliver import deliver_outputs
from pipeline.outputs.face_reports import copy_reference_thumbnails, write_face_reports
from pipeline.watchlist import load_watchlist
from pipeline.runner import SourceResult, process_source

MANIFEST = "manifest.json"
EVENTS = "events.json"


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


def prepare_out_dir(out_dir: Path, inputs: list[str]) -> None:
    """Create the output folder private (0700) and refuse one inside an input folder.

    Raises:
        UsageError: the output folder lies inside (or is) a folder being scanned, which would
            write beside the originals.
    """
    out_abs = out_dir.resolve()
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            d = p.resolve()
            if out_abs == d or d in out_abs.parents:
                raise UsageError(
                    f"--out {display_name(out_dir)} is inside the input folder {display_name(raw)}: "
                    "outputs must never be written beside the originals"
                )
    if not out_dir.exists():
        try:
            out_dir.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise UsageError(f"--out {display_name(out_dir)}: cannot create ({exc.strerror or exc})") from None
        os.chmod(out_dir, 0o700)
    elif not out_dir.is_dir():
        raise UsageError(f"--out {display_name(out_dir)} exists and is not a folder")


def run_scan(
    inputs: list[str],
    out_dir: Path,
    cfg: Config,
    detector_factory: Callable[[], Any],
    argv: list[str] | None = None,
    progress: Callable[[Path], Any] | None = None,
    report_line: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
    face_models_factory: Callable[[], Any] | None = None,
    watchlist: Path | None = None,
) -> tuple[dict[str, Any], int]:
    """Scan every input; return the manifest and the exit code (0 all ok, 1 some failed).

    Args:
        inputs: files or folders.
        out_dir: output folder (created 0700).
        cfg: the resolved configuration.
        detector_factory: builds the person detector (loaded once for the batch).
        argv: the command line, recorded in the manifest.
        progress: given a path, returns a context manager with ``start(source)`` and
            ``frame(frame)`` callbacks (a progress bar), or None.
        report_line: where one-line per-file problems go.
        face_models_factory: builds the face models (loaded once) when ``faces.enabled``.
        watchlist: a list folder written by ``reunite enroll``; matches go to matches.json.

    Raises:
        UsageError: a bad ``--out``.
        OutputError: an output cannot be written (disk full): the batch stops; files under
            their final names are complete and the last manifest says what was done.
    """
    # Everything the scan creates (folders, outputs, the encoder's files) is private: 0700/0600.
    umask = os.umask(0o077)
    try:
        return _run_scan(inputs, out_dir, cfg, detector_factory, argv, progress,
                         lambda line: report_line(one_line(line)), face_models_factory, watchlist)
    finally:
        os.umask(umask)


def _run_scan(
    inputs: list[str],
    out_dir: Path,
    cfg: Config,
    detector_factory: Callable[[], Any],
    argv: list[str] | None,
    progress: Callable[[Path], Any] | None,
    report_line: Callable[[str], None],
    face_models_factory: Callable[[], Any] | None,
    watchlist: Path | None,
) -> tuple[dict[str, Any], int]:
    prepare_out_dir(out_dir, inputs)
    started, t0 = _now(), time.perf_counter()
    found: InputSet = expand_inputs(inputs, exclude=out_dir)
    detector = detector_factory()
    face_models = face_models_factory() if face_models_factory and cfg.faces.enabled else None
    if watchlist is not None and face_models is None:
        raise UsageError("--watchlist needs the face stage (faces.enabled=true)")
    wl = load_watchlist(watchlist, face_models.embedder.name) if watchlist is not None else None
    manifest: dict[str, Any] = {
        "tool": "reunite",
        "version": __version__,
        "complete": False,
        "run": {"started_utc": started, "command": argv or [], "cwd": os.getcwd()},
        "software": software_versions(),
        "models": {"person_detector": detector.model.manifest(),
                   **({"faces": face_models.manifest()} if face_models else {})},
        "config": {"hash": cfg.hash(), "resolved": cfg.to_dict()},
        "inputs": [],
        "skipped": found.skipped,
    }
    if wl is not None:
        manifest["watchlist"] = {"path": str(watchlist), "subjects": len(wl["subjects"]),
                                 "embedder": wl["embedder"], "sha256": wl["file_sha256"]}
    refs = copy_reference_thumbnails(wl, out_dir) if wl is not None else {}
    results: list[SourceResult] = []
    for raw in found.missing:
        r = SourceResult(path=raw, error=f"{display_name(raw)}: file not found")
        results.append(r)
        report_line(f"reunite: FAILED {r.error}")
    used_slugs: set[str] = set()
    for path in found.files:
        if progress is not None:
            with progress(path) as bar:
                r = process_source(path, out_dir, cfg, detector, bar.start, bar.frame, used_slugs,
                                   face_models=face_models)
        else:
            r = process_source(path, out_dir, cfg, detector, used_slugs=used_slugs,
                               face_models=face_models)
        results.append(r)
        if r.status != "ok":
            report_line(f"reunite: {r.status.upper()} {r.error}")
        elif r.decode and r.decode["decode_faults"]:
            d = r.decode
            report_line(
                f"reunite: FAULTS {display_name(r.path)}: decoded to the end with {d['decode_faults']} decode "
                f"fault(s) (first: {d['fault_messages'][0]})"
            )
        manifest["inputs"] = [x.to_dict() for x in results]
        write_json_atomic(out_dir / EVENTS, {"events": collect_events(results)})
        write_json_atomic(out_dir / MANIFEST, manifest)
    write_json_atomic(out_dir / EVENTS, {"events": collect_events(results)})
    face_counts = (write_face_reports(results, out_dir, cfg.faces, face_models.threshold, wl, refs)
                   if face_models is not None else {})
    n = {s: sum(r.status == s for r in results) for s in ("ok", "partial", "failed")}
    manifest["inputs"] = [x.to_dict() for x in results]
    manifest["summary"] = {
        "inputs": len(results), **n, "skipped_non_video": len(found.skipped),
        "events": sum(len(r.events) for r in results),
    }
    if face_models is not None:
        manifest["summary"]["faces"] = {
            k: sum((r.faces or {}).get(k, 0) for r in results)
            for k in ("tracks", "with_face", "low_quality", "skipped_no_face", "faces_found")
        } | face_counts
    deliver_outputs(out_dir, cfg, manifest, report_line)  # clips, sheets, CSVs, report.html
    manifest["run"]["finished_utc"] = _now()
    manifest["run"]["elapsed_s"] = round(time.perf_counter() - t0, 3)
    manifest["outputs"] = hash_outputs(out_dir, exclude={MANIFEST})
    manifest["complete"] = True
    write_json_atomic(out_dir / MANIFEST, manifest)
    return manifest, 0 if n["partial"] == 0 and n["failed"] == 0 else 1
