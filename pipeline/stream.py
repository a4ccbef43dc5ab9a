"""Reader thread → bounded queue → consumer: decoding overlaps analysis and memory stays flat."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def threaded(items: Iterable[T], maxsize: int = 16) -> Iterator[T]:
    """Iterate ``items`` in a background thread, handing them over through a bounded queue.

    At most ``maxsize`` items wait in the queue, so a fast producer (the decoder) cannot run
    ahead of a slow consumer (the detector) and fill memory. An exception in the producer is
    re-raised in the consumer at the point the stream reached; if the consumer stops early
    (break, exception), the producer is told to stop and joined.

    Args:
        items: any iterable, consumed only by the background thread.
        maxsize: queue bound (frames in flight).
    """
    q: queue.Queue[object] = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_Raised(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if stop.is_set() and callable(close):
                close()
        put(_END)

    thread = threading.Thread(target=produce, name="reunite-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=10)
