"""Fixtures shared by the tracking tests."""

from __future__ import annotations

import pytest

from pipeline.config import TrackerConfig


@pytest.fixture
def config() -> TrackerConfig:
    """The default tracker config (high 0.3, low 0.1, lost_timeout_s 3 s, min_hits 2)."""
    return TrackerConfig()
