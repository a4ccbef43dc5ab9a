"""Behaviour of the pts-driven ByteTrack on synthetic boxes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from pipeline.boxes import box_iou
from pipeline.config import TrackerConfig
from pipeline.types import Detections
from tracking.bytetrack import ByteTrack


def box_at(cx: float, cy: float, w: float = 40.0, h: float = 100.0) -> list[float]:
    """xyxy pixels of a w×h box centred on (cx, cy)."""
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def make_dets(
    boxes: Sequence[Sequence[float]] | np.ndarray,
    confidence: float | Sequence[float] = 0.9,
    class_id: int | Sequence[int] = 0,
    **data: Sequence[object],
) -> Detections:
    """Detections of (N, 4) xyxy pixel boxes with one confidence / class for all, or one each."""
    xyxy = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(xyxy)
    return Detections(
        xyxy=xyxy,
        confidence=np.broadcast_to(np.asarray(confidence, np.float32), (n,)),
        class_id=np.broadcast_to(np.asarray(class_id, np.int32), (n,)),
        data={k: np.asarray(v) for k, v in data.items()},
    )


def run(tracker: ByteTrack, frames: list[tuple[float, Detections]]) -> list[list[int]]:
    """Feed (pts_s, detections) pairs; → the tracker ids returned per frame, in row order."""
    return [tracker.update(d, t).tracker_id.tolist() for t, d in frames]


def test_empty_input_gives_empty_output(config: TrackerConfig) -> None:
    tracker = ByteTrack(config)
    out = tracker.update(Detections.empty(), 0.0)
    assert len(out) == 0
    assert out.xyxy.shape == (0, 4)
    assert out.tracker_id is not None and out.tracker_id.dtype == np.int64
    assert out.tracker_id.shape == (0,)


def test_blank_sequence_creates_no_tracks(config: TrackerConfig) -> None:
    tracker = ByteTrack(config)
    for i in range(50):
        assert len(tracker.update(Detections.empty(), i / 10)) == 0
    assert tracker.num_tracks == 0
    # Only the stream's first update confirms at once: a later box waits for min_hits (2).
    assert run(tracker, [(5.0, make_dets([box_at(100, 100)]))]) == [[]]
    assert run(tracker, [(5.1, make_dets([box_at(100, 100)]))]) == [[1]]


def test_first_update_confirms_at_once(config: TrackerConfig) -> None:
    tracker = ByteTrack(config)
    out = tracker.update(make_dets([box_at(100, 100), box_at(300, 100)]), 0.0)
    assert out.tracker_id.tolist() == [1, 2]


@pytest.mark.parametrize("min_hits", [1, 2, 3, 5])
def test_confirmation_after_min_hits_consecutive_matches(min_hits: int) -> None:
    tracker = ByteTrack(TrackerConfig(min_hits=min_hits))
    tracker.update(Detections.empty(), 0.0)  # the stream starts empty
    ids = run(tracker, [(0.1 * k, make_dets([box_at(100, 100)])) for k in range(1, 8)])
    assert ids == [[]] * (min_hits - 1) + [[1]] * (8 - min_hits)


def test_unconfirmed_track_dropped_when_missed(config: TrackerConfig) -> None:
    tracker = ByteTrack(config)
    tracker.update(Detections.empty(), 0.0)
    blip = make_dets([box_at(100, 100)])
    # seen, missed, seen, seen: the miss breaks the run of hits, the id comes one update later.
    ids = run(tracker, [(0.1, blip), (0.2, Detections.empty()), (0.3, blip), (0.4, blip)])
    assert ids == [[], [], [], [1]]
    assert tracker.num_tracks == 1


def test_crossing_boxes_of_same_size_keep_ids(config: TrackerConfig) -> None:
    """Two equal boxes on one line at ±300 px/s swap sides between two frames.

    Matching the last positions would swap the ids (after the crossing each box overlaps the
    other's last box more than its own); the motion model must carry each through.
    """
    rng = np.random.default_rng(3)
    tracker = ByteTrack(config)
    seen: dict[str, set[int]] = {"right": set(), "left": set()}
    for k in range(41):
        t = k / 30
        xs = {"right": 100 + 300 * t, "left": 505 - 300 * t}
        names = list(xs)
        rng.shuffle(names)  # row order must not matter
        out = tracker.update(make_dets([box_at(xs[n], 200) for n in names]), t)
        assert len(out) == 2
        for row, tid in enumerate(out.tracker_id.tolist()):
            seen[names[row]].add(tid)
    assert seen == {"right": {1}, "left": {2}} or seen == {"right": {2}, "left": {1}}


@pytest.mark.parametrize("speed", [0.0, 120.0], ids=["static", "moving"])
@pytest.mark.parametrize("fps", [10.0, 30.0])
def test_id_survives_occlusion_shorter_than_timeout(speed: float, fps: float) -> None:
    tracker = ByteTrack(TrackerConfig(lost_timeout_s=3.0))
    ids: set[int] = set()
    for k in range(int(6 * fps)):
        t = k / fps
        hidden = 1.0 <= t < 3.5  # 2.5 s behind a pillar
        dets = Detections.empty() if hidden else make_dets([box_at(100 + speed * t, 200)])
        out = tracker.update(dets, t)
        if not hidden:
            assert len(out) == 1, f"box not tracked at {t:.2f} s"
        ids.update(out.tracker_id.tolist())
    assert ids == {1}


@pytest.mark.parametrize("fps", [10.0, 30.0])
def test_new_id_after_gap_longer_than_timeout(fps: float) -> None:
    tracker = ByteTrack(TrackerConfig(lost_timeout_s=3.0))
    before: set[int] = set()
    after: set[int] = set()
    for k in range(int(7 * fps)):
        t = k / fps
        hidden = 1.0 <= t < 4.5  # 3.5 s gone
        dets = Detections.empty() if hidden else make_dets([box_at(100, 200)])
        (after if t >= 4.5 else before).update(tracker.update(dets, t).tracker_id.tolist())
    assert before == {1}
    assert after == {2}


@pytest.mark.parametrize(("gap_s", "same_id"), [(2.5, True), (3.5, False)])
def test_timeout_counts_seconds_even_without_calls(gap_s: float, same_id: bool) -> None:
    """A jump in pts with no frames in between ages tracks by the pts difference."""
    tracker = ByteTrack(TrackerConfig(lost_timeout_s=3.0))
    d = make_dets([box_at(100, 200)])
    first = run(tracker, [(0.0, d), (0.1, d)])
    later = run(tracker, [(0.1 + gap_s, d), (0.2 + gap_s, d)])
    assert first == [[1], [1]]
    assert later == ([[1], [1]] if same_id else [[], [2]])


def test_timeout_is_seconds_not_frames() -> None:
    """40 missed frames: 1.3 s at 30 fps keeps the id, 4 s at 10 fps loses it."""
    for fps, expected in [(30.0, {1}), (10.0, {2})]:
        tracker = ByteTrack(TrackerConfig(lost_timeout_s=3.0))
        frames = [make_dets([box_at(100, 200)])] * 5 + [Detections.empty()] * 40
        frames += [make_dets([box_at(100, 200)])] * 5
        ids = run(tracker, [(k / fps, d) for k, d in enumerate(frames)])
        assert set(sum(ids[45:], [])) == expected, fps


def _fast_box_sequence(times: list[float], speed: float) -> list[Detections]:
    return [make_dets([box_at(100 + speed * t, 300)]) for t in times]


def test_big_pts_gap_with_constant_velocity_keeps_id(config: TrackerConfig) -> None:
    """After a 0.5 s gap a 300 px/s box is 150 px on, far from overlapping its last box.

    Only a prediction by the pts difference lands on it; the control run feeds the same boxes
    with frame-count time (index / 30 fps) and must lose the id.
    """
    times = [k / 30 for k in range(10)] + [9 / 30 + 0.5 + k / 30 for k in range(5)]
    frames = _fast_box_sequence(times, speed=300.0)
    assert box_iou(frames[9].xyxy, frames[10].xyxy)[0, 0] == 0.0  # the premise of the test

    ids = run(ByteTrack(config), list(zip(times, frames)))
    assert all(row == [1] for row in ids), ids

    control = run(ByteTrack(config), [(k / 30, d) for k, d in enumerate(frames)])
    assert control[10] == [] and control[-1] == [2], control


def test_variable_frame_rate_fast_motion_keeps_id(config: TrackerConfig) -> None:
    """dt alternates 0.033 s and 0.2 s; at 400 px/s a 40 px box jumps 80 px in the long steps.

    The track first sees 6 frames at 30 fps: a new track starts with zero velocity, and no
    tracker can follow a box whose first step already leaves its own footprint.
    """
    times = np.cumsum([0.0] + [1 / 30] * 6 + [0.033, 0.2] * 15).tolist()
    frames = _fast_box_sequence(times, speed=400.0)
    assert box_iou(frames[7].xyxy, frames[8].xyxy)[0, 0] == 0.0  # no overlap across a long step

    ids = run(ByteTrack(config), list(zip(times, frames)))
    assert all(row == [1] for row in ids), ids

    control = run(ByteTrack(config), [(k / 30, d) for k, d in enumerate(frames)])
    assert len({i for row in control for i in row}) > 1, control


@pytest.mark.parametrize("bad", [1.0, 0.5, float("nan"), float("inf")])
def test_non_increasing_or_non_finite_pts_raises(config: TrackerConfig, bad: float) -> None:
    tracker = ByteTrack(config)
    d = make_dets([box_at(100, 100)])
    tracker.update(d, 1.0)
    with pytest.raises(ValueError, match="pts_s"):
        tracker.update(d, bad)
    assert tracker.update(d, 1.1).tracker_id.tolist() == [1]  # state intact after the error


def test_instances_do_not_share_ids(config: TrackerConfig) -> None:
    a, b = ByteTrack(config), ByteTrack(config)
    d = make_dets([box_at(100, 100), box_at(300, 100)])
    assert a.update(d, 0.0).tracker_id.tolist() == [1, 2]
    assert b.update(d[:1], 0.0).tracker_id.tolist() == [1]
    assert a.update(d, 0.1).tracker_id.tolist() == [1, 2]


def test_reset_restarts_ids_and_clock(config: TrackerConfig) -> None:
    tracker = ByteTrack(config)
    run(tracker, [(t, make_dets([box_at(100 + 500 * t, 100)])) for t in (0.0, 1.0, 2.0)])
    tracker.reset()
    assert tracker.num_tracks == 0
    out = tracker.update(make_dets([box_at(400, 400)]), 0.0)  # pts may start again
    assert out.tracker_id.tolist() == [1]


def test_low_confidence_box_keeps_tracked_id(config: TrackerConfig) -> None:
    tracker = ByteTrack(config)  # high 0.3, low 0.1
    confs = [0.9, 0.9, 0.2, 0.15, 0.9]
    ids = run(tracker, [(k / 10, make_dets([box_at(100, 100)], c)) for k, c in enumerate(confs)])
    assert ids == [[1]] * 5
    assert run(tracker, [(0.5, make_dets([box_at(100, 100)], 0.05))]) == [[]]  # below low


def test_low_confidence_box_does_not_revive_lost_or_tentative_tracks(
    config: TrackerConfig,
) -> None:
    """As ByteTrack: low boxes only extend tracks that were matched in the previous update."""
    tracker = ByteTrack(config)
    here = box_at(100, 100)
    ids = run(tracker, [
        (0.0, make_dets([here], 0.9)),
        (0.1, Detections.empty()),  # track 1 becomes lost
        (0.2, make_dets([here], 0.2)),  # a low box cannot bring it back
        (0.3, make_dets([here], 0.9)),  # a high box can
    ])
    assert ids == [[1], [], [], [1]]
    there = box_at(400, 100)
    ids = run(tracker, [
        (0.4, make_dets([here, there], [0.9, 0.9])),  # `there` starts a tentative track
        (0.5, make_dets([here, there], [0.9, 0.2])),  # which a low box does not confirm
        (0.6, make_dets([here, there], [0.9, 0.9])),
        (0.7, make_dets([here, there], [0.9, 0.9])),
    ])
    assert ids == [[1], [1], [1], [1, 2]]


def test_low_confidence_boxes_never_start_tracks(config: TrackerConfig) -> None:
    tracker = ByteTrack(config)
    # 0.2 is a low box; 0.32 is high but under new_track_threshold 0.35.
    for k in range(10):
        out = tracker.update(make_dets([box_at(100, 100), box_at(300, 100)], [0.2, 0.32]), k / 10)
        assert len(out) == 0
    assert tracker.num_tracks == 0


def test_classes_are_not_mixed(config: TrackerConfig) -> None:
    tracker = ByteTrack(config)
    ids = run(tracker, [
        (0.0, make_dets([box_at(100, 100)], class_id=0)),
        (0.1, make_dets([box_at(100, 100)], class_id=2)),
        (0.2, make_dets([box_at(100, 100)], class_id=2)),
    ])
    assert ids == [[1], [], [2]]


def test_output_is_the_detection_rows_with_data(config: TrackerConfig) -> None:
    tracker = ByteTrack(config)
    boxes = [box_at(100, 100), box_at(300, 100), box_at(500, 100)]
    d0 = make_dets(boxes, [0.9, 0.05, 0.8], class_id=[0, 0, 1], tag=["a", "b", "c"])
    out = tracker.update(d0, 0.0)
    assert out.data["tag"].tolist() == ["a", "c"]  # the 0.05 box is dropped
    jittered = np.asarray(boxes, np.float32)[[2, 0]] + 3.0
    d1 = make_dets(jittered, [0.7, 0.6], class_id=[1, 0], tag=["c2", "a2"])
    out = tracker.update(d1, 0.1)
    assert out.tracker_id.tolist() == [2, 1]  # input row order, ids follow the boxes
    np.testing.assert_array_equal(out.xyxy, jittered)  # the detection's box, not the Kalman one
    np.testing.assert_array_equal(out.confidence, np.float32([0.7, 0.6]))
    assert out.class_id.tolist() == [1, 0]
    assert out.data["tag"].tolist() == ["c2", "a2"]


def test_low_above_high_threshold_is_rejected() -> None:
    with pytest.raises(ValueError, match="low_threshold"):
        ByteTrack(TrackerConfig(low_threshold=0.5, high_threshold=0.3))
