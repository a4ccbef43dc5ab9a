"""Analyse one source: hash → decode (reader thread) → detect → track → age groups → events →
outputs → render pass → hash again.

Stages are steps over the frame stream, each with its own state, built once per source
(``reset`` semantics by construction): a tracker never carries ids from one file to the next.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from detectors.base import PersonDetector
from detectors.models import sha256_file
from pipeline.config import Config, config_hash
from pipeline.detect_schedule import DETECT, HOLD, SKIP, DetectionSchedule
from pipeline.errors import InputError, output_error
from pipeline.appearance import color_signatures
from pipeline.attributes import classify_tracks
from pipeline.events import find_events
from pipeline.faces import FACES_JSON, FaceCandidates, FaceTemplates, track_faces
from pipeline.ingest import VideoSource, decoder_threads
from pipeline.inner import inner_confidence
from pipeline.memory import release_free_memory
from pipeline.originals import check_regular_file, hash_original
from pipeline.inputs import display_name, one_line, source_slug
from pipeline.models import Models
from pipeline.stages import (CANDIDATES_FILE, TRACKS_FILE, analysis_key, candidates_from_stage,
                             candidates_to_stage, events_key, faces_key, tracks_from_stage,
                             tracks_to_stage)
from pipeline.store import FACES_DOC, StoreReader
from pipeline.outputs.atomic import atomic_path, write_json_atomic
from pipeline.outputs.tracks import write_mot, write_tracks_jsonl
from pipeline.outputs.render import render_annotated
from pipeline.stream import threaded
from pipeline.types import Detections, Frame, event_from_dict
from tracking import TrackHistory, build_tracker
from tracking.interpolate import GapFiller


@dataclass
class SourceResult:
    """What happened to one input; becomes its entry in the manifest.

    ``status``: ``ok`` (decoded to its end), ``partial`` (outputs written for the part that
    decoded, then the file stopped: truncated or corrupt), ``failed`` (nothing usable).
    """

    path: str
    status: str = "failed"
    error: str | None = None
    sha256_before: str | None = None
    sha256_after: str | None = None
    size_bytes: int | None = None
    mtime_ns_before: int | None = None
    mtime_ns_after: int | None = None
    slug: str | None = None
    probe: dict[str, Any] | None = None
    decode: dict[str, Any] | None = None
    n_tracks: int = 0
    n_detections: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    faces: dict[str, Any] | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    schedule: dict[str, int] = field(default_factory=dict)
    # stage -> {"key", "reused"}: what the manifest and the case store say about reuse
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # handed to the driver, never written to the manifest: (stage, key, seconds, payload,
    # files: bytes, or the path of an output file to read when storing) computed in this run,
    # and (relpath, key, sha256, meta) of files rendered in it
    new_stages: list[tuple[str, str, float, Any, dict[str, bytes | Path]]] = field(default_factory=list)
    artifacts: list[tuple[str, str, str, Any]] = field(default_factory=list)
    # stage files written to disk for the driver to store, deleted once stored (:func:`_spill`)
    spilled: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()
                if k not in ("new_stages", "artifacts", "spilled")}

    def drop_spilled(self) -> None:
        """Delete the spilled stage files (after the driver stored them)."""
        for p in self.spilled:
            p.unlink(missing_ok=True)
        self.spilled = []


class _Timer:
    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + seconds

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.totals.items()}


@contextmanager
def _spill(src_dir: Path, res: SourceResult, name: str, files: dict[str, bytes | Path]
           ) -> Iterator[BinaryIO]:
    """An open file for the stage file ``name``, hidden in the source's output folder, listed
    in ``res.spilled`` and entered in ``files`` under ``name``."""
    try:
        src_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=src_dir, prefix=f".stage-{name}.", suffix=".part")
    except OSError as exc:
        raise output_error(src_dir, exc) from None
    res.spilled.append(Path(tmp))
    files[name] = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
    except OSError as exc:
        raise output_error(Path(tmp), exc) from None


def _stat(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def process_source(
    path: Path,
    out_dir: Path,
    cfg: Config,
    models: Models,
    slug_suffix: int = 1,
    store: StoreReader | None = None,
    on_start: Callable[[VideoSource], None] | None = None,
    on_frame: Callable[[Frame], None] | None = None,
) -> SourceResult:
    """Run the stages over one file and write its per-source outputs.

    Each stage (analysis, events, faces) is first looked up in the case store under its key
    (pipeline.stages); only a missing one is computed, and what was computed is handed back in
    ``result.new_stages`` for the driver to store. User-caused problems (unreadable, not a
    video, corrupt) end in ``status`` ``failed`` or ``partial`` with a one-line ``error``; bugs
    propagate with their traceback.

    Args:
        path: the original (opened read-only, hashed before and after).
        out_dir: the scan's output folder; this source writes under ``sources/<slug>/``.
        cfg: resolved configuration.
        models: the worker's models, loaded on first use (a fully reused source loads none).
        slug_suffix: this input's number among the batch's inputs whose names fold to the same
            folder stem (1: none before it); 2 and up give ``<slug>-2``... so two copies of one
            file never share a folder, whichever worker runs first.
        store: the case store to reuse stage outputs from (None: compute everything).
        on_start: called with the opened source (e.g. to size a progress bar).
        on_frame: called after each analysed frame.

    Raises:
        OutputError: the outputs cannot be written (disk full, permissions).
    """
    res = SourceResult(path=str(path))
    try:
        return _process_source(res, path, out_dir, cfg, models, slug_suffix, store, on_start,
                               on_frame)
    except BaseException:
        res.drop_spilled()  # stage files nobody will store (disk full, a bug, an interrupt)
        raise


def _process_source(
    res: SourceResult,
    path: Path,
    out_dir: Path,
    cfg: Config,
    models: Models,
    slug_suffix: int,
    store: StoreReader | None,
    on_start: Callable[[VideoSource], None] | None,
    on_frame: Callable[[Frame], None] | None,
) -> SourceResult:
    timer = _Timer()
    t0 = time.perf_counter()
    try:
        check_regular_file(path)
        res.size_bytes, res.mtime_ns_before = _stat(path)
        res.sha256_before = hash_original(path)
    except PermissionError:
        res.error = f"{display_name(path)}: permission denied (cannot open for reading)"
        return res
    except InputError as exc:
        res.error = str(exc)
        return res
    except OSError as exc:
        res.error = f"{display_name(path)}: cannot read ({exc.strerror or exc})"
        return res
    timer.add("hash", time.perf_counter() - t0)
    sha = res.sha256_before
    res.slug = source_slug(path, sha) + (f"-{slug_suffix}" if slug_suffix > 1 else "")
    src_dir = out_dir / "sources" / res.slug

    # -- analysis: decode -> detect -> track (+ face candidates) ---------------------------
    a_key = analysis_key(sha, cfg, models.ids.person["sha256"])
    stored = store.get(sha, "analysis", a_key) if store is not None else None
    files = store.files(sha, "analysis", a_key) if stored is not None else {}
    if stored is not None and TRACKS_FILE in files and (
            CANDIDATES_FILE in files or not stored["face_candidates"]):
        res.probe, res.decode = stored["probe"], stored["decode"]
        res.n_detections = stored["n_detections"]
        res.schedule = dict(stored.get("schedule", {}))
        tracks = tracks_from_stage(stored["tracks"], files[TRACKS_FILE], str(path))
        candidates = (candidates_from_stage(files[CANDIDATES_FILE], cfg)
                      if stored["face_candidates"] else None)
        templates = None
        del files
        res.stages["analysis"] = {"key": a_key, "reused": True}
    else:
        t = time.perf_counter()
        try:
            source = _open_source(path, cfg, analysis=True)
        except InputError as exc:
            res.error = str(exc)
            _rehash(path, res)
            return res
        res.probe = source.probe.to_dict()
        if on_start:
            on_start(source)
        detector = models.detector()
        # Faces are found in the same pass: each track's candidate pixels are kept until the
        # tracker gives it up, then turned into its template (pipeline.faces).
        templates = None
        if cfg.faces.enabled and models.ids.faces is not None:
            # loaded once someone is tracked (FaceTemplates.expect_faces), in the background
            templates = FaceTemplates(models.faces, cfg.faces, out_dir, res.slug,
                                      prefetch=models.prefetch_faces)
        timer.add("model_load", time.perf_counter() - t)
        candidates = (FaceCandidates(cfg.faces, templates, cfg.tracker.lost_timeout_s + 1.0)
                      if cfg.faces.enabled else None)
        history = _analyse(source, cfg, detector, timer, res, on_frame, candidates)
        if candidates is not None:
            t_faces = time.perf_counter()
            candidates.finish_all()
            timer.add("faces", time.perf_counter() - t_faces)
        res.decode = source.report.to_dict()
        tracks = history.tracks()
        # The stage files are spilled beside the outputs (hidden: verify skips dot files) and
        # copied into the store in pieces by the driver, which then deletes them: held as
        # bytes they were ~16 MiB of a busy hour's peak.
        files: dict[str, bytes | Path] = {}
        for stale in src_dir.glob(".stage-*.part"):  # left by a scan killed before storing
            stale.unlink(missing_ok=True)
        with _spill(src_dir, res, TRACKS_FILE, files) as fh:
            stored_tracks, _ = tracks_to_stage(tracks, fh)
        if candidates is not None:
            with _spill(src_dir, res, CANDIDATES_FILE, files) as fh:
                candidates_to_stage(candidates, fh)
        payload = {"probe": res.probe, "decode": res.decode, "n_detections": res.n_detections,
                   "schedule": res.schedule, "tracks": stored_tracks,
                   "face_candidates": candidates is not None}
        res.stages["analysis"] = {"key": a_key, "reused": False}
        res.new_stages.append(("analysis", a_key, round(time.perf_counter() - t, 3), payload,
                               files))
        del files
    try:
        src_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise output_error(src_dir, exc) from None
    res.n_tracks = len(tracks)
    height = int(res.probe["height"])
    analysed = bool(res.decode["frames_analysed"])

    # -- events: adult/child per track, carry and lead-away ---------------------------------
    t = time.perf_counter()
    e_key = events_key(a_key, cfg)
    stored = store.get(sha, "events", e_key) if store is not None else None
    res.stages["events"] = {"key": e_key, "reused": stored is not None}
    if stored is None:
        perspective = classify_tracks(tracks, height, cfg.attributes)
        found = [e.to_dict() for e in find_events(tracks, cfg.events, perspective, height)]
        stored = {"events": found,
                  "attributes": {str(t.track_id): t.attributes for t in tracks},
                  "track_summaries": [
                      {"track_id": t.track_id, "start_s": t.start_s, "end_s": t.end_s,
                       "n_observations": len(t), "attributes": t.attributes} for t in tracks]}
        res.new_stages.append(("events", e_key, round(time.perf_counter() - t, 3), stored, {}))
    for tr in tracks:
        tr.attributes = dict(stored["attributes"].get(str(tr.track_id), {}))
    res.events = [{**e, "source": str(path)} for e in stored["events"]]
    events_digest = config_hash(stored)
    timer.add("events", time.perf_counter() - t)

    # -- faces: found in the analysis pass, or from the chosen frames decoded again ---------
    if candidates is not None and analysed and models.ids.faces is not None:
        t = time.perf_counter()
        f_key = faces_key(a_key, cfg, models.ids.faces)
        res.faces = _faces_stage(path, cfg, models, store, sha, f_key, candidates, templates,
                                 tracks, out_dir, res)
        res.faces["faces_json"] = f"sources/{res.slug}/faces.json"
        timer.add("faces", time.perf_counter() - t)
    candidates = templates = None  # only the faces stage reads them (a few MiB a busy hour)

    # -- per-source outputs ------------------------------------------------------------------
    t = time.perf_counter()
    write_tracks_jsonl(tracks, src_dir / "tracks.jsonl")
    res.outputs["tracks_jsonl"] = f"sources/{res.slug}/tracks.jsonl"
    if cfg.output.mot_txt:
        write_mot(tracks, src_dir / "tracks_mot.txt")
        res.outputs["tracks_mot"] = f"sources/{res.slug}/tracks_mot.txt"
    timer.add("write", time.perf_counter() - t)
    video = cfg.output.annotated_video
    if analysed and (video == "always" or (video == "flagged" and res.events)):
        t = time.perf_counter()
        fps = cfg.ingest.analysis_fps or res.probe.get("avg_fps") or 10.0
        if res.probe.get("avg_fps"):
            fps = min(fps, res.probe["avg_fps"])
        rel = f"sources/{res.slug}/annotated.mp4"
        # escaped: an undecodable byte (lone surrogate) in a name crashes OpenCV's putText
        title = one_line(path.name)[:48]
        # Keyed by what the video shows, not by the config: re-tuned events that find the
        # same events reuse it.
        key = config_hash({"analysis": a_key, "events": events_digest, "fps": fps,
                           "crf": cfg.output.video_crf, "title": title})
        kept = store.fresh_artifact(out_dir, rel, key) if store is not None else None
        if kept is not None:
            res.outputs["annotated_video"] = rel
            res.stages["annotated_video"] = {"key": key, "reused": True}
            res.artifacts.append((rel, key, kept[1], None))
        else:
            n = render_annotated(
                lambda: _open_source(path, cfg), tracks,
                [event_from_dict(e) for e in res.events], out_dir / rel, fps,
                cfg.output.video_crf, title=title,
            )
            if n:
                res.outputs["annotated_video"] = rel
                res.artifacts.append((rel, key, sha256_file(out_dir / rel), None))
            res.stages["annotated_video"] = {"key": key, "reused": False}
        timer.add("render", time.perf_counter() - t)
    rep = res.decode
    if rep["frames_analysed"] == 0:
        res.status = "failed"
        res.error = f"{display_name(path)}: {rep['error'] or 'no frame could be decoded'}"
    elif rep["error"]:
        res.status, res.error = "partial", f"{display_name(path)}: {rep['error']}"
    else:
        res.status = "ok"
    _rehash(path, res)
    res.timings_s = timer.rounded()
    res.timings_s["total"] = round(time.perf_counter() - t0, 3)
    write_json_atomic(src_dir / "source.json", res.to_dict())
    return res


def _faces_stage(path: Path, cfg: Config, models: Models, store: StoreReader | None, sha: str,
                 key: str, candidates: FaceCandidates, templates: FaceTemplates | None,
                 tracks: list[Any], out_dir: Path, res: SourceResult) -> dict[str, Any]:
    """Reuse or compute the face templates; either way ``sources/<slug>/faces.json`` and the
    thumbnails under ``faces/<slug>/`` are (re)written for this scan's folder.

    ``templates``: the faces found during this run's analysis pass (None when the analysis
    came from the store: then the chosen frames are decoded again)."""
    slug = res.slug or ""
    stored = store.get(sha, "faces", key) if store is not None and templates is None else None
    files = store.files(sha, "faces", key) if stored is not None else {}  # type: ignore[union-attr]
    if stored is not None and FACES_DOC in files:
        doc = _reslug(json.loads(files.pop(FACES_DOC)), stored["slug"], slug)
        for name, data in files.items():
            with atomic_path(out_dir / "faces" / slug / name) as tmp:
                tmp.write_bytes(data)
        write_json_atomic(out_dir / "sources" / slug / FACES_JSON, doc)
        res.stages["faces"] = {"key": key, "reused": True}
        return dict(stored["summary"])
    t = time.perf_counter()
    if templates is not None:
        templates.write(candidates, tracks)
    else:
        templates = track_faces(_open_source(path, cfg), candidates, models.faces(), cfg.faces,
                                tracks, out_dir, slug)
    # faces.json and the thumbnails go to the store as their paths, read when the driver
    # stores the stage (a busy hour has ~1,800 tracks, ~15 MiB of them), and the store's
    # faces table gets its rows from the templates: faces.json is not parsed back
    files: dict[str, bytes | Path] = {FACES_DOC: out_dir / "sources" / slug / FACES_JSON}
    for rel in templates.thumbnails:
        files[Path(rel).name] = out_dir / rel
    summary = templates.summary
    res.new_stages.append(("faces", key, round(time.perf_counter() - t, 3),
                           {"summary": summary, "slug": slug, "rows": templates.rows}, files))
    res.stages["faces"] = {"key": key, "reused": False}
    return summary


def _reslug(doc: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A stored faces.json for a source now written under another folder name."""
    if old == new:
        return doc
    out = dict(doc, tracks=[dict(r) for r in doc["tracks"]])
    for rec in out["tracks"]:
        for field_ in ("thumbnail", "person_thumbnail"):
            if rec.get(field_):
                rec[field_] = f"faces/{new}/{Path(rec[field_]).name}"
    return out


def _open_source(path: Path, cfg: Config, analysis: bool = False) -> VideoSource:
    """The source as the analysis pass (``analysis``) or a later pass reads it (the annotated
    video; faces over a stored analysis): only the analysis pass may skip deblocking
    (``ingest.skip_deblocking``). Event clips and the contact sheet decode their own segments
    in full (pipeline/outputs/segment.py)."""
    src = VideoSource(
        path,
        source_id=str(path),
        analysis_fps=cfg.ingest.analysis_fps,
        max_consecutive_faults=cfg.ingest.max_consecutive_faults,
        truncation_tolerance_s=cfg.ingest.truncation_tolerance_s,
        skip_unneeded=cfg.ingest.skip_unneeded_frames,
        skip_deblocking=analysis and cfg.ingest.skip_deblocking,
        # the analysis pass reads pictures only on the detector's due frames (_analyse)
        picture_period_s=cfg.detector.detect_period_s if analysis else 0.0,
    )
    src.decode_threads = decoder_threads(cfg.ingest.decode_threads, src.probe.width, src.probe.height)
    return src


# The pass frees as much as it allocates (decoded pictures, detector tensors, face crops), but
# glibc keeps the freed pages of a fragmented heap resident: 25-70 MiB of the heap was free
# during a 15-minute busy clip's pass (mallinfo2). Each trim costs a few milliseconds.
_TRIM_EVERY_S = 10.0


def _analyse(
    source: VideoSource,
    cfg: Config,
    detector: PersonDetector,
    timer: _Timer,
    res: SourceResult,
    on_frame: Callable[[Frame], None] | None,
    candidates: FaceCandidates | None = None,
) -> TrackHistory:
    """The streaming analysis pass: decode (reader thread) → schedule → detect → track → history.

    The schedule (pipeline.detect_schedule) runs the detector every ``detect_period_s`` and,
    with the motion gate, only where the scene changed; skipped frames get interpolated boxes
    (tracking.interpolate), held frames the last detection again.
    """
    tracker = build_tracker(cfg.tracker)
    history = TrackHistory(source.source_id)
    filler = GapFiller(history, cfg.tracker.interpolate_max_gap_s)
    schedule = DetectionSchedule(cfg.detector)
    found = det = Detections.empty()
    # Lazy frames: the picture is converted to BGR only where something reads it (detected
    # frames, frames with tracks); skipped frames and the motion gate never need it.
    frames = threaded(source.frames(lazy=True), maxsize=cfg.ingest.queue_size,
                      max_bytes=int(cfg.ingest.queue_mib * 2**20), size=lambda f: f.nbytes)
    # each detector window's boxes from the last time it ran (per-window gating)
    window_boxes: list[Any] = []
    next_trim = time.perf_counter() + _TRIM_EVERY_S
    for frame, last in _with_last(frames, timer):  # type: ignore[arg-type]
        t = time.perf_counter()
        if t >= next_trim:
            release_free_memory()
            next_trim = time.perf_counter() + _TRIM_EVERY_S
        windows = detector.windows(frame.width, frame.height)
        if windows != schedule.windows:  # the first frame, or the picture size changed
            schedule.set_windows(windows, frame.width, frame.height)
            window_boxes = [None] * len(windows)
        swept = getattr(tracker, "swept_boxes", None)
        decision = schedule.decide(
            frame.gray, frame.pts_s, last,
            known=(lambda: swept(frame.pts_s)) if swept is not None else None,
            frame_size=(frame.width, frame.height),
            picture=frame.has_picture)
        t1 = time.perf_counter()
        timer.add("gate", t1 - t)
        if decision == SKIP:
            filler.skip(frame.pts_s, frame.index)
            if on_frame:
                on_frame(frame)
            continue
        if decision == DETECT:
            found = detector.detect(frame.image, schedule.run, window_boxes)
            t1 = time.perf_counter()
            timer.add("detect", t1 - t)
            # Weak boxes (below detector.confidence) are never tracked; they only count as a
            # second person inside a tracked box (pipeline.inner).
            det = found[found.confidence >= cfg.detector.confidence]
            if cfg.tracker.appearance_weight > 0:
                det.data["appearance"] = color_signatures(frame.image, det.xyxy)
            res.n_detections += len(det)
        tracked: Detections = tracker.update(det, frame.pts_s)
        tracked.data["inner_confidence"] = inner_confidence(tracked.xyxy, found)
        tracked.data["held"] = np.full(len(tracked), float(decision == HOLD), np.float32)
        filler.observe(tracked, frame.pts_s, frame.index)
        t2 = time.perf_counter()
        timer.add("track", t2 - t1)
        if candidates is not None:
            candidates.add(frame, tracked)  # type: ignore[arg-type]
            timer.add("faces", time.perf_counter() - t2)
        if on_frame:
            on_frame(frame)
    res.schedule = {**schedule.counts.to_dict(), "observations_interpolated": filler.filled}
    release_free_memory()  # the decoder's and the detector's buffers, before the steps below
    return history


def _with_last(frames: Iterator[Frame], timer: _Timer) -> Iterator[tuple[Frame, bool]]:
    """Yield (frame, is_last) with a one-frame look-ahead; time spent waiting is decode_wait."""
    def pull() -> Frame | None:
        t = time.perf_counter()
        f = next(frames, None)
        timer.add("decode_wait", time.perf_counter() - t)
        return f

    cur = pull()
    while cur is not None:
        nxt = pull()
        yield cur, nxt is None
        cur = nxt


def _rehash(path: Path, res: SourceResult) -> None:
    """Hash the original again; a change is reported loudly (it must never happen)."""
    try:
        res.sha256_after = hash_original(path)
        size, res.mtime_ns_after = _stat(path)
    except OSError as exc:
        res.status = "failed"
        res.error = (res.error + "; " if res.error else "") + (
            f"{display_name(path)}: cannot re-hash the original ({exc.strerror or exc})")
        return
    if res.sha256_before and res.sha256_after != res.sha256_before:
        res.status = "failed"
        grew = f", {res.size_bytes} -> {size} bytes: still being written?" if size != res.size_bytes else ""
        res.error = (
            f"{display_name(path)}: ORIGINAL CHANGED DURING THE SCAN (sha256 before/after "
            f"differ{grew})"
        )
