"""The render pass: re-decode a source and draw its tracks, age groups and events.

Drawing after analysis (rather than during it) lets labels use what only the whole track
knows — adult or child — and lets re-tuned event thresholds re-render without re-detecting.
The re-decode uses the same analysis rate, so frame indices match the tracks' observations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pipeline.ingest import VideoSource
from pipeline.outputs.video import Annotator, VideoWriter
from pipeline.types import Detections, Event, Track

_GROUP_CLASS = {"adult": 0, "child": 1, "unknown": 2}


def render_annotated(
    make_source: Callable[[], VideoSource],
    tracks: Sequence[Track],
    events: Sequence[Event],
    out_path: Path,
    fps: float,
    crf: int,
    title: str,
) -> int:
    """Write an annotated H.264 MP4; returns the number of frames written (0: no file).

    Args:
        make_source: opens the original again with the analysis settings.
        tracks: the source's tracks (observations keyed by decoded frame index).
        events: the source's events (shown as a banner while active).
        out_path: final MP4 path (written atomically).
        fps: nominal output rate (the analysis rate).
        crf: x264 quality.
        title: shown in the top banner (the source's file name).
    """
    by_frame: dict[int, list[tuple[Track, int]]] = defaultdict(list)
    for t in tracks:
        for k, idx in enumerate(t.frame_index):
            by_frame[idx].append((t, k))
    annotator = Annotator()
    writer: VideoWriter | None = None
    try:
        for frame in make_source():
            obs = by_frame.get(frame.index, [])
            det = _detections(obs)
            labels = [
                f"#{t.track_id} {t.attributes.get('age_group', '?')}" for t, _ in obs
            ]
            active = [e for e in events if e.start_s <= frame.pts_s <= e.end_s]
            banner = " | ".join(
                f"{e.type.upper()} #{e.adult_track}+"
                f"{'/'.join(f'#{c}' for c in e.child_track) or 'child in box'} "
                f"score {e.score:.2f}"
                for e in active
            )
            if writer is None:
                writer = VideoWriter(out_path, frame.width, frame.height, fps, crf)
            writer.write(annotator(frame, det, title, labels=labels, banner=banner))
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is None:
        return 0
    writer.close()
    return writer.frames


def _detections(obs: list[tuple[Track, int]]) -> Detections:
    if not obs:
        return Detections.empty()
    return Detections(
        xyxy=np.asarray([t.xyxy[k] for t, k in obs], np.float32),
        confidence=np.asarray([t.confidence[k] for t, k in obs], np.float32),
        class_id=np.asarray([_GROUP_CLASS.get(t.attributes.get("age_group", "unknown"), 2) for t, _ in obs]),
        tracker_id=np.asarray([t.track_id for t, _ in obs], np.int64),
    )
