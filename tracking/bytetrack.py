"""ByteTrack-style multi-object tracker driven by presentation timestamps.

Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box" (ECCV 2022),
adapted so that time comes from the container: the Kalman prediction uses the pts difference in
seconds and a lost track expires after ``lost_timeout_s`` seconds, not after a frame count, so
the tracker behaves the same at 30 fps, at a 10 fps analysis rate and on variable-frame-rate
footage with dropped frames.

One update:

1. Tracks whose last match is more than ``lost_timeout_s`` before ``pts_s`` are removed; all
   others are predicted forward by the time since the previous update.
2. High boxes (``confidence >= high_threshold``) are matched to confirmed tracks, tracked and
   lost, by IoU (Hungarian, IoU >= ``match_iou``).
3. Low boxes (``low_threshold <= confidence < high_threshold``) are matched to the tracked (not
   lost) confirmed tracks left over (IoU >= ``low_match_iou``); confirmed tracks still
   unmatched become lost.
4. Unconfirmed tracks are matched to the high boxes left over, and to the low boxes left over
   that are *held* — inside a person matched in step 2 or 3 (>= 60% of the box), smaller, and
   not that person's own head and torso (top and centre aligned), with ``confidence >=
   inside_start_threshold`` (IoU >= ``match_iou``); those unmatched are dropped, so a track's
   hits are always consecutive. A child held on the hip or in the arms is boxed faintly
   (0.15-0.3 at CCTV scale) and would otherwise never become a track.
5. High boxes still unmatched with ``confidence >= new_track_threshold``, and held boxes still
   unmatched, start new tracks.

Matching is only between boxes of the same ``class_id``. A track is confirmed, and gets its id,
after ``min_hits`` consecutive matched updates; as in ByteTrack, tracks started by the very first
update of a stream (after construction or :meth:`ByteTrack.reset`) are confirmed at once, so
people already in view when a video starts are reported from its first frame. Ids are given at
confirmation only, so the ids a stream reports are 1, 2, 3, ... without gaps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from pipeline.config import TrackerConfig
from pipeline.types import Detections
from tracking.kalman import KalmanBoxFilter, xyah_to_xyxy, xyxy_to_xyah
from pipeline.appearance import appearance_distance
from tracking.matching import match_by_iou


@dataclass(eq=False)
class _Track:
    """Internal state of one track (identity comparison only)."""

    mean: np.ndarray  # (8,) Kalman state, see tracking.kalman
    covariance: np.ndarray  # (8, 8)
    class_id: int
    last_seen_s: float  # pts of the last matched detection, seconds
    hits: int = 1  # consecutive matched updates, counting the one that started the track
    lost: bool = False
    track_id: int = 0  # 0 until confirmed
    appearance: np.ndarray | None = None  # running mean of the detections' colour signatures

    @property
    def confirmed(self) -> bool:
        return self.track_id > 0


class ByteTrack:
    """Two-stage (high, then low confidence) IoU tracker with a pts-driven Kalman filter.

    Args:
        config: thresholds and timeouts (see :class:`pipeline.config.TrackerConfig`).

    Raises:
        ValueError: ``low_threshold`` is above ``high_threshold``.
    """

    def __init__(self, config: TrackerConfig) -> None:
        if config.low_threshold > config.high_threshold:
            raise ValueError(
                "tracker.low_threshold must be <= tracker.high_threshold, got "
                f"low_threshold={config.low_threshold}, high_threshold={config.high_threshold}"
            )
        self.config = config
        self._kalman = KalmanBoxFilter()
        self._tracks: list[_Track] = []
        self._last_pts_s: float | None = None
        self._next_id = 1

    def reset(self) -> None:
        """Forget every track and the clock; ids start again at 1 (call between sources)."""
        self._tracks = []
        self._last_pts_s = None
        self._next_id = 1

    def swept_boxes(self, pts_s: float) -> np.ndarray:
        """Where the confirmed tracks can be at ``pts_s``: per track, the union of its box at
        the last update and that box moved on at its Kalman velocity to ``pts_s``; (N, 4) xyxy
        pixels. Reads the state only (the motion gate asks between updates)."""
        tracks = [t for t in self._tracks if t.confirmed]
        if not tracks or self._last_pts_s is None:
            return np.zeros((0, 4), np.float64)
        mean = np.stack([t.mean for t in tracks])
        dt = max(0.0, float(pts_s) - self._last_pts_s)
        now = xyah_to_xyxy(mean[:, :4])
        later = xyah_to_xyxy(mean[:, :4] + mean[:, 4:8] * dt)
        return np.concatenate([np.minimum(now[:, :2], later[:, :2]),
                               np.maximum(now[:, 2:], later[:, 2:])], axis=1)

    @property
    def num_tracks(self) -> int:
        """Tracks held now: tracked, lost and not yet confirmed."""
        return len(self._tracks)

    def update(self, detections: Detections, pts_s: float) -> Detections:
        """Associate one frame's detections with the tracks.

        Args:
            detections: boxes of one frame (xyxy absolute pixels, confidence, class_id); may be
                empty, which still advances time (tracks age and may become lost or expire).
            pts_s: presentation time of the frame in seconds; must strictly increase.

        Returns:
            The rows of ``detections`` matched to confirmed tracks in this update, in input
            order, with ``tracker_id`` (M,) int64 set; boxes, confidences, class ids and
            ``data`` are the detection's own (not the Kalman estimate). Empty, with an empty
            ``tracker_id``, when no confirmed track was matched.

        Raises:
            TypeError: ``detections`` is not a :class:`Detections`.
            ValueError: ``pts_s`` is not finite or not greater than the previous call's (the
                tracker's state is left unchanged).
        """
        if not isinstance(detections, Detections):
            kind = type(detections).__name__
            raise TypeError(f"ByteTrack.update: expected Detections, got {kind}")
        first_update = self._advance_clock(pts_s)
        pts = float(pts_s)
        cfg = self.config
        conf = detections.confidence
        high = np.flatnonzero(conf >= cfg.high_threshold)
        low = np.flatnonzero((conf >= cfg.low_threshold) & (conf < cfg.high_threshold))

        confirmed = [t for t in self._tracks if t.confirmed]
        unconfirmed = [t for t in self._tracks if not t.confirmed]
        pairs, rest, high = self._match(confirmed, detections, high, cfg.match_iou)
        tracked_rest = [t for t in rest if not t.lost]
        pairs_low, now_lost, low_rest = self._match(tracked_rest, detections, low, cfg.low_match_iou)
        held = self._held_inside(detections, low_rest, [j for _, j in pairs + pairs_low])
        pairs_new, dropped, rest = self._match(
            unconfirmed, detections, np.concatenate([high, held]).astype(int), cfg.match_iou
        )
        high = np.intersect1d(rest, high)
        held = np.intersect1d(rest, held)
        pairs += pairs_low + pairs_new

        for track in now_lost:
            track.lost = True
        if dropped:
            gone = {id(t) for t in dropped}
            self._tracks = [t for t in self._tracks if id(t) not in gone]
        self._correct(pairs, detections, pts)

        starts = np.union1d(high[conf[high] >= cfg.new_track_threshold], held).astype(int)
        new_tracks = self._start(detections, starts, pts, confirm=first_update)
        pairs += list(zip(new_tracks, starts.tolist()))
        return self._output(detections, pairs)

    def _held_inside(self, detections: Detections, rows: np.ndarray, people: list[int]) -> np.ndarray:
        """Rows scoring >= ``inside_start_threshold`` that lie inside a person matched this
        frame (>= 60% of the box) without being that person's own head and torso."""
        cfg = self.config
        rows = rows[detections.confidence[rows] >= cfg.inside_start_threshold]
        if not len(rows) or not people:
            return rows[:0]
        d = detections.xyxy[rows].astype(np.float64)
        p = detections.xyxy[np.asarray(people)].astype(np.float64)
        lt = np.maximum(d[:, None, :2], p[None, :, :2])
        rb = np.minimum(d[:, None, 2:], p[None, :, 2:])
        inter = np.clip(rb - lt, 0, None).prod(axis=2)
        area = np.maximum((d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1]), 1e-6)[:, None]
        inside = inter / area >= 0.6
        ph = np.maximum(p[:, 3] - p[:, 1], 1e-6)[None, :]
        pw = np.maximum(p[:, 2] - p[:, 0], 1e-6)[None, :]
        top_aligned = np.abs(d[:, None, 1] - p[None, :, 1]) / ph < 0.1
        centred = np.abs((d[:, None, 0] + d[:, None, 2]) - (p[None, :, 0] + p[None, :, 2])) / 2 / pw < 0.15
        smaller = (d[:, None, 3] - d[:, None, 1]) / ph < 0.8
        ok = (inside & smaller & ~(top_aligned & centred)).any(axis=1)
        return rows[ok]

    def _advance_clock(self, pts_s: float) -> bool:
        """Check ``pts_s``, expire stale tracks, predict the rest; True on a stream's first call."""
        pts = float(pts_s)
        if not math.isfinite(pts):
            raise ValueError(
                f"ByteTrack.update: pts_s must be a finite number of seconds, got {pts_s}"
            )
        last = self._last_pts_s
        if last is not None and pts <= last:
            raise ValueError(
                f"ByteTrack.update: pts_s must strictly increase between calls, got {pts} s after "
                f"{last} s (call reset() before starting a new source)"
            )
        self._last_pts_s = pts
        if last is None:
            return True
        timeout = self.config.lost_timeout_s
        self._tracks = [t for t in self._tracks if pts - t.last_seen_s <= timeout]
        if self._tracks:
            mean = np.stack([t.mean for t in self._tracks])
            cov = np.stack([t.covariance for t in self._tracks])
            lost = np.array([t.lost for t in self._tracks])
            mean[lost, 7] = 0.0  # as ByteTrack: a lost box keeps its size while extrapolated
            mean, cov = self._kalman.predict(mean, cov, pts - last)
            for track, m, c in zip(self._tracks, mean, cov):
                track.mean, track.covariance = m, c
        return False

    def _match(
        self, tracks: list[_Track], detections: Detections, rows: np.ndarray,
        min_iou: float | np.ndarray,
    ) -> tuple[list[tuple[_Track, int]], list[_Track], np.ndarray]:
        """Match tracks to the detection ``rows``; → (pairs, unmatched tracks, unmatched rows).

        With colour signatures on the detections (``data["appearance"]``) and a non-zero
        ``appearance_weight``, the appearance distance breaks ties between overlapping tracks.
        """
        if not tracks or not len(rows):
            return [], list(tracks), rows
        track_xyxy = xyah_to_xyxy(np.stack([t.mean[:4] for t in tracks]))
        track_class = np.array([t.class_id for t in tracks])
        app_cost = None
        det_app = detections.data.get("appearance")
        if det_app is not None and self.config.appearance_weight > 0:
            dim = det_app.shape[1]
            t_app = np.stack([t.appearance if t.appearance is not None else np.zeros(dim, np.float32)
                              for t in tracks])
            app_cost = appearance_distance(t_app, det_app[rows])
            missing = np.array([t.appearance is None for t in tracks])
            app_cost[missing] = 0.0  # no signature yet: no opinion
        matches, rest_t, rest_d = match_by_iou(
            track_xyxy, track_class, detections.xyxy[rows], detections.class_id[rows], min_iou,
            app_cost, self.config.appearance_weight,
        )
        pairs = [(tracks[i], int(rows[j])) for i, j in matches]
        return pairs, [tracks[i] for i in rest_t], rows[rest_d]

    def _correct(self, pairs: list[tuple[_Track, int]], detections: Detections, pts: float) -> None:
        """Kalman-update matched tracks with their detections and count the hit."""
        if not pairs:
            return
        tracks = [t for t, _ in pairs]
        rows = np.array([r for _, r in pairs])
        mean = np.stack([t.mean for t in tracks])
        cov = np.stack([t.covariance for t in tracks])
        mean, cov = self._kalman.update(mean, cov, xyxy_to_xyah(detections.xyxy[rows]))
        det_app = detections.data.get("appearance")
        for k, (track, m, c) in enumerate(zip(tracks, mean, cov)):
            if det_app is not None:
                sig = det_app[rows[k]]
                track.appearance = sig if track.appearance is None else 0.8 * track.appearance + 0.2 * sig
            track.mean, track.covariance = m, c
            track.last_seen_s = pts
            track.lost = False
            track.hits += 1
            if not track.confirmed and track.hits >= self.config.min_hits:
                self._confirm(track)

    def _start(
        self, detections: Detections, rows: np.ndarray, pts: float, confirm: bool
    ) -> list[_Track]:
        """Start one track per detection row; confirmed at once on ``confirm`` or min_hits 1."""
        if not len(rows):
            return []
        mean, cov = self._kalman.initiate(xyxy_to_xyah(detections.xyxy[rows]))
        det_app = detections.data.get("appearance")
        tracks = [
            _Track(mean=m, covariance=c, class_id=int(k), last_seen_s=pts,
                   appearance=None if det_app is None else det_app[r])
            for m, c, k, r in zip(mean, cov, detections.class_id[rows], rows)
        ]
        for track in tracks:
            if confirm or self.config.min_hits <= 1:
                self._confirm(track)
        self._tracks.extend(tracks)
        return tracks

    def _confirm(self, track: _Track) -> None:
        track.track_id = self._next_id
        self._next_id += 1

    @staticmethod
    def _output(detections: Detections, pairs: list[tuple[_Track, int]]) -> Detections:
        """Rows of confirmed matched tracks, in input order, with their tracker ids."""
        rows = np.array(sorted(r for t, r in pairs if t.confirmed), dtype=np.int64)
        ids = {r: t.track_id for t, r in pairs if t.confirmed}
        tracker_id = np.array([ids[int(r)] for r in rows], dtype=np.int64)
        return dataclasses.replace(detections[rows], tracker_id=tracker_id)
