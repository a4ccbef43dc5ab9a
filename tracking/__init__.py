"""Trackers, chosen by name, and the per-track history store.

``build_tracker(config)`` looks ``config.type`` up in a registry of lazy factories, so a
tracker's dependencies (scipy for ByteTrack) are imported only when it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING

from tracking.base import Tracker
from tracking.history import TrackHistory

if TYPE_CHECKING:
    from pipeline.config import TrackerConfig


def _bytetrack(config: TrackerConfig) -> Tracker:
    from tracking.bytetrack import ByteTrack

    return ByteTrack(config)


_REGISTRY: MappingProxyType[str, Callable[[TrackerConfig], Tracker]] = MappingProxyType(
    {"bytetrack": _bytetrack}
)


def available_trackers() -> list[str]:
    """Names ``tracker.type`` may take, sorted."""
    return sorted(_REGISTRY)


def build_tracker(config: TrackerConfig) -> Tracker:
    """Build the tracker named by ``config.type``, configured by ``config``.

    Raises:
        ValueError: ``config.type`` is not a registered name (the message lists the known ones).
    """
    factory = _REGISTRY.get(config.type)
    if factory is None:
        raise ValueError(
            f"tracker.type: unknown tracker {config.type!r} "
            f"(known: {', '.join(available_trackers())})"
        )
    return factory(config)


__all__ = ["TrackHistory", "Tracker", "available_trackers", "build_tracker"]
