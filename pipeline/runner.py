"""Analyse one source: hash → decode (reader thread) → detect → track → age groups → events →
outputs → render pass → hash again.

Stages are steps over the frame stream, each with its own state, built once per source
(``reset`` semantics by construction): a tracker never carries ids from one file to the next.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detectors.base import PersonDetector
from pipeline.config import Config
from pipeline.detect_schedule import DETECT, HOLD, SKIP, DetectionSchedule
from pipeline.errors import InputError, output_error
from pipeline.appearance import color_signatures
from pipeline.attributes import classify_tracks
from pipeline.events import find_events
from pipeline.faces import FaceCandidates, track_faces
from pipeline.ingest import VideoSource
from pipeline.inner import inner_confidence
from pipeline.originals import check_regular_file, hash_original
from pipeline.inputs import display_name, one_line, source_slug, unique_slug
from pipeline.outputs.atomic import write_json_atomic
from pipeline.outputs.tracks import write_mot, write_tracks_jsonl
from pipeline.outputs.render import render_annotated
from pipeline.stream import threaded
from pipeline.types import Detections, Frame
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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Timer:
    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + seconds

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.totals.items()}


def _stat(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def process_source(
    path: Path,
    out_dir: Path,
    cfg: Config,
    detector: PersonDetector,
    on_start: Callable[[VideoSource], None] | None = None,
    on_frame: Callable[[Frame], None] | None = None,
    used_slugs: set[str] | None = None,
    face_models: Any = None,
) -> SourceResult:
    """Run the analysis pass over one file and write its per-source outputs.

    User-caused problems (unreadable, not a video, corrupt) end in ``status`` ``failed`` or
    ``partial`` with a one-line ``error``; bugs propagate with their traceback.

    Args:
        path: the original (opened read-only, hashed before and after).
        out_dir: the scan's output folder; this source writes under ``sources/<slug>/``.
        cfg: resolved configuration.
        detector: a loaded person detector (shared across sources; it holds no per-source state).
        on_start: called with the opened source (e.g. to size a progress bar).
        on_frame: called after each analysed frame.
        used_slugs: output folder names already taken in this run (a copy of the same file
            under a name that folds to the same slug gets ``-2``); updated.

        face_models: loaded face models (detectors.faces.FaceModels) or None for no face stage.

    Raises:
        OutputError: the outputs cannot be written (disk full, permissions).
    """
    res = SourceResult(path=str(path))
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
    res.slug = source_slug(path, res.sha256_before)
    if used_slugs is not None:
        res.slug = unique_slug(res.slug, used_slugs)
    src_dir = out_dir / "sources" / res.slug
    try:
        source = _open_source(path, cfg)
    except InputError as exc:
        res.error = str(exc)
        _rehash(path, res)
        return res
    res.probe = source.probe.to_dict()
    if on_start:
        on_start(source)
    try:
        src_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise output_error(src_dir, exc) from None
    candidates = FaceCandidates(cfg.faces) if face_models is not None else None
    history = _analyse(source, cfg, detector, timer, res, on_frame, candidates)
    res.decode = source.report.to_dict()
    tracks = history.tracks()
    res.n_tracks = len(tracks)
    t = time.perf_counter()
    perspective = classify_tracks(tracks, source.probe.height, cfg.attributes)
    events = find_events(tracks, cfg.events, perspective, source.probe.height)
    res.events = [e.to_dict() for e in events]
    timer.add("events", time.perf_counter() - t)
    if candidates is not None and source.report.frames_analysed:
        # Faces: re-decode only up to the last chosen frame; see pipeline/faces.py.
        t = time.perf_counter()
        res.faces = track_faces(_open_source(path, cfg), candidates, face_models, cfg.faces,
                                tracks, out_dir, res.slug)
        res.faces["faces_json"] = f"sources/{res.slug}/faces.json"
        timer.add("faces", time.perf_counter() - t)
    t = time.perf_counter()
    write_tracks_jsonl(tracks, src_dir / "tracks.jsonl")
    res.outputs["tracks_jsonl"] = f"sources/{res.slug}/tracks.jsonl"
    if cfg.output.mot_txt:
        write_mot(tracks, src_dir / "tracks_mot.txt")
        res.outputs["tracks_mot"] = f"sources/{res.slug}/tracks_mot.txt"
    timer.add("write", time.perf_counter() - t)
    if cfg.output.annotated_video and source.report.frames_analysed:
        t = time.perf_counter()
        fps = cfg.ingest.analysis_fps or source.probe.avg_fps or 10.0
        if source.probe.avg_fps:
            fps = min(fps, source.probe.avg_fps)
        n = render_annotated(
            lambda: _open_source(path, cfg), tracks, events, src_dir / "annotated.mp4", fps,
            # escaped: an undecodable byte (lone surrogate) in a name crashes OpenCV's putText
            cfg.output.video_crf, title=one_line(path.name)[:48],
        )
        if n:
            res.outputs["annotated_video"] = f"sources/{res.slug}/annotated.mp4"
        timer.add("render", time.perf_counter() - t)
    rep = source.report
    if rep.frames_analysed == 0:
        res.status = "failed"
        res.error = f"{display_name(path)}: {rep.error or 'no frame could be decoded'}"
    elif rep.error:
        res.status, res.error = "partial", f"{display_name(path)}: {rep.error}"
    else:
        res.status = "ok"
    _rehash(path, res)
    res.timings_s = timer.rounded()
    res.timings_s["total"] = round(time.perf_counter() - t0, 3)
    write_json_atomic(src_dir / "source.json", res.to_dict())
    return res


def _open_source(path: Path, cfg: Config) -> VideoSource:
    return VideoSource(
        path,
        source_id=str(path),
        analysis_fps=cfg.ingest.analysis_fps,
        decode_threads=cfg.ingest.decode_threads,
        max_consecutive_faults=cfg.ingest.max_consecutive_faults,
        truncation_tolerance_s=cfg.ingest.truncation_tolerance_s,
    )


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
    for frame, last in _with_last(threaded(source, maxsize=cfg.ingest.queue_size), timer):
        t = time.perf_counter()
        decision = schedule.decide(frame.image, frame.pts_s, last)
        t1 = time.perf_counter()
        timer.add("gate", t1 - t)
        if decision == SKIP:
            filler.skip(frame.pts_s, frame.index)
            if on_frame:
                on_frame(frame)
            continue
        if decision == DETECT:
            found = detector.detect(frame.image)
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
        if candidates is not None:
            candidates.add(frame, tracked)
        timer.add("track", time.perf_counter() - t1)
        if on_frame:
            on_frame(frame)
    res.schedule = {**schedule.counts.to_dict(), "observations_interpolated": filler.filled}
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
