"""A second person inside a tracked person's box: the weak trace of a carried child.

No detector here boxes a carried toddler on its own with any confidence, but YOLOX often
returns a weak box (confidence 0.03–0.15) on a child held on the shoulders, hip or chest,
inside the carrier's box: on the real photo of two fathers with children on their shoulders,
the merged boxes score 0.9 and the children's own boxes 0.05–0.12. Such boxes are too weak to
track (a tracker fed them would spawn ghosts on limbs and bags), so they are kept only as a
per-observation number on the carrier's track, ``inner_confidence``: the confidence of the best
box lying inside the tracked box's upper part — at least ``MIN_CONTAINED`` of it inside,
between ``REL_HEIGHT`` of the carrier's height, its bottom above ``MAX_REL_BOTTOM`` of the
way down (held, not standing) — or 0 when there is none.
"""

from __future__ import annotations

import numpy as np

from pipeline.types import Detections

MIN_CONTAINED = 0.8
REL_HEIGHT = (0.2, 0.7)
MAX_REL_BOTTOM = 0.75
SAME_BOX_IOU = 0.7


def inner_confidence(tracked: np.ndarray, detections: Detections) -> np.ndarray:
    """Per tracked box (M, 4) the best inner box's confidence among ``detections`` (0 if none).

    Args:
        tracked: (M, 4) xyxy of the tracked people in this frame.
        detections: every box the detector returned for the frame, weak ones included.

    Returns:
        (M,) float32.
    """
    out = np.zeros(len(tracked), np.float32)
    if len(tracked) == 0 or len(detections) == 0:
        return out
    d = detections.xyxy.astype(np.float64)
    d_area = np.maximum((d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1]), 1e-6)
    for m, b in enumerate(tracked.astype(np.float64)):
        h = max(b[3] - b[1], 1e-6)
        lt = np.maximum(d[:, :2], b[:2])
        rb = np.minimum(d[:, 2:], b[2:])
        inter = np.clip(rb - lt, 0, None).prod(axis=1)
        b_area = max((b[2] - b[0]) * h, 1e-6)
        iou = inter / (d_area + b_area - inter)
        rel_h = (d[:, 3] - d[:, 1]) / h
        rel_bottom = (d[:, 3] - b[1]) / h
        ok = (
            (inter / d_area >= MIN_CONTAINED)
            & (rel_h >= REL_HEIGHT[0]) & (rel_h <= REL_HEIGHT[1])
            & (rel_bottom <= MAX_REL_BOTTOM)
            & (iou < SAME_BOX_IOU)
        )
        if ok.any():
            out[m] = float(detections.confidence[ok].max())
    return out
