from __future__ import annotations

import numpy as np
import pytest

from pipeline.types import Detections, Frame, Track


def test_frame_validates_image_and_time():
    Frame(np.zeros((4, 5, 3), np.uint8), "s", 0, 0.0)
    with pytest.raises(ValueError, match="H×W×3"):
        Frame(np.zeros((4, 5), np.uint8), "s", 0, 0.0)
    with pytest.raises(ValueError, match="uint8"):
        Frame(np.zeros((4, 5, 3), np.float32), "s", 0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        Frame(np.zeros((4, 5, 3), np.uint8), "s", 0, float("nan"))


def test_detections_empty_and_mask():
    e = Detections.empty()
    assert len(e) == 0 and e.xyxy.shape == (0, 4) and e.is_empty()
    d = Detections(xyxy=[[0, 0, 10, 20], [5, 5, 6, 9]], confidence=[0.9, 0.2], class_id=[0, 0],
                   data={"k": np.array([1, 2])})
    sub = d[d.confidence > 0.5]
    assert len(sub) == 1 and sub.data["k"].tolist() == [1]
    assert d.area.tolist() == [200.0, 4.0]
    assert len(d[np.zeros(2, bool)]) == 0


def test_detections_errors_say_expected_and_actual():
    with pytest.raises(ValueError, match=r"shape \(N, 4\), got \(2, 3\)"):
        Detections(xyxy=np.zeros((2, 3)), confidence=[1, 1], class_id=[0, 0])
    with pytest.raises(ValueError, match="confidence must have length 2"):
        Detections(xyxy=np.zeros((2, 4)), confidence=[1], class_id=[0, 0])
    with pytest.raises(ValueError, match="x2 >= x1"):
        Detections(xyxy=[[10, 0, 5, 5]], confidence=[1], class_id=[0])
    with pytest.raises(ValueError, match="tracker_id must have length 1"):
        Detections(xyxy=[[0, 0, 5, 5]], confidence=[1], class_id=[0], tracker_id=[1, 2])


def test_merge_keeps_ids_only_when_all_have_them():
    a = Detections(xyxy=[[0, 0, 1, 1]], confidence=[1], class_id=[0], tracker_id=[3])
    b = Detections(xyxy=[[0, 0, 2, 2]], confidence=[1], class_id=[0], tracker_id=[4])
    assert Detections.merge([a, b]).tracker_id.tolist() == [3, 4]
    assert Detections.merge([a, Detections.empty()]).tracker_id.tolist() == [3]
    assert len(Detections.merge([])) == 0


def test_track_requires_time_order():
    t = Track(1, "s")
    t.add(0.0, 0, np.array([0, 0, 1, 1]), 0.5)
    t.add(0.1, 1, np.array([0, 0, 1, 1]), 0.5)
    assert t.start_s == 0.0 and t.end_s == 0.1 and t.boxes().shape == (2, 4)
    with pytest.raises(ValueError, match="time order"):
        t.add(0.05, 2, np.array([0, 0, 1, 1]), 0.5)
    assert t.to_dict()["n_observations"] == 2
