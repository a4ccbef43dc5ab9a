"""The uncertainty bench/eval_events.py prints beside each figure."""

from __future__ import annotations

import math

import pytest

from bench.eval_events import match, poisson_upper, wilson


def test_wilson_interval_of_small_samples():
    lo, hi = wilson(2, 7)
    assert lo == pytest.approx(0.082, abs=0.002) and hi == pytest.approx(0.641, abs=0.002)
    assert wilson(0, 7)[0] == 0.0 and wilson(7, 7)[1] == 1.0
    assert wilson(9, 10)[0] < 0.9 < wilson(90, 100)[1]  # 0.9 measured on 10 clips is not 0.9 proven
    assert all(math.isnan(x) for x in wilson(0, 0))


def test_poisson_upper_bound_of_a_count():
    assert poisson_upper(0) == pytest.approx(-math.log(0.05), rel=1e-6)  # 3.0
    assert poisson_upper(1) == pytest.approx(4.744, abs=0.01)
    assert poisson_upper(13) > 13


def test_match_by_temporal_iou():
    gt = [{"type": "carry", "start_s": 3.0, "end_s": 7.0}]
    assert match([{"type": "carry", "start_s": 4.0, "end_s": 6.0}], gt, "carry") == (1, 0, 0)
    assert match([{"type": "carry", "start_s": 6.5, "end_s": 9.0}], gt, "carry") == (0, 1, 1)
    assert match([{"type": "lead_away", "start_s": 3.0, "end_s": 7.0}], gt, "carry") == (0, 0, 1)
