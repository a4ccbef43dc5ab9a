"""detector.threads: a number as given, 0 (auto) from the cores this process may use."""

from __future__ import annotations

import os

import pytest

from detectors.base import inference_threads


def test_configured_threads_are_kept():
    assert inference_threads(3) == 3
    assert inference_threads(1, workers=8) == 1


@pytest.mark.parametrize("cores, workers, expected", [
    (1, 1, 1), (2, 1, 2), (3, 1, 3), (8, 1, 4), (64, 1, 4),  # the cores, 1-4
    (8, 2, 4), (8, 4, 2), (2, 2, 1), (3, 2, 1), (16, 3, 4),  # shared among the workers
])
def test_auto_shares_the_cores_among_the_workers(monkeypatch, cores, workers, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert inference_threads(0, workers) == expected
