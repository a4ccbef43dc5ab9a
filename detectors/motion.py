"""Motion gating: decide per frame whether the person detector needs to run at all.

CCTV spends most of its hours on an unchanged scene. Running a CNN on every such frame costs
~40 ms for nothing. A frame is shrunk to a small grey image (``motion_width`` pixels wide),
blurred (~0.04 ms in all from 768x432), and compared with the frame the detector last ran on:
when fewer than ``motion_min_area`` of its pixels changed by more than
``motion_pixel_threshold`` grey levels, the scene is the same as at the last detection and that
detection still holds.

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
        """Forget the reference frames (call between sources)."""
        # per region: (small grey copy when the detector last ran on it, its pts)
        self._ref: list[np.ndarray | None] = [None]
        self._ref_pts_s: list[float | None] = [None]
        self._regions: list[tuple[int, int, int, int]] | None = None  # in small-image pixels
        self.last_changed = 0.0

    def small(self, image: np.ndarray) -> np.ndarray:
        """(h, width) uint8 blurred grey copy of an H×W×3 uint8 BGR image or an H×W grey one
        (the decoder's luma plane: no colour conversion at all)."""
        h, w = image.shape[:2]
        sw = min(self.width, w)
        sh = max(1, round(h * sw / max(w, 1)))
        # Box-average by a whole factor first (cv2's INTER_AREA is ~4x faster at an integer
        # ratio: 0.26 against 0.9 ms from 768x432), then a bilinear step to the exact size.
        # The factor is taken in halvings where it is even: INTER_AREA at exactly 2x has a
        # fast path (two halvings of 768x432 take 17 us, one 4x step 113 us; the averages
        # differ by rounding, at most one grey level).
        k = max(1, w // sw)
        grey = image
        while k % 2 == 0:
            grey = cv2.resize(grey, (max(1, grey.shape[1] // 2), max(1, grey.shape[0] // 2)),
                              interpolation=cv2.INTER_AREA)
            k //= 2
        if k > 1:
            grey = cv2.resize(grey, (max(1, grey.shape[1] // k), max(1, grey.shape[0] // k)),
                              interpolation=cv2.INTER_AREA)
        if grey.shape[:2] != (sh, sw):
            grey = cv2.resize(grey, (sw, sh), interpolation=cv2.INTER_LINEAR)
        if grey.ndim == 3:
            grey = cv2.cvtColor(grey, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (3, 3), 0)

    def changed_fraction(self, small: np.ndarray) -> float:
        """Fraction (0-1) of pixels of ``small`` that differ from the reference; 1 without one."""
        return self._changed(small)[0][0]

    def _changed(self, small: np.ndarray, known: np.ndarray | None = None) -> list[tuple[float, float]]:
        """Per region: changed pixels inside it since its reference, as a fraction of the
        whole small image (one threshold in absolute pixels for every region): (off the
        ``known`` mask, on it); (1, 0) without a reference."""
        out = []
        for k, (x1, y1, x2, y2) in enumerate(self._regions or [(0, 0, small.shape[1], small.shape[0])]):
            ref = self._ref[k]
            if ref is None or ref.shape != small.shape:
                out.append((1.0, 0.0))
                continue
            moved = cv2.absdiff(small[y1:y2, x1:x2], ref[y1:y2, x1:x2]) > self.pixel_threshold
            n = np.count_nonzero(moved)
            on = np.count_nonzero(moved & known[y1:y2, x1:x2]) if known is not None and n else 0
            out.append(((n - on) / small.size, on / small.size))
        return out

    def known_mask(self, boxes: np.ndarray, width: int, height: int, small_shape: tuple[int, int],
                   margin: float) -> np.ndarray:
        """Boolean mask (small-image pixels) of frame boxes (N, 4 xyxy in a ``width`` ×
        ``height`` frame), each widened by ``margin`` of its height on every side."""
        mask = np.zeros(small_shape, np.uint8)
        if len(boxes):
            fx, fy = small_shape[1] / width, small_shape[0] / height
            b = np.asarray(boxes, np.float64)
            pad = margin * (b[:, 3] - b[:, 1])
            for (x1, y1, x2, y2), m in zip(b, pad):
                cv2.rectangle(mask, (int((x1 - m) * fx), int((y1 - m) * fy)),
                              (int(np.ceil((x2 + m) * fx)), int(np.ceil((y2 + m) * fy))), 1, -1)
        return mask.astype(bool)

    def set_regions(self, regions: list[tuple[int, int, int, int]], width: int, height: int) -> None:
        """Gate these frame regions (x1, y1, x2, y2 in pixels of a ``width`` × ``height``
        frame: the detector's tiles) each on its own: its own reference and refresh."""
        sw = min(self.width, width)
        sh = max(1, round(height * sw / max(width, 1)))
        fx, fy = sw / width, sh / height
        small = [(int(x1 * fx), int(y1 * fy), max(int(x1 * fx) + 1, int(np.ceil(x2 * fx))),
                  max(int(y1 * fy) + 1, int(np.ceil(y2 * fy)))) for x1, y1, x2, y2 in regions]
        if small != self._regions:
            self._regions = small
            self._ref = [None] * len(small)
            self._ref_pts_s = [None] * len(small)

    def needs_detection(self, image: np.ndarray, pts_s: float) -> tuple[bool, np.ndarray]:
        """Whether this frame must be detected, and its small grey copy (for :meth:`detected`).

        True when there is no reference yet, the refresh time has passed since the last
        detection, or enough of the scene changed since it.
        """
        need, small, _ = self.regions_to_detect(image, pts_s)
        return any(need), small

    def regions_to_detect(
        self, image: np.ndarray, pts_s: float, known: np.ndarray | None = None,
        known_period_s: float = 0.0, frame_size: tuple[int, int] | None = None,
        known_margin: float = 0.2,
    ) -> tuple[list[bool], np.ndarray, bool]:
        """Per region (:meth:`set_regions`; one region, the frame, by default): whether the
        detector must run on it; the frame's small grey copy (for :meth:`detected`); and
        whether some change was left undetected because it lay on ``known`` boxes.

        Args:
            image: H×W×3 BGR or H×W grey frame.
            pts_s: its time.
            known: (N, 4) xyxy frame boxes where people are known to be (tracks swept to
                now, ByteTrack.swept_boxes), widened by ``known_margin`` of their height.
                Change only there runs the detector at most every ``known_period_s``; change
                elsewhere (someone new) runs it at once.
            frame_size: (width, height) of the frame ``known`` is in (default: ``image``'s).
        """
        small = self.small(image)
        mask = None
        if known is not None and known_period_s > 0:
            w, h = frame_size or (image.shape[1], image.shape[0])
            mask = self.known_mask(known, w, h, small.shape[:2], known_margin)
        changed = self._changed(small, mask)
        self.last_changed = max(off + on for off, on in changed)
        need, deferred = [], False
        for (off, on), ref_t in zip(changed, self._ref_pts_s):
            due = ref_t is None or pts_s - ref_t >= self.refresh_s
            if due or off >= self.min_area:
                need.append(True)
            elif off + on >= self.min_area:  # moved, but only where people are known to be
                late = pts_s - ref_t >= known_period_s if mask is not None else True
                need.append(late)
                deferred |= not late
            else:
                need.append(False)
        return need, small, deferred

    def detected(self, small: np.ndarray, pts_s: float, run: list[bool] | None = None) -> None:
        """Record that the detector ran on the frame whose small copy is ``small`` (on the
        regions flagged in ``run``; all when None)."""
        for k in range(len(self._ref)):
            if run is None or run[k]:
                self._ref[k] = small
                self._ref_pts_s[k] = pts_s
