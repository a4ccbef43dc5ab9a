"""Theil-Sen in bounded memory gives exactly the all-pairs median."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.theil_sen import median_pairwise_slope, theil_sen
from tests.memory import peak_bytes


def _all_pairs(x: np.ndarray, y: np.ndarray) -> float:
    dx = x[:, None] - x[None, :]
    dy = y[:, None] - y[None, :]
    up = dx > 0
    return float(np.median(dy[up] / dx[up]))


@pytest.mark.parametrize("n", [2, 3, 10, 700, 1500, 2600])
def test_median_pairwise_slope_is_exact(n: int) -> None:
    rng = np.random.default_rng(n)
    # rounded feet positions: many ties in x, as per-track medians of pixel rows give
    x = np.round(rng.uniform(200, 576, n), 1)
    y = 0.3 * x - 20 + rng.normal(0, 8, n)
    y[: n // 10] *= 0.6  # children and sitting people below the line
    assert median_pairwise_slope(x, y) == _all_pairs(x, y)


def test_bracket_that_misses_is_widened() -> None:
    # slopes from the sampled rows differ from the rest: the first bracket misses the median
    n = 2200
    x = np.arange(n, dtype=np.float64)
    y = np.where(np.arange(n) % 2 == 0, 5.0 * x, -3.0 * x)
    assert median_pairwise_slope(x, y) == _all_pairs(x, y)


def test_theil_sen_line_and_degenerate_x() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert theil_sen(x, 2 * x + 1) == (2.0, 1.0)
    assert theil_sen(np.ones(3), np.array([1.0, 5.0, 2.0])) == (0.0, 2.0)


def test_memory_stays_bounded_for_many_points() -> None:
    # 6,000 points: 18M pairs, ~430 MiB built at once; visited in blocks it stays small
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 576, 6000)
    y = 0.25 * x + rng.normal(0, 5, 6000)
    peak = peak_bytes(lambda: median_pairwise_slope(x, y))
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MiB"
