"""The small protocol every person detector adapter follows."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from detectors.models import ResolvedModel
from pipeline.cores import usable_cores
from pipeline.types import Detections


def inference_threads(configured: int, workers: int = 1) -> int:
    """CPU threads for one detector: ``configured``, or for 0 (auto) the cores this process
    may run on, shared among ``workers`` detectors on the machine, at least 1 and at most 4
    (a small network gains little beyond). The detectors' outputs do not depend on it.

    Not one core fewer for the decoder: with one worker on 2 cores, 1 thread took 84 s against
    73 s for 2 on two busy 5-minute files (detection is the bottleneck there); the sparse file
    was 7% faster with 1 thread and a deep reader queue, the smaller gain."""
    if configured > 0:
        return configured
    return max(1, min(4, usable_cores() // max(1, workers)))


class PersonDetector(Protocol):
    """Finds persons in one image.

    ``detect`` takes an H×W×3 uint8 BGR image and returns Detections in that image's absolute
    pixel coordinates with ``class_id`` 0 (person) for every box.
    """

    model: ResolvedModel

    def detect(self, image: np.ndarray, run: list[bool] | None = None,
               cache: list | None = None) -> Detections:
        """``run``/``cache``: run only some of :meth:`windows`, reuse the others' last boxes
        (detectors.tiling.detect_tiled)."""
        ...

    def windows(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """The crops (x1, y1, x2, y2) ``detect`` runs the network on for a frame of this size."""
        ...
