"""The small protocol every person detector adapter follows."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from detectors.models import ResolvedModel
from pipeline.types import Detections


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
