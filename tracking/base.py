"""The protocol every tracker implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pipeline.types import Detections


@runtime_checkable
class Tracker(Protocol):
    """Assigns persistent ids to detections over one source's frames."""

    def update(self, detections: Detections, pts_s: float) -> Detections:
        """Track one frame: ``pts_s`` seconds, strictly increasing; returns tracked rows with
        (M,) int64 ``tracker_id``; empty input is normal and still advances time."""
        ...

    def reset(self) -> None:
        """Forget all state, ids included (call between sources)."""
        ...
