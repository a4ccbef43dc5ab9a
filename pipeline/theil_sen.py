"""Theil-Sen line fit in bounded memory.

The slope is the median of the slopes of all pairs of points: n points have n²/2 pairs, so
building them at once (as ``scipy.stats.theilslopes`` does) needs memory quadratic in n: the
perspective fit of a busy hour (pipeline.attributes, ~5,000 points) took ~670 MiB that way.
Here the pairs are visited in blocks of rows, and the median is found by counting: a sample
of the slopes brackets the middle ranks, one pass counts the slopes below the bracket and
keeps those inside it. The result is exactly the median of all pairwise slopes (the same
float as ``np.median`` over them), whatever n.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

BLOCK = 1 << 16  # pairwise slopes computed at once (512 KiB of float64 per array)
_SAMPLE = 1 << 17  # slopes sampled to bracket the median
# the bracket: the sample's quantiles at the median's rank ± this share (the sample's
# quantile has a standard error of ~0.0014 at the median: 0.005 is ~3.5 of them; the pairs
# kept in the bracket, ~1% of all, are most of the fit's memory: ~3 MiB for a busy hour)
_MARGIN = 0.005


def _slope_blocks(x: np.ndarray, y: np.ndarray, rows: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Slopes (y_i - y_j) / (x_i - x_j) of the pairs with x_i > x_j, a block of rows i at a
    time (every pair once); ``rows``: only these i."""
    idx = np.arange(len(x)) if rows is None else rows
    step = max(1, BLOCK // max(len(x), 1))
    for s in range(0, len(idx), step):
        i = idx[s:s + step]
        dx = x[i, None] - x[None, :]
        dy = y[i, None] - y[None, :]
        up = dx > 0
        yield dy[up] / dx[up]


def median_pairwise_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Median of the slopes over every pair of points with distinct x (float64 in, exact).

    Args:
        x, y: (N,) coordinates; at least two distinct x values.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) * len(x) <= 4 * BLOCK:  # small: all slopes at once
        return float(np.median(np.concatenate(list(_slope_blocks(x, y)))))
    total = sum(len(b) for b in _slope_blocks(x, y))
    ranks = [(total - 1) // 2, total // 2]  # the middle one or two, 0-based
    # a fixed-seed sample of pairs (the result does not depend on it, only the time taken)
    i, j = np.random.default_rng(0).integers(0, len(x), (2, _SAMPLE), dtype=np.int32)
    up = x[i] > x[j]
    sample = np.sort((y[i] - y[j])[up] / (x[i] - x[j])[up])
    del i, j, up
    q = ranks[0] / max(total - 1, 1)
    margin = _MARGIN
    while True:
        lo, hi = -np.inf, np.inf
        if q - margin > 0 and len(sample):
            lo = sample[int((q - margin) * (len(sample) - 1))]
        if q + margin < 1 and len(sample):
            hi = sample[int(np.ceil((q + margin) * (len(sample) - 1)))]
        below, inside = 0, []
        for b in _slope_blocks(x, y):
            below += int(np.count_nonzero(b < lo))
            inside.append(b[(b >= lo) & (b <= hi)])
        kept = np.sort(np.concatenate(inside))
        if below <= ranks[0] and below + len(kept) > ranks[1]:
            break
        margin *= 4  # the bracket missed the middle: widen it and count again
    mid = kept[[r - below for r in dict.fromkeys(ranks)]]
    return float(np.mean(mid))


def theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Theil-Sen line ``y = slope * x + intercept``: the median of all pairwise slopes, and
    intercept median(y) - slope * median(x) (what ``scipy.stats.theilslopes`` computes by
    default; written out because importing scipy.stats took most of an events-only reprocess:
    1.5-9 s of it). All x equal: slope 0 and intercept median(y).

    Args:
        x, y: (N,) points, N >= 1.

    Returns:
        (slope, intercept) as floats.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if np.ptp(x) < 1e-6:
        return 0.0, float(np.median(y))
    slope = median_pairwise_slope(x, y)
    return slope, float(np.median(y) - slope * np.median(x))
