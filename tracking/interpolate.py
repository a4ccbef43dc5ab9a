"""Fill a track's missing frames with boxes interpolated between two of its observations.

Two kinds of gap are filled, each frame of them with a box linearly interpolated in time (pts)
between the track's observations on either side:

- frames the detector skipped (``detector.detect_period_s``): the tracker never saw them, so a
  track observed on two consecutive observed frames is filled in between. Tracks, the
  annotated video and the events keep the full analysis rate.
- short misses (``tracker.interpolate_max_gap_s``): a track that the detector missed on some
  frames (a flicker, a brief occlusion) and that is matched again within that many seconds.
  A detector at 0.1-0.3 confidence on small people misses some frames of every track.

A track that is never matched again (it left, or it is lost for longer) keeps its gap.
Interpolated observations carry ``interpolated`` = 1 in their extras (0 on detected frames);
their confidence and every other per-observation scalar is the smaller of the two ends.
Memory is bounded: only the frames and last observations of the last ``max_gap_s`` (at least
the frames since the last observed one) are kept.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from pipeline.types import Detections
from tracking.history import TrackHistory


class GapFiller:
    """Writes a tracker's outputs to a :class:`TrackHistory`, filling gaps as above.

    Call :meth:`skip` for a frame the detector did not run on and :meth:`observe` for each
    tracked frame, in stream order.

    Args:
        history: where observations go.
        max_gap_s: longest miss (seconds between a track's two observations) filled across
            observed frames; 0 fills skipped frames only.

    Raises:
        ValueError: ``max_gap_s`` is negative or not finite.
    """

    def __init__(self, history: TrackHistory, max_gap_s: float = 0.0) -> None:
        if not np.isfinite(max_gap_s) or max_gap_s < 0:
            raise ValueError(f"GapFiller: max_gap_s must be >= 0 seconds, got {max_gap_s}")
        self.history = history
        self.max_gap_s = float(max_gap_s)
        self.reset()

    def reset(self) -> None:
        """Forget frames and last observations (call between sources)."""
        # (pts_s, frame_index, observed) of recent frames, oldest first
        self._frames: deque[tuple[float, int, bool]] = deque()
        # track id -> (pts_s, box, confidence, class_id, scalars) of its last observation
        self._last: dict[int, tuple[float, np.ndarray, float, int, dict[str, float]]] = {}
        self._prev_observed_s: float | None = None
        self.filled = 0

    def skip(self, pts_s: float, frame_index: int) -> None:
        """A frame the detector skipped: its boxes come when a later frame is observed."""
        self._frames.append((float(pts_s), int(frame_index), False))

    def observe(self, tracked: Detections, pts_s: float, frame_index: int) -> None:
        """Add one observed frame's tracker output, after the interpolated frames before it.

        Args:
            tracked: tracker output, (N,) ``tracker_id`` set; empty is fine.
            pts_s: the frame's time, seconds.
            frame_index: its decoded frame number.
        """
        pts = float(pts_s)
        scalars = {k: v for k, v in tracked.data.items() if np.ndim(v) == 1}
        ids = tracked.tracker_id.tolist() if tracked.tracker_id is not None else []
        if ids and self._last:
            self._fill(tracked, ids, scalars, pts)
        for n, tid in enumerate(ids):
            self._last[tid] = (pts, tracked.xyxy[n].copy(), float(tracked.confidence[n]),
                               int(tracked.class_id[n]), {k: float(v[n]) for k, v in scalars.items()})
        if len(tracked):
            tracked.data["interpolated"] = np.zeros(len(tracked), np.float32)
        self.history.add(tracked, pts, frame_index)
        self._frames.append((pts, int(frame_index), True))
        self._prev_observed_s = pts
        self._prune(pts)

    def _prune(self, pts: float) -> None:
        # Keep the frames since the last observed one (skipped frames to fill) and max_gap_s.
        horizon = pts - self.max_gap_s
        while len(self._frames) > 1 and self._frames[0][0] < horizon:
            self._frames.popleft()
        self._last = {t: v for t, v in self._last.items() if v[0] >= horizon or v[0] == pts}

    def _fill(self, tracked: Detections, ids: list[int], scalars: dict[str, np.ndarray],
              pts: float) -> None:
        frames = [(p, i) for p, i, _ in self._frames]
        by_frame: dict[tuple[float, int], list[tuple[int, float]]] = {}
        for n, tid in enumerate(ids):
            last = self._last.get(tid)
            if last is None:
                continue
            p0 = last[0]
            # the track was seen on the previous observed frame: fill the skipped frames; or it
            # was missed for a while: fill only a short miss
            if p0 != self._prev_observed_s and pts - p0 > self.max_gap_s:
                continue
            for p, i in frames:
                if p0 < p < pts:
                    by_frame.setdefault((p, i), []).append((n, (p - p0) / (pts - p0)))
        for (p, i), rows in sorted(by_frame.items()):  # time order within every track
            r = np.array([n for n, _ in rows])
            w = np.array([x for _, x in rows])[:, None]
            last = [self._last[ids[n]] for n in r.tolist()]
            b0 = np.stack([x[1] for x in last]).astype(np.float64)
            b1 = tracked.xyxy[r].astype(np.float64)
            conf = np.minimum(np.array([x[2] for x in last], np.float32), tracked.confidence[r])
            data = {k: np.fmin(np.array([x[4].get(k, np.nan) for x in last], np.float32),
                               v[r].astype(np.float32)) for k, v in scalars.items()}
            data["interpolated"] = np.ones(len(r), np.float32)
            self.history.add(Detections(
                xyxy=(b0 + w * (b1 - b0)).astype(np.float32), confidence=conf,
                class_id=tracked.class_id[r], tracker_id=tracked.tracker_id[r], data=data,
            ), p, i)
            self.filled += len(r)
