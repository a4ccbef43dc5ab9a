"""Give freed heap memory back to the operating system between the big steps of a scan.

A source's analysis frees most of what it held when it ends (tracks, face candidates, their
stored forms), but glibc keeps the freed pages of its heap, so the process's resident size
stays at its high-water mark and the next step's allocations come on top of the next fresh
pages only where the old ones are fragmented. ``malloc_trim(0)`` returns every wholly free
page. Measured on a 60-minute busy source (``bench/speed.py long``): see README, Speed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _trim():  # type: ignore[no-untyped-def]
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None


def release_free_memory() -> None:
    """Return the heap's free pages to the OS (glibc); a no-op elsewhere."""
    trim = _trim()
    if trim is not None:
        trim(0)
