"""pipeline.inner: which weak boxes count as a second person inside a tracked box."""

from __future__ import annotations

import numpy as np

from pipeline.inner import inner_confidence
from pipeline.types import Detections


def dets(boxes, conf) -> Detections:
    return Detections(xyxy=np.asarray(boxes, np.float32), confidence=np.asarray(conf, np.float32),
                      class_id=np.zeros(len(conf), np.int32))


ADULT = [100, 100, 160, 300]  # 200 px tall


def test_child_on_the_shoulders_counts():
    d = dets([ADULT, [105, 100, 155, 180]], [0.9, 0.06])
    assert inner_confidence(np.asarray([ADULT], np.float32), d).tolist() == [np.float32(0.06)]


def test_the_box_itself_legs_and_outsiders_do_not():
    d = dets([
        ADULT,                 # the tracked box itself
        [102, 102, 158, 296],  # a duplicate of it
        [110, 200, 150, 300],  # legs: bottom at the feet (standing, not held)
        [300, 100, 340, 180],  # someone else
        [120, 100, 140, 120],  # a head: too small to be a person
    ], [0.9, 0.5, 0.05, 0.2, 0.04])
    assert inner_confidence(np.asarray([ADULT], np.float32), d).tolist() == [0.0]


def test_empty_inputs():
    assert inner_confidence(np.zeros((0, 4), np.float32), dets([ADULT], [0.9])).shape == (0,)
    assert inner_confidence(np.asarray([ADULT], np.float32), Detections.empty()).tolist() == [0.0]
