"""Gated one-to-one assignment of track boxes to detection boxes by IoU."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from pipeline.boxes import box_iou

_INVALID_COST = 1e6  # cost of a gated-out pair: taken only where nothing valid is left


def match_by_iou(
    track_xyxy: np.ndarray,
    track_class: np.ndarray,
    det_xyxy: np.ndarray,
    det_class: np.ndarray,
    min_iou: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hungarian assignment maximising IoU, keeping pairs of the same class with IoU >= min_iou.

    Args:
        track_xyxy: (T, 4) predicted track boxes, absolute pixels.
        track_class: (T,) class ids of the tracks.
        det_xyxy: (D, 4) detection boxes, absolute pixels.
        det_class: (D,) class ids of the detections.
        min_iou: smallest IoU a kept pair may have, in (0, 1].

    Returns:
        ``matches`` (K, 2) int64 rows of ``(track_row, det_row)``; the unmatched track rows
        (T - K,) and unmatched detection rows (D - K,), int64, ascending.
    """
    n_t, n_d = len(track_xyxy), len(det_xyxy)
    matches = np.zeros((0, 2), np.int64)
    if n_t and n_d:
        iou = box_iou(track_xyxy, det_xyxy).astype(np.float64)
        same_class = np.asarray(track_class)[:, None] == np.asarray(det_class)[None, :]
        valid = same_class & (iou >= min_iou)
        if valid.any():
            cost = np.where(valid, 1.0 - iou, _INVALID_COST)
            rows, cols = linear_sum_assignment(cost)
            keep = valid[rows, cols]
            matches = np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)
    unmatched_t = np.setdiff1d(np.arange(n_t), matches[:, 0]).astype(np.int64)
    unmatched_d = np.setdiff1d(np.arange(n_d), matches[:, 1]).astype(np.int64)
    return matches, unmatched_t, unmatched_d
