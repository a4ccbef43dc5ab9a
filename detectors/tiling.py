"""Run a square-input detector on overlapping square tiles of a wide frame.

A 416-px detector sees a 1920×1080 frame shrunk 4.6×, and small or distant people vanish.
Square tiles of the frame's full height keep 2.6× more pixels per person at the cost of one
inference per tile (ENVIRONMENT.md measured person AP50 0.40 → 0.55 on MOT17-mini with two tiles).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import numpy as np

from pipeline.boxes import nms
from pipeline.types import Detections


def tile_windows(width: int, height: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """Square windows of side min(width, height) covering the frame with at least ``overlap``.

    Returns:
        list of (x1, y1, x2, y2) integer pixel windows; one window when the frame is square.
    """
    side = min(width, height)
    long_side = max(width, height)
    if long_side <= side:
        return [(0, 0, width, height)]
    n = max(2, math.ceil((long_side - side * overlap) / (side * (1.0 - overlap))))
    starts = np.linspace(0, long_side - side, n).round().astype(int)
    if width >= height:
        return [(int(s), 0, int(s) + side, height) for s in starts]
    return [(0, int(s), width, int(s) + side) for s in starts]


def windows_for(tiling: str, overlap: float, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The crops a detector runs on for a frame of this size under a tiling policy.

    ``off``: the whole frame; ``always``: square tiles; ``auto``: square tiles when the frame's
    aspect ratio is at least 1.3 (wide CCTV and 16:9 footage), else the whole frame.
    """
    aspect = max(width, height) / max(1, min(width, height))
    if tiling == "always" or (tiling == "auto" and aspect >= 1.3):
        return tile_windows(width, height, overlap)
    return [(0, 0, width, height)]


Window = tuple[int, int, int, int]


class TiledDetector:
    """``windows`` and ``detect`` for a detector adapter that defines ``config`` (a
    DetectorConfig: tiling, tile_overlap, nms_iou) and ``detect_one(image)``.

    An adapter whose ``detect_one`` may run in several threads at once sets ``tile_lanes``
    above 1: the windows of one frame then run side by side, in that many threads.
    """

    config: Any
    detect_one: Callable[[np.ndarray], Detections]
    tile_lanes: int = 1

    def windows(self, width: int, height: int) -> list[Window]:
        """The crops (x1, y1, x2, y2) the detector runs on for a frame of this size."""
        known: dict[tuple[int, int], list[Window]] = self.__dict__.setdefault("_windows", {})
        if (width, height) not in known:
            c = self.config
            known[(width, height)] = windows_for(c.tiling, c.tile_overlap, width, height)
        return known[(width, height)]

    def detect(self, image: np.ndarray, run: list[bool] | None = None,
               cache: list | None = None) -> Detections:
        """Detect persons in an H×W×3 uint8 BGR frame; xyxy in frame pixels, class_id 0.

        ``run``/``cache``: run only some of :meth:`windows` and reuse the others' last boxes
        (:func:`detect_tiled`)."""
        h, w = image.shape[:2]
        return detect_tiled(image, self.detect_one, self.windows(w, h), self.config.nms_iou,
                            run, cache, self._lanes())

    def _lanes(self) -> Executor | None:
        if self.tile_lanes < 2:
            return None
        pool = self.__dict__.get("_lane_pool")
        if pool is None:
            pool = self.__dict__["_lane_pool"] = ThreadPoolExecutor(
                self.tile_lanes, thread_name_prefix="reunite-tile")
        return pool


def detect_tiled(
    image: np.ndarray,
    detect_one: Callable[[np.ndarray], Detections],
    windows: list[Window],
    nms_iou: float,
    run: list[bool] | None = None,
    cache: list[tuple[Detections, np.ndarray] | None] | None = None,
    lanes: Executor | None = None,
) -> Detections:
    """Detect in each window, shift to frame coordinates, and merge.

    Merging: a box cut by a window's inner edge (it touches an edge that is not the frame's)
    is dropped when another window's box covers most of it; the rest goes through NMS.

    Args:
        image: H×W×3 uint8 BGR frame.
        detect_one: detector on one crop, returning crop pixel coordinates.
        windows: (x1, y1, x2, y2) crops from :func:`tile_windows`.
        nms_iou: IoU above which overlapping duplicates across windows are merged.
        run: which windows to run the detector on (None: all). A window not run contributes
            its boxes from the last time it ran (``cache``): the motion gate found nothing
            changed in it since (pipeline.detect_schedule).
        cache: one slot per window, the (boxes, cut flags) of its last run; slots of the
            windows run are overwritten. Needed with ``run``; one list per source.
        lanes: threads to run the windows in side by side (``detect_one`` must allow it);
            None: one after another. The result is the same either way.
    """
    h, w = image.shape[:2]
    if run is None and len(windows) == 1 and windows[0] == (0, 0, w, h):
        return detect_one(image)
    if run is not None and (cache is None or len(cache) != len(windows) or len(run) != len(windows)):
        raise ValueError("detect_tiled: run needs a cache, one slot per window")
    todo = [k for k in range(len(windows)) if run is None or run[k] or cache[k] is None]  # type: ignore[index]
    fresh: dict[int, tuple[Detections, np.ndarray]] = {}
    if lanes is not None and len(todo) > 1:
        fresh = dict(zip(todo, lanes.map(lambda k: _detect_window(image, detect_one, windows[k]), todo)))
    parts: list[Detections] = []
    cut_flags: list[np.ndarray] = []
    for k, win in enumerate(windows):
        if k in todo:
            got = fresh[k] if k in fresh else _detect_window(image, detect_one, win)
            if cache is not None:
                cache[k] = got
        else:
            got = cache[k]  # type: ignore[index]
        det, cut = got  # type: ignore[misc]
        if len(det):
            parts.append(det)
            cut_flags.append(cut)
    if not parts:
        return Detections.empty()
    if len(parts) == 1 and len(windows) == 1:
        return parts[0]
    merged = Detections.merge(parts)
    cut = np.concatenate(cut_flags)
    keep = np.ones(len(merged), bool)
    if cut.any():
        xyxy = merged.xyxy
        area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
        for i in np.flatnonzero(cut):
            lt = np.maximum(xyxy[i, :2], xyxy[:, :2])
            rb = np.minimum(xyxy[i, 2:], xyxy[:, 2:])
            inter = np.clip(rb - lt, 0, None).prod(axis=1)
            inter[i] = 0
            # Another box holds most of this cut box and is at least as big: a fragment.
            frag = (inter >= 0.6 * max(area[i], 1e-6)) & (area >= area[i]) & keep
            frag[i] = False
            if frag.any():
                keep[i] = False
    merged = merged[keep]
    return merged[nms(merged.xyxy, merged.confidence, nms_iou)]


def _detect_window(image: np.ndarray, detect_one: Callable[[np.ndarray], Detections],
                   win: Window) -> tuple[Detections, np.ndarray]:
    """One window's boxes in frame coordinates, and which of them touch an inner edge."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = win
    det = detect_one(image[y1:y2, x1:x2])
    if len(det) == 0:
        return det, np.zeros(0, bool)
    det.xyxy = det.xyxy + np.array([x1, y1, x1, y1], np.float32)
    edge = 2.0
    cut = np.zeros(len(det), bool)
    if x1 > 0:
        cut |= det.xyxy[:, 0] <= x1 + edge
    if x2 < w:
        cut |= det.xyxy[:, 2] >= x2 - edge
    if y1 > 0:
        cut |= det.xyxy[:, 1] <= y1 + edge
    if y2 < h:
        cut |= det.xyxy[:, 3] >= y2 - edge
    return det, cut
