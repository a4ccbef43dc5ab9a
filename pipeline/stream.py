"""Reader thread → bounded queue → consumer: decoding overlaps analysis and memory stays flat."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def threaded(items: Iterable[T], maxsize: int = 16, max_bytes: int | None = None,
             size: Callable[[T], int] | None = None) -> Iterator[T]:
    """Iterate ``items`` in a background thread, handing them over through a bounded queue.

    At most ``maxsize`` items wait in the queue, and with ``max_bytes`` at most that many bytes
    of them (``size(item)`` each; an item larger than the whole budget still passes alone), so a
    fast producer (the decoder) cannot run ahead of a slow consumer (the detector) and fill
    memory. An exception in the producer is re-raised in the consumer at the point the stream
    reached; if the consumer stops early (break, exception), the producer is told to stop and
    joined.

    Args:
        items: any iterable, consumed only by the background thread.
        maxsize: queue bound (items in flight).
        max_bytes: byte bound on the items in flight (None: only ``maxsize``).
        size: bytes of one item; needed with ``max_bytes``.
    """
    if max_bytes is not None and size is None:
        raise ValueError("threaded: max_bytes needs size")
    q: queue.Queue[object] = queue.Queue(maxsize=maxsize)
    stop = threading.Event()
    budget = threading.Condition()
    held = [0]  # bytes handed to the queue and not yet taken by the consumer

    def reserve(n: int) -> bool:
        with budget:
            while held[0] and held[0] + n > max_bytes:  # type: ignore[operator]
                if stop.is_set():
                    return False
                budget.wait(0.1)
            held[0] += n
        return True

    def release(n: int) -> None:
        if n:
            with budget:
                held[0] -= n
                budget.notify()

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
                n = size(item) if max_bytes is not None else 0  # type: ignore[misc]
                if n and not reserve(n):
                    break
                if not put((item, n)):
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
            got = q.get()
            if got is _END:
                return
            if isinstance(got, _Raised):
                raise got.exc
            item, n = got  # type: ignore[misc]
            release(n)
            yield item
    finally:
        stop.set()
        with budget:
            budget.notify_all()
        thread.join(timeout=10)
