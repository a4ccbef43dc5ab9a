"""Peak Python heap of one call (tracemalloc), for tests that bound memory, not time."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any


def peak_bytes(fn: Callable[[], Any]) -> int:
    """Run ``fn`` and return the peak bytes Python allocated while it ran."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
