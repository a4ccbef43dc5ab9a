"""Adult or child, per track, from the geometry of the scene.

Cues, in order of preference (the one that decided is recorded on the track):

1. ``perspective_height``: on a ground plane seen by a fixed camera, a standing person's image
   height grows linearly with how low their feet are in the image (h ≈ a·y_foot + b). The line is
   fitted to the tracks themselves — robustly, and refitted on the tracks that sit on it, so the
   adults who dominate CCTV footage set it and children fall below it. A track's ratio is the
   median of h / h_adult(y_foot) over its observations; adults are ≈1, a child of 1.1–1.3 m
   beside 1.75 m adults is 0.6–0.75.
2. ``pair_height``: with too few tracks to fit a scene, two people seen at the same time at the
   same depth (feet at the same image height) are compared directly: the smaller one's height
   ratio to the taller.
3. nothing usable → ``unknown`` (score 0.5).

Boxes cut by the top or bottom edge of the frame are left out (their height is not the
person's). The child score is a logistic of the ratio around ``child_height_ratio``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.config import AttributesConfig
from pipeline.theil_sen import theil_sen
from pipeline.types import Track


@dataclass(frozen=True)
class Perspective:
    """Expected adult height in pixels at a foot position: h = slope·y_foot + intercept."""

    slope: float
    intercept: float
    n_tracks: int

    def adult_height(self, y_foot: np.ndarray) -> np.ndarray:
        return np.maximum(self.slope * np.asarray(y_foot) + self.intercept, 1.0)


def _usable(track: Track, frame_height: int, margin: float) -> np.ndarray:
    b = track.boxes()
    return (b[:, 1] > margin) & (b[:, 3] < frame_height - margin) & (b[:, 3] - b[:, 1] >= 12)


def fit_perspective(
    tracks: Sequence[Track], frame_height: int, config: AttributesConfig
) -> Perspective | None:
    """Fit the adult-height line from per-track medians; None with too few tracks.

    Each track contributes a few points (medians over thirds of its life) so long tracks do not
    outvote short ones. Two passes: fit all, then refit on points within 15% of the line or
    above it (children and sitting people fall away).
    """
    pts: list[tuple[float, float, int]] = []
    for t in tracks:
        ok = _usable(t, frame_height, config.edge_margin_px)
        if ok.sum() < 3:
            continue
        b = t.boxes()[ok]
        for chunk in np.array_split(np.arange(len(b)), min(3, len(b))):
            pts.append((float(np.median(b[chunk, 3])), float(np.median(b[chunk, 3] - b[chunk, 1])), t.track_id))
    n_tracks = len({p[2] for p in pts})
    if n_tracks < config.min_tracks_for_perspective:
        return None
    arr = np.asarray(pts, np.float64)
    y, h = arr[:, 0], arr[:, 1]
    slope, icpt = theil_sen(y, h)
    for _ in range(2):
        pred = np.maximum(slope * y + icpt, 1.0)
        keep = h / pred >= 0.85
        if keep.sum() < 3:
            break
        slope, icpt = theil_sen(y[keep], h[keep])
    if slope < 0:  # heads-up: feet lower must not mean smaller people; fall back to no slope
        slope, icpt = 0.0, float(np.median(h))
    return Perspective(slope, icpt, n_tracks)


def _child_score(ratio: float, config: AttributesConfig) -> float:
    # Clamped: a ratio far from the threshold (a degenerate perspective fit on a few frames
    # gave 1e3) overflowed math.exp and crashed the scan; the score is 0 or 1 there anyway.
    z = (config.child_height_ratio - ratio) / config.ratio_softness
    return 1.0 / (1.0 + math.exp(-min(max(z, -60.0), 60.0)))


def _pair_ratio(track: Track, others: Sequence[Track], frame_height: int, margin: float) -> float | None:
    """Median height ratio of ``track`` to taller people at the same depth at the same time."""
    good = np.flatnonzero(_usable(track, frame_height, margin))
    if not len(good):
        return None
    times = track.pts_s[good]
    ratios: list[np.ndarray] = []
    mine = track.boxes()
    for other in others:
        if other.track_id == track.track_id or not len(other):
            continue
        if other.end_s < times[0] or other.start_s > times[-1]:
            continue
        ot = other.pts_s
        # the last usable observation of ``track`` at each of ``other``'s instants
        pos = np.searchsorted(times, ot, side="right") - 1
        j = np.flatnonzero((pos >= 0) & _usable(other, frame_height, margin))
        j = j[times[pos[j]] == ot[j]]
        i = good[pos[j]]
        h_me = mine[i, 3] - mine[i, 1]
        ob = other.boxes()[j]
        h_o = ob[:, 3] - ob[:, 1]
        same_depth = np.abs(mine[i, 3] - ob[:, 3]) <= 0.1 * np.maximum(h_me, h_o)
        ratios.append((h_me / np.maximum(h_o, 1.0))[same_depth])
    found = np.concatenate(ratios) if ratios else np.zeros(0, np.float32)
    if len(found) < 3:
        return None
    r = float(np.median(found.astype(np.float64)))
    return r if r < 1.0 else 1.0


def classify_tracks(tracks: Sequence[Track], frame_height: int, config: AttributesConfig) -> Perspective | None:
    """Set ``attributes`` on every track: age_group, child_score, cue, height_ratio.

    Returns:
        the fitted scene perspective, or None when the pairwise cue had to be used.
    """
    persp = fit_perspective(tracks, frame_height, config)
    for t in tracks:
        ok = _usable(t, frame_height, config.edge_margin_px)
        ratio, cue = None, "unknown"
        if persp is not None and ok.sum() >= 2:
            b = t.boxes()[ok]
            ratio = float(np.median((b[:, 3] - b[:, 1]) / persp.adult_height(b[:, 3])))
            cue = "perspective_height"
        else:
            ratio = _pair_ratio(t, tracks, frame_height, config.edge_margin_px)
            cue = "pair_height" if ratio is not None else "unknown"
        score = 0.5 if ratio is None else _child_score(ratio, config)
        group = "unknown" if ratio is None else ("child" if score >= 0.5 else "adult")
        t.attributes.update(
            age_group=group,
            child_score=round(score, 3),
            age_cue=cue,
            height_ratio=None if ratio is None else round(ratio, 3),
        )
    return persp
