"""detector.threads and ingest.decode_threads: a number as given, 0 (auto) from the cores this
process may use."""

from __future__ import annotations

import os

import pytest

from detectors.base import inference_threads
from pipeline.ingest import decoder_threads


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


@pytest.mark.parametrize("cores, size, expected", [
    (2, (768, 432), 1), (1, (1279, 720), 1), (2, (720, 1280), 0), (2, (1920, 1080), 0),
    (4, (768, 432), 0), (2, (None, None), 0),  # 3+ cores, or a size not known: libav's choice
])
def test_auto_decoder_threads_follow_the_frame_size_and_the_cores(monkeypatch, cores, size, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert decoder_threads(0, *size) == expected
    assert decoder_threads(2, *size) == 2  # a number as given
