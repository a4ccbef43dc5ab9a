"""Motion gating: decide per frame whether the person detector needs to run at all.

CCTV spends most of its hours on an unchanged scene. Running a CNN on every such frame costs
~40 ms for nothing. A frame is shrunk to a small grey image (``motion_width`` pixels wide,
~0.2 ms), blurred, and compared with the frame the detector last ran on: when fewer than
``motion_min_area`` of its pixels changed by more than ``motion_pixel_threshold`` grey levels,
the scene is the same as at the last detection and that detection still holds.

The comparison is against the *last detected* frame, not the previous frame, so slow motion
(a person edging in over many frames) accumulates until it is seen. A detection is forced at
least every ``motion_refresh_s`` seconds whatever the difference says (a slow change below the
threshold, a person standing very still), so a gated scene is never blind for longer.
"""

from __future__ import annotations

import cv2
import numpy as np


class MotionGate:
    """Frame differencing at low resolution against the last frame the detector ran on.

    Args:
        width: width in pixels of the grey image compared (height keeps the aspect ratio).
        pixel_threshold: grey-level difference (0-255) above which a pixel counts as changed.
        min_area: fraction (0-1) of changed pixels from which the frame counts as moving.
        refresh_s: a detection is due after this many seconds without one, moving or not.

    Raises:
        ValueError: an argument is out of range (the message says which and what came).
    """

    def __init__(self, width: int = 160, pixel_threshold: int = 18, min_area: float = 0.0005,
                 refresh_s: float = 2.0) -> None:
        if width < 16:
            raise ValueError(f"MotionGate: width must be >= 16 pixels, got {width}")
        if not 0 < pixel_threshold < 256:
            raise ValueError(f"MotionGate: pixel_threshold must be in 1..255, got {pixel_threshold}")
        if not 0.0 <= min_area <= 1.0:
            raise ValueError(f"MotionGate: min_area must be a fraction in [0, 1], got {min_area}")
        if refresh_s <= 0:
            raise ValueError(f"MotionGate: refresh_s must be > 0 seconds, got {refresh_s}")
        self.width = width
        self.pixel_threshold = pixel_threshold
        self.min_area = min_area
        self.refresh_s = refresh_s
        self.reset()

    def reset(self) -> None:
        """Forget the reference frame (call between sources)."""
        self._ref: np.ndarray | None = None
        self._ref_pts_s: float | None = None
        self.last_changed = 0.0

    def small(self, image: np.ndarray) -> np.ndarray:
        """(h, width) uint8 blurred grey copy of an H×W×3 uint8 BGR image."""
        h, w = image.shape[:2]
        sw = min(self.width, w)
        sh = max(1, round(h * sw / max(w, 1)))
        grey = cv2.cvtColor(cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA),
                            cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (3, 3), 0)

    def changed_fraction(self, small: np.ndarray) -> float:
        """Fraction (0-1) of pixels of ``small`` that differ from the reference; 1 without one."""
        if self._ref is None or self._ref.shape != small.shape:
            return 1.0
        diff = cv2.absdiff(small, self._ref)
        return float(np.count_nonzero(diff > self.pixel_threshold)) / diff.size

    def needs_detection(self, image: np.ndarray, pts_s: float) -> tuple[bool, np.ndarray]:
        """Whether this frame must be detected, and its small grey copy (for :meth:`detected`).

        True when there is no reference yet, the refresh time has passed since the last
        detection, or enough of the scene changed since it.
        """
        small = self.small(image)
        self.last_changed = self.changed_fraction(small)
        if self._ref_pts_s is None or pts_s - self._ref_pts_s >= self.refresh_s:
            return True, small
        return self.last_changed >= self.min_area, small

    def detected(self, small: np.ndarray, pts_s: float) -> None:
        """Record that the detector ran on the frame whose small copy is ``small``."""
        self._ref = small
        self._ref_pts_s = pts_s
