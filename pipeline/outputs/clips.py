"""The clip render pass: a short annotated H.264 clip and a JPEG thumbnail per event and per
face match, cut from the original by time (seek near the start, decode to the end).

Each clip shows every stored track (blue adult, red child, grey unknown, with ids), outlines
the tracks the item is about, a title bar with the file name, source time and container
wall-clock time where the file has one, and a banner naming the event: red while it is active,
grey in the pre- and post-roll. Small or dark footage is scaled up and brightened (labelled
"enhanced") so a reviewer can read it; originals are never changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import OutputConfig
from pipeline.errors import InputError, OutputError
from pipeline.outputs.atomic import atomic_path
from pipeline.outputs.overlay import (
    StoredTrack, ascii_text, crop_around, detections_at, encode_jpeg, is_dark, outline, prepare,
    wall_clock,
)
from pipeline.outputs.segment import decode_segment
from pipeline.outputs.video import Annotator, VideoWriter, _text_bar
from pipeline.types import Frame

CLIPS_DIR = "clips"


@dataclass
class ClipJob:
    """One clip to cut: what it is about and where it lies in its source.

    Attributes:
        item_id: event or match id (the clip is ``clips/<safe id>.mp4``).
        source: path of the original.
        start_s, end_s: the item's span in source seconds.
        focus: track id → role shown on the label (e.g. ``{3: "ADULT", 5: "CHILD"}``).
        banner: one line naming the item (ASCII).
        creation_time: the container's creation time (ISO) for wall-clock labels, or None.
        fps: the source's average frame rate (the clip plays at min(fps, clip_max_fps)).
    """

    item_id: str
    source: str
    start_s: float
    end_s: float
    focus: dict[int, str]
    banner: str
    creation_time: str | None = None
    fps: float | None = None


@dataclass
class ClipResult:
    clip: str | None = None
    thumbnail: str | None = None
    frames: int = 0
    clip_start_s: float | None = None
    clip_end_s: float | None = None
    truncated: bool = False
    enhanced: bool = False
    error: str | None = None
    seconds: float = 0.0


def safe_name(item_id: str) -> str:
    """A file-name-safe form of an item id (ids are built from safe slugs already)."""
    out = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in item_id)
    return out.strip("._") or "item"


def render_clip(
    job: ClipJob,
    tracks: dict[int, StoredTrack],
    out_dir: Path,
    cfg: OutputConfig,
    annotator: Annotator | None = None,
) -> ClipResult:
    """Cut, annotate and encode one clip and its thumbnail under ``out_dir/clips``.

    A source that cannot be read again ends in ``ClipResult.error`` (one line), not an
    exception; encoder failures raise :class:`OutputError`.
    """
    import time

    t_start = time.perf_counter()
    res = ClipResult()
    c0 = max(0.0, job.start_s - cfg.clip_pre_roll_s)
    c1 = job.end_s + cfg.clip_post_roll_s
    if c1 - c0 > cfg.clip_max_s:
        c1, res.truncated = c0 + cfg.clip_max_s, True
    name = safe_name(job.item_id)
    rel_clip, rel_thumb = f"{CLIPS_DIR}/{name}.mp4", f"{CLIPS_DIR}/{name}.jpg"
    annotator = annotator or Annotator()
    (out_dir / CLIPS_DIR).mkdir(mode=0o700, exist_ok=True)
    title = ascii_text(Path(job.source).name, 40)
    mid = (job.start_s + job.end_s) / 2
    writer: VideoWriter | None = None
    thumb: tuple[float, np.ndarray] | None = None
    times: list[float] = []
    enhance: bool | None = None
    try:
        for frame in decode_segment(job.source, c0, c1, cfg.clip_max_fps):
            if enhance is None:
                enhance = cfg.enhance_dark and is_dark(frame.image)
            image, scale = prepare(frame.image, cfg.clip_min_height, enhance)
            det, labels = detections_at(tracks, frame.pts_s, scale, job.focus)
            out = _annotate(annotator, image, frame, det, labels, job, title, enhance)
            outline(out, det, set(job.focus))
            if writer is None:
                fps = min(job.fps or cfg.clip_max_fps, cfg.clip_max_fps)
                writer = VideoWriter(out_dir / rel_clip, out.shape[1], out.shape[0], fps,
                                     cfg.video_crf)
            writer.write(out)
            times.append(frame.pts_s)
            if thumb is None or abs(frame.pts_s - mid) < abs(thumb[0] - mid):
                thumb = (frame.pts_s, _thumbnail(image, det, labels, job, frame.pts_s, annotator))
    except InputError as exc:
        if writer is not None:
            writer.abort()
        res.error = f"{job.item_id}: cannot cut a clip: {exc}"
        return res
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is None or thumb is None:
        res.error = f"{job.item_id}: no frame decoded between {c0:.2f} s and {c1:.2f} s of {job.source}"
        return res
    writer.close()
    with atomic_path(out_dir / rel_thumb) as tmp:
        tmp.write_bytes(encode_jpeg(thumb[1]))
    res.clip, res.thumbnail, res.frames = rel_clip, rel_thumb, writer.frames
    res.clip_start_s, res.clip_end_s = round(times[0], 3), round(times[-1], 3)
    res.enhanced = bool(enhance)
    res.seconds = round(time.perf_counter() - t_start, 3)
    return res


def _annotate(
    annotator: Annotator, image: np.ndarray, frame: Frame, det: Any, labels: list[str],
    job: ClipJob, title: str, enhanced: bool,
) -> np.ndarray:
    wall = wall_clock(job.creation_time, frame.pts_s)
    head = title + (f"  {wall} (container clock)" if wall else "")
    active = job.start_s - 1e-6 <= frame.pts_s <= job.end_s + 1e-6
    shown = Frame(image=image, source_id=frame.source_id, index=frame.index, pts_s=frame.pts_s)
    out = annotator(shown, det, head, labels=labels, banner=job.banner if active else "",
                    show_index=False)
    scale = max(0.4, min(1.0, out.shape[1] / 1280))
    if not active:
        when = (f"in {job.start_s - frame.pts_s:.1f} s" if frame.pts_s < job.start_s
                else f"ended {frame.pts_s - job.end_s:.1f} s ago")
        _text_bar(out, f"{job.banner}  ({when})", _bar_height(scale), scale, (70, 70, 70))
    if enhanced:
        _bottom_note(out, "enhanced (brightened for review)", scale)
    return out


def _thumbnail(image: np.ndarray, det: Any, labels: list[str], job: ClipJob, pts_s: float,
               annotator: Annotator) -> np.ndarray:
    """The thumbnail: the frame zoomed on the item's tracks, boxes drawn, with a one-line label
    (a small person in a wide CCTV frame stays recognisable at thumbnail size)."""
    import cv2

    boxed = annotator(Frame(image=image, source_id="", index=0, pts_s=pts_s), det, "",
                      labels=labels)
    outline(boxed, det, set(job.focus))
    ids = det.tracker_id if det.tracker_id is not None else []
    focus = np.asarray([b for b, t in zip(det.xyxy, ids) if int(t) in job.focus]).reshape(-1, 4)
    top = _bar_height(max(0.4, min(1.0, boxed.shape[1] / 1280)))
    crop = crop_around(boxed[top:], focus - np.array([0, top, 0, top], np.float32))
    thumb = cv2.resize(crop, (640, int(round(crop.shape[0] * 640 / crop.shape[1]))),
                       interpolation=cv2.INTER_AREA if crop.shape[1] > 640 else cv2.INTER_CUBIC)
    _text_bar(thumb, f"{job.banner.split('  ')[0]}  t={pts_s:.1f}s", 0, 0.55, (0, 0, 200))
    return thumb


def _bar_height(scale: float) -> int:
    import cv2

    (_, th), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    return th + base + 8


def _bottom_note(image: np.ndarray, text: str, scale: float) -> None:
    h = _bar_height(scale)
    _text_bar(image, text, image.shape[0] - h, scale, (60, 60, 60))


def event_job(ev: dict[str, Any], creation_time: str | None, fps: float | None) -> ClipJob:
    """The clip job of an ``events.json`` entry."""
    child = ev.get("child_track")
    children = child if isinstance(child, list) else [child] if child is not None else []
    focus = {int(c): "CHILD" for c in children}
    # every track of the carrier (its track may break mid-carry); events stored before
    # adult_tracks existed have only adult_track
    for a in ev.get("adult_tracks") or [ev.get("adult_track")]:
        if a is not None:
            focus[int(a)] = "ADULT"
    # a one-box carry (cue merged_box) has no child track: the child is inside the adult's box
    kids = "/".join(f"#{c}" for c in children) or "in the same box"
    banner = (f"{str(ev.get('type', 'event')).upper()} adult #{ev.get('adult_track')} child {kids} "
              f"score {float(ev.get('score', 0)):.2f}  {ev['start_s']:.1f}-{ev['end_s']:.1f} s")
    return ClipJob(str(ev["id"]), ev["source"], float(ev["start_s"]), float(ev["end_s"]), focus,
                   ascii_text(banner, 90), creation_time, fps)


def match_job(m: dict[str, Any], item_id: str, creation_time: str | None,
              fps: float | None) -> ClipJob:
    """The clip job of a ``matches.json`` entry (the face engineer's contract)."""
    track = m.get("track")
    focus = {int(track): "MATCH"} if track is not None else {}
    banner = (f"MATCH {m.get('subject', '?')} track #{track} distance "
              f"{float(m.get('distance', float('nan'))):.3f}")
    if m.get("threshold") is not None:
        banner += f" (threshold {float(m['threshold']):.3f})"
    return ClipJob(item_id, m["source"], float(m["start_s"]), float(m["end_s"]), focus,
                   ascii_text(banner, 90), creation_time, fps)


def render_jobs(
    jobs: list[ClipJob],
    tracks_for: Callable[[str], dict[int, StoredTrack]],
    out_dir: Path,
    cfg: OutputConfig,
) -> list[ClipResult]:
    """Render every job with one annotator; ``tracks_for(source)`` loads a source's tracks."""
    if not jobs:
        return []  # no annotator: building one imports supervision (~1 s, most of a reprocess)
    annotator = Annotator()
    results = []
    for job in jobs:
        try:
            tracks = tracks_for(job.source)
        except (OSError, ValueError, KeyError) as exc:
            results.append(ClipResult(error=f"{job.item_id}: stored tracks unreadable ({exc})"))
            continue
        try:
            results.append(render_clip(job, tracks, out_dir, cfg, annotator))
        except OutputError as exc:
            results.append(ClipResult(error=f"{job.item_id}: {exc}"))
    return results
