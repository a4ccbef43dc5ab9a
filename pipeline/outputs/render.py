"""The render pass: re-decode a source and draw its tracks, age groups and events.

Drawing after analysis (rather than during it) lets labels use what only the whole track
knows — adult or child — and lets re-tuned event thresholds re-render without re-detecting.
The re-decode uses the same analysis rate, so frame indices match the tracks' observations.
"""

from __future__ import annotations

from collections import deque
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
    by_frame = FrameObservations(tracks)
    annotator = Annotator()
    writer: VideoWriter | None = None
    try:
        for frame in make_source():
            obs = by_frame.at(frame.index)
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


class FrameObservations:
    """The tracks' observations frame by frame, for frames visited in increasing index order.

    Only the tracks alive at the current frame are looked at, through a cursor each; nothing
    per observation is built (a dict of every observation of a busy hour held ~25 MiB).

    Args:
        tracks: the source's tracks, each in frame order.
    """

    def __init__(self, tracks: Sequence[Track]) -> None:
        self._tracks = [t for t in tracks if len(t)]
        self._waiting = deque(sorted(range(len(self._tracks)),
                                     key=lambda p: int(self._tracks[p].frame_index[0])))
        self._next: dict[int, int] = {}  # position in tracks -> its next observation
        self._last = -1

    def at(self, frame_index: int) -> list[tuple[Track, int]]:
        """(track, observation number) of every observation on ``frame_index``, in the order
        of the tracks; frame indices must not decrease between calls."""
        if frame_index < self._last:
            raise ValueError(f"FrameObservations.at: frame {frame_index} after {self._last}")
        self._last = frame_index
        while self._waiting and self._tracks[self._waiting[0]].frame_index[0] <= frame_index:
            self._next[self._waiting.popleft()] = 0
        out: list[tuple[Track, int]] = []
        for p in sorted(self._next):
            t, k = self._tracks[p], self._next[p]
            frames = t.frame_index
            while k < len(t) and frames[k] < frame_index:
                k += 1
            while k < len(t) and frames[k] == frame_index:
                out.append((t, k))
                k += 1
            if k < len(t):
                self._next[p] = k
            else:
                del self._next[p]
        return out


def _detections(obs: list[tuple[Track, int]]) -> Detections:
    if not obs:
        return Detections.empty()
    return Detections(
        xyxy=np.asarray([t.xyxy[k] for t, k in obs], np.float32),
        confidence=np.asarray([t.confidence[k] for t, k in obs], np.float32),
        class_id=np.asarray([_GROUP_CLASS.get(t.attributes.get("age_group", "unknown"), 2) for t, _ in obs]),
        tracker_id=np.asarray([t.track_id for t, _ in obs], np.int64),
    )
