"""When the person detector runs: every frame, at a reduced rate, or only when the scene moves.

Each analysed frame gets one of three decisions:

- ``detect``: run the detector; its boxes go to the tracker.
- ``hold``: the motion gate saw no change since the last detection, so that detection is
  handed to the tracker again for this frame (tracks of people standing still stay alive and
  keep their ids; their observations are marked ``held``).
- ``skip``: between two scheduled detections (``detector.detect_period_s``); nothing runs and
  the tracks' boxes for this frame are interpolated afterwards (tracking.interpolate). A due
  frame is skipped too when everything that changed since the last detection lies where
  tracked people are (their boxes swept along their Kalman velocity, widened), for up to
  ``detector.tracked_motion_period_s``: known people walking need no detector to be found
  again; someone new shows up as change off the tracks and is detected at once.

The last frame of a stream is never skipped, so every skipped frame lies between two
observed ones.

A detector that runs on several windows of a wide frame (square tiles, detectors.tiling) is
gated per window: on a ``detect`` frame only the windows where the scene changed (or whose
refresh is due) run, the others hand on their last boxes. A person walking through one half
of a wide empty room costs one tile, not two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from detectors.motion import MotionGate
from pipeline.config import DetectorConfig

DETECT, HOLD, SKIP = "detect", "hold", "skip"


def is_due(pts_s: float, last_due_s: float | None, period_s: float) -> bool:
    """The detector's clock: a frame at ``pts_s`` is due when ``period_s`` has passed since the
    last due one (or there was none). The decoder runs the same rule ahead of the schedule to
    leave pictures nobody will read undecoded (pipeline.ingest._SkipPlan)."""
    # a millisecond of slack: pts in a time base are rarely exact multiples
    return last_due_s is None or pts_s - last_due_s >= period_s - 1e-3


@dataclass
class ScheduleCounts:
    """Frames per decision over one source."""

    detect: int = 0
    hold: int = 0
    skip: int = 0
    windows_detected: int = 0  # detector windows (tiles) run, over the detected frames
    deferred: int = 0  # skipped frames that were due: all change lay on tracked people

    def to_dict(self) -> dict[str, int]:
        return {"frames_detected": self.detect, "frames_held": self.hold,
                "frames_skipped": self.skip, "frames_deferred_tracked": self.deferred,
                "windows_detected": self.windows_detected}


class DetectionSchedule:
    """Decides per frame whether to detect, hold the last detection, or skip.

    Args:
        config: ``detect_period_s`` (0 = every frame is due) and the ``motion_*`` knobs.
    """

    def __init__(self, config: DetectorConfig) -> None:
        self.period_s = config.detect_period_s
        self.tracked_period_s = config.tracked_motion_period_s
        self.gate = (
            MotionGate(config.motion_width, config.motion_pixel_threshold,
                       config.motion_min_area, config.motion_refresh_s)
            if config.motion_gate else None
        )
        self.counts = ScheduleCounts()
        self._last_pts_s: float | None = None
        self.windows: list[tuple[int, int, int, int]] = []
        # after a ``detect``: which windows to run (None: all)
        self.run: list[bool] | None = None

    def reset(self) -> None:
        """Start a new source."""
        self.counts = ScheduleCounts()
        self._last_pts_s = None
        self.windows, self.run = [], None
        if self.gate is not None:
            self.gate.reset()

    def decide(self, image: np.ndarray | Callable[[], np.ndarray], pts_s: float,
               last: bool = False, known: Callable[[], np.ndarray] | None = None,
               frame_size: tuple[int, int] | None = None, picture: bool = True) -> str:
        """``detect``, ``hold`` or ``skip`` for the frame ``image`` (H×W×3 uint8 BGR or H×W
        grey, or a function giving one: called only when the motion gate must look) at
        ``pts_s`` seconds; ``last``: it is the stream's final frame (never skipped).

        ``known``: gives (N, 4) xyxy frame boxes where tracked people can be now (a frame of
        ``frame_size`` = (width, height)); where all change lies on them, detection waits up
        to ``tracked_motion_period_s`` (the frame is skipped: interpolated afterwards).

        ``picture``: False for a frame that was not decoded (pipeline.ingest.BlindFrame). The
        decoder leaves out only frames that are not due by this same rule; should one be due
        all the same (a frame dropped before it shifted the clock), it is skipped and the next
        decoded frame is due."""
        due = last or is_due(pts_s, self._last_pts_s, self.period_s)
        if not due or not picture:
            self.counts.skip += 1
            return SKIP
        self._last_pts_s = pts_s
        if self.gate is None:
            self.counts.detect += 1
            self.counts.windows_detected += max(1, len(self.windows))
            self.run = None
            return DETECT
        boxes = known() if known is not None and self.tracked_period_s > 0 else None
        need, small, deferred = self.gate.regions_to_detect(
            image() if callable(image) else image, pts_s, boxes, self.tracked_period_s,
            frame_size)
        if deferred and last:
            need = [True] * len(need)  # the last frame is never skipped
        elif deferred and not any(need):
            self.counts.skip += 1
            self.counts.deferred += 1
            return SKIP
        if any(need):
            self.gate.detected(small, pts_s, need)
            self.run = need
            self.counts.detect += 1
            self.counts.windows_detected += sum(need)
            return DETECT
        self.counts.hold += 1
        return HOLD

    def set_windows(self, windows: list[tuple[int, int, int, int]], width: int, height: int) -> None:
        """Gate each of the detector's windows (tiles) on its own: a ``detect`` decision then
        lists in :attr:`run` the windows where something changed or the refresh is due; the
        others keep their last boxes (detectors.tiling.detect_tiled)."""
        self.windows = list(windows)
        if self.gate is not None:
            self.gate.set_regions(self.windows, width, height)
