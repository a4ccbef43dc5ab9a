"""The tracker registry, and contract tests every registered tracker must pass."""

from __future__ import annotations

import numpy as np
import pytest

import tracking
from pipeline.config import TrackerConfig
from pipeline.types import Detections


def _one_box(x: float = 100.0) -> Detections:
    return Detections(
        xyxy=np.array([[x, 50.0, x + 40.0, 150.0]]), confidence=[0.9], class_id=[0]
    )


def test_unknown_tracker_lists_known_names() -> None:
    with pytest.raises(ValueError, match="unknown tracker 'sort'.*bytetrack"):
        tracking.build_tracker(TrackerConfig(type="sort"))


def test_bytetrack_is_registered() -> None:
    from tracking.bytetrack import ByteTrack

    assert "bytetrack" in tracking.available_trackers()
    tracker = tracking.build_tracker(TrackerConfig(type="bytetrack", min_hits=3))
    assert isinstance(tracker, ByteTrack)
    assert tracker.config.min_hits == 3


def test_package_reexports_history() -> None:
    from tracking.history import TrackHistory

    assert tracking.TrackHistory is TrackHistory


@pytest.fixture(params=tracking.available_trackers())
def tracker(request: pytest.FixtureRequest) -> tracking.Tracker:
    return tracking.build_tracker(TrackerConfig(type=request.param))


def test_contract_is_a_tracker(tracker: tracking.Tracker) -> None:
    assert isinstance(tracker, tracking.Tracker)


def test_contract_empty_input(tracker: tracking.Tracker) -> None:
    for k in range(5):
        out = tracker.update(Detections.empty(), k * 0.1)
        assert len(out) == 0 and out.tracker_id is not None and out.tracker_id.dtype == np.int64


def test_contract_stable_ids_on_a_moving_box(tracker: tracking.Tracker) -> None:
    ids = set()
    for k in range(30):
        out = tracker.update(_one_box(100.0 + 5 * k), k / 10)
        ids.update(out.tracker_id.tolist())
    assert len(ids) == 1


def test_contract_rejects_time_going_back(tracker: tracking.Tracker) -> None:
    tracker.update(_one_box(), 2.0)
    with pytest.raises(ValueError):
        tracker.update(_one_box(), 1.0)


def test_contract_reset_restarts_ids(tracker: tracking.Tracker) -> None:
    first = [tracker.update(_one_box(), t).tracker_id.tolist() for t in (0.0, 0.1, 0.2)]
    tracker.reset()
    second = [tracker.update(_one_box(), t).tracker_id.tolist() for t in (0.0, 0.1, 0.2)]
    assert first == second
    assert first[-1] != []
