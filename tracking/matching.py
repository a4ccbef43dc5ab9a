"""Gated one-to-one assignment of track boxes to detection boxes by IoU."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from pipeline.boxes import box_iou

_INVALID_COST = 1e6  # cost of a gated-out pair: never chosen, leaving unmatched is cheaper


def _assign(cost: np.ndarray, valid: np.ndarray, limit: float) -> np.ndarray:
    """Minimum-cost assignment where leaving a track or a detection unmatched is allowed.

    Each side may stay unmatched at ``limit / 2`` (the lapjv ``cost_limit`` semantics), so a
    good pair is never traded for two mediocre ones just to match more boxes: when one person
    hides another while crossing, the visible box goes to the track that fits it best and the
    hidden person's track waits, instead of the boxes being dealt out to both tracks.
    """
    n_t, n_d = cost.shape
    big = np.full((n_t + n_d, n_d + n_t), _INVALID_COST)
    big[:n_t, :n_d] = cost
    big[np.arange(n_t), n_d + np.arange(n_t)] = limit / 2
    big[n_t + np.arange(n_d), np.arange(n_d)] = limit / 2
    big[n_t:, n_d:] = 0.0
    rows, cols = linear_sum_assignment(big)
    real = (rows < n_t) & (cols < n_d)
    rows, cols = rows[real], cols[real]
    keep = valid[rows, cols]
    return np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)


def match_by_iou(
    track_xyxy: np.ndarray,
    track_class: np.ndarray,
    det_xyxy: np.ndarray,
    det_class: np.ndarray,
    min_iou: float | np.ndarray,
    appearance_cost: np.ndarray | None = None,
    appearance_weight: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hungarian assignment maximising IoU, keeping pairs of the same class with IoU >= min_iou.

    Args:
        track_xyxy: (T, 4) predicted track boxes, absolute pixels.
        track_class: (T,) class ids of the tracks.
        det_xyxy: (D, 4) detection boxes, absolute pixels.
        det_class: (D,) class ids of the detections.
        min_iou: smallest IoU a kept pair may have, in (0, 1]; a scalar, or (T,) one per track
            (lost tracks get a looser gate: their prediction drifts while they are unseen).
        appearance_cost: optional (T, D) appearance distances in [0, 1]; added to the cost of
            pairs that pass the IoU gate, weighted by ``appearance_weight``, so that when two
            tracks overlap one detection (people crossing) the one that looks like it wins.
        appearance_weight: weight of ``appearance_cost`` (0 = IoU only).

    Returns:
        ``matches`` (K, 2) int64 rows of ``(track_row, det_row)``; the unmatched track rows
        (T - K,) and unmatched detection rows (D - K,), int64, ascending.
    """
    n_t, n_d = len(track_xyxy), len(det_xyxy)
    matches = np.zeros((0, 2), np.int64)
    if n_t and n_d:
        iou = box_iou(track_xyxy, det_xyxy).astype(np.float64)
        same_class = np.asarray(track_class)[:, None] == np.asarray(det_class)[None, :]
        gate = np.broadcast_to(np.asarray(min_iou, np.float64), (n_t,))
        valid = same_class & (iou >= gate[:, None])
        if valid.any():
            cost = 1.0 - iou
            if appearance_cost is not None and appearance_weight > 0:
                cost = cost + appearance_weight * np.asarray(appearance_cost, np.float64)
            # Leaving a pair unmatched costs the IoU gate plus half the appearance weight: a pair
            # at the IoU gate that also looks unlike the track is not worth taking.
            limit = (1.0 - float(gate.min())) + (0.5 * appearance_weight if appearance_cost is not None else 0.0)
            matches = _assign(np.where(valid, cost, _INVALID_COST), valid, limit)
    unmatched_t = np.setdiff1d(np.arange(n_t), matches[:, 0]).astype(np.int64)
    unmatched_d = np.setdiff1d(np.arange(n_d), matches[:, 1]).astype(np.int64)
    return matches, unmatched_t, unmatched_d
