"""Fill the frames the detector skipped with boxes interpolated between two observations.

With ``detector.detect_period_s`` the detector runs on some frames only; the tracker sees those.
A track observed on two consecutive observed frames gets, for every skipped frame between them,
a box linearly interpolated in time (pts), so tracks, the annotated video and the events keep
the full analysis rate. Only those gaps are filled: a track missing on an observed frame
(occluded, left) keeps its gap, as without skipping.

Interpolated observations carry ``interpolated`` = 1 in their extras (0 on observed frames);
their confidence and every other per-observation scalar is the smaller of the two ends.
"""

from __future__ import annotations

import numpy as np

from pipeline.types import Detections
from tracking.history import TrackHistory


class GapFiller:
    """Writes a tracker's outputs to a :class:`TrackHistory`, filling skipped frames.

    Call :meth:`skip` for a frame the detector did not run on and :meth:`observe` for each
    tracked frame, in stream order.

    Args:
        history: where observations go.
    """

    def __init__(self, history: TrackHistory) -> None:
        self.history = history
        self.reset()

    def reset(self) -> None:
        """Forget pending frames and the last observation (call between sources)."""
        self._pending: list[tuple[float, int]] = []
        self._prev: dict[int, tuple[np.ndarray, float, int, dict[str, float]]] = {}
        self._prev_pts_s = 0.0
        self.filled = 0

    def skip(self, pts_s: float, frame_index: int) -> None:
        """A frame the detector skipped: its boxes come when the next frame is observed."""
        self._pending.append((float(pts_s), int(frame_index)))

    def observe(self, tracked: Detections, pts_s: float, frame_index: int) -> None:
        """Add one observed frame's tracker output, after the interpolated frames before it.

        Args:
            tracked: tracker output, (N,) ``tracker_id`` set; empty is fine.
            pts_s: the frame's time, seconds.
            frame_index: its decoded frame number.
        """
        scalars = {k: v for k, v in tracked.data.items() if np.ndim(v) == 1}
        ids = tracked.tracker_id.tolist() if tracked.tracker_id is not None else []
        if self._pending and self._prev and ids:
            self._fill(tracked, ids, scalars, pts_s)
        self._pending = []
        self._prev = {
            tid: (tracked.xyxy[n].copy(), float(tracked.confidence[n]), int(tracked.class_id[n]),
                  {k: float(v[n]) for k, v in scalars.items()})
            for n, tid in enumerate(ids)
        }
        self._prev_pts_s = float(pts_s)
        if len(tracked):
            tracked.data["interpolated"] = np.zeros(len(tracked), np.float32)
        self.history.add(tracked, pts_s, frame_index)

    def _fill(self, tracked: Detections, ids: list[int], scalars: dict[str, np.ndarray],
              pts_s: float) -> None:
        rows = [n for n, tid in enumerate(ids) if tid in self._prev]
        if not rows:
            return
        r = np.asarray(rows)
        prev = [self._prev[ids[n]] for n in rows]
        b0 = np.stack([p[0] for p in prev]).astype(np.float64)
        b1 = tracked.xyxy[r].astype(np.float64)
        conf = np.minimum(np.array([p[1] for p in prev], np.float32), tracked.confidence[r])
        data = {
            k: np.fmin(np.array([p[3].get(k, np.nan) for p in prev], np.float32),
                       v[r].astype(np.float32))
            for k, v in scalars.items()
        }
        data["interpolated"] = np.ones(len(r), np.float32)
        span = max(float(pts_s) - self._prev_pts_s, 1e-9)
        for p, idx in self._pending:
            w = (p - self._prev_pts_s) / span
            det = Detections(
                xyxy=(b0 + w * (b1 - b0)).astype(np.float32), confidence=conf,
                class_id=tracked.class_id[r], tracker_id=tracked.tracker_id[r],
                data={k: v.copy() for k, v in data.items()},
            )
            self.history.add(det, p, idx)
            self.filled += len(r)
