"""TrackHistory: per-track observations from tracker outputs."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import TrackerConfig
from pipeline.types import Detections
from tracking import TrackHistory
from tracking.bytetrack import ByteTrack


def _tracked(boxes: list[list[float]], ids: list[int], conf: float = 0.8) -> Detections:
    return Detections(
        xyxy=np.asarray(boxes, np.float32).reshape(-1, 4),
        confidence=np.full(len(boxes), conf),
        class_id=np.zeros(len(boxes)),
        tracker_id=np.asarray(ids, np.int64),
    )


def test_builds_tracks_sorted_by_id_with_times_in_order() -> None:
    history = TrackHistory("cam1.mp4")
    history.add(_tracked([[0, 0, 10, 20], [50, 0, 60, 20]], [7, 3]), 0.5, 5)
    history.add(Detections.empty(), 0.6, 6)
    history.add(_tracked([[2, 0, 12, 20]], [7], conf=0.6), 0.7, 7)
    tracks = history.tracks()
    assert [t.track_id for t in tracks] == [3, 7]
    assert len(history) == 2
    t7 = tracks[1]
    assert t7.source_id == "cam1.mp4"
    assert t7.pts_s.tolist() == [0.5, 0.7]
    assert t7.frame_index.tolist() == [5, 7]
    np.testing.assert_allclose(t7.boxes(), [[0, 0, 10, 20], [2, 0, 12, 20]])
    np.testing.assert_allclose(t7.confidence, [0.8, 0.6])
    assert (t7.start_s, t7.end_s) == (0.5, 0.7)


def test_from_a_tracker_run() -> None:
    tracker, history = ByteTrack(TrackerConfig()), TrackHistory("clip")
    for k in range(20):
        t = 0.1 * k
        dets = Detections(
            xyxy=[[100 + 50 * t, 50, 140 + 50 * t, 150], [400 - 50 * t, 50, 440 - 50 * t, 150]],
            confidence=[0.9, 0.9],
            class_id=[0, 0],
        )
        history.add(tracker.update(dets, t), t, frame_index=3 * k)
    tracks = history.tracks()
    assert [t.track_id for t in tracks] == [1, 2]
    for track in tracks:
        assert len(track) == 20
        assert np.all(np.diff(track.pts_s) > 0)
        assert track.frame_index.tolist() == [3 * k for k in range(20)]
    assert np.all(np.diff(tracks[0].boxes()[:, 0]) > 0)  # track 1 moves right
    assert np.all(np.diff(tracks[1].boxes()[:, 0]) < 0)


def test_untracked_detections_are_rejected() -> None:
    history = TrackHistory("clip")
    untracked = Detections(xyxy=[[0, 0, 1, 1]], confidence=[0.9], class_id=[0])
    with pytest.raises(ValueError, match="tracker_id"):
        history.add(untracked, 0.0, 0)


def test_repeated_id_in_one_frame_is_rejected() -> None:
    history = TrackHistory("clip")
    with pytest.raises(ValueError, match=r"repeated ids \[4\]"):
        history.add(_tracked([[0, 0, 1, 1], [5, 5, 6, 6]], [4, 4]), 0.0, 0)


def test_time_going_back_is_rejected() -> None:
    history = TrackHistory("clip")
    history.add(_tracked([[0, 0, 1, 1]], [1]), 1.0, 10)
    with pytest.raises(ValueError, match="time order"):
        history.add(_tracked([[0, 0, 1, 1]], [1]), 0.5, 5)


def test_reset() -> None:
    history = TrackHistory("clip")
    history.add(_tracked([[0, 0, 1, 1]], [1]), 0.0, 0)
    history.reset()
    assert len(history) == 0 and history.tracks() == []
    assert history.source_id == "clip"


def test_tracks_keep_their_room_until_the_end() -> None:
    history = TrackHistory("clip")
    for k in range(100):
        history.add(_tracked([[0, 0, 10, 20]], [1]), 0.1 * k, k)
    for k in range(100, 200):
        history.add(_tracked([[50, 0, 60, 20]], [2]), 0.1 * k, k)
    assert history[1].spare_rows > 0
    assert all(t.spare_rows == 0 for t in history.tracks())
