"""When the person detector runs: every frame, at a reduced rate, or only when the scene moves.

Each analysed frame gets one of three decisions:

- ``detect``: run the detector; its boxes go to the tracker.
- ``hold``: the motion gate saw no change since the last detection, so that detection is
  handed to the tracker again for this frame (tracks of people standing still stay alive and
  keep their ids; their observations are marked ``held``).
- ``skip``: between two scheduled detections (``detector.detect_period_s``); nothing runs and
  the tracks' boxes for this frame are interpolated afterwards (tracking.interpolate).

The last frame of a stream is never skipped, so every skipped frame lies between two
observed ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.motion import MotionGate
from pipeline.config import DetectorConfig

DETECT, HOLD, SKIP = "detect", "hold", "skip"


@dataclass
class ScheduleCounts:
    """Frames per decision over one source."""

    detect: int = 0
    hold: int = 0
    skip: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"frames_detected": self.detect, "frames_held": self.hold,
                "frames_skipped": self.skip}


class DetectionSchedule:
    """Decides per frame whether to detect, hold the last detection, or skip.

    Args:
        config: ``detect_period_s`` (0 = every frame is due) and the ``motion_*`` knobs.
    """

    def __init__(self, config: DetectorConfig) -> None:
        self.period_s = config.detect_period_s
        self.gate = (
            MotionGate(config.motion_width, config.motion_pixel_threshold,
                       config.motion_min_area, config.motion_refresh_s)
            if config.motion_gate else None
        )
        self.counts = ScheduleCounts()
        self._last_pts_s: float | None = None

    def reset(self) -> None:
        """Start a new source."""
        self.counts = ScheduleCounts()
        self._last_pts_s = None
        if self.gate is not None:
            self.gate.reset()

    def decide(self, image: np.ndarray, pts_s: float, last: bool = False) -> str:
        """``detect``, ``hold`` or ``skip`` for the frame ``image`` (H×W×3 uint8 BGR) at
        ``pts_s`` seconds; ``last``: it is the stream's final frame (never skipped)."""
        due = (self._last_pts_s is None or last
               # a millisecond of slack: pts in a time base are rarely exact multiples
               or pts_s - self._last_pts_s >= self.period_s - 1e-3)
        if not due:
            self.counts.skip += 1
            return SKIP
        self._last_pts_s = pts_s
        if self.gate is None:
            self.counts.detect += 1
            return DETECT
        need, small = self.gate.needs_detection(image, pts_s)
        if need:
            self.gate.detected(small, pts_s)
            self.counts.detect += 1
            return DETECT
        self.counts.hold += 1
        return HOLD
