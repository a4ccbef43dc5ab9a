from __future__ import annotations

import threading
import time

import pytest

from pipeline.stream import threaded


def test_order_and_completion():
    assert list(threaded(range(100), maxsize=4)) == list(range(100))
    assert list(threaded([], maxsize=1)) == []


def test_producer_never_runs_more_than_the_bound_ahead():
    produced = []

    def gen():
        for i in range(1000):
            produced.append(i)
            yield i

    it = threaded(gen(), maxsize=5)
    for consumed, item in enumerate(it):
        time.sleep(0.001)
        # in the queue (<= 5) + one blocked in put + one being handed over
        assert len(produced) - consumed <= 5 + 2
        if consumed == 50:
            break
    it.close()


def test_producer_error_is_raised_in_the_consumer_after_good_items():
    def gen():
        yield 1
        yield 2
        raise RuntimeError("decoder blew up")

    got = []
    with pytest.raises(RuntimeError, match="decoder blew up"):
        for x in threaded(gen(), maxsize=2):
            got.append(x)
    assert got == [1, 2]


def test_early_stop_ends_the_producer_thread():
    closed = threading.Event()

    def gen():
        try:
            for i in range(10_000):
                yield i
        finally:
            closed.set()

    it = threaded(gen(), maxsize=2)
    assert next(it) == 0
    it.close()
    assert closed.wait(5)
    assert not any(t.name == "reunite-reader" and t.is_alive() for t in threading.enumerate())


def test_byte_budget_bounds_what_is_in_flight():
    produced = []

    def gen():
        for i in range(200):
            produced.append(i)
            yield i

    # each item "weighs" 10 bytes: at most 50 bytes (5 items) wait, whatever maxsize allows
    it = threaded(gen(), maxsize=100, max_bytes=50, size=lambda _: 10)
    for consumed, item in enumerate(it):
        time.sleep(0.001)
        assert item == consumed
        # in the budget (<= 5) + one being handed over + one waiting for budget
        assert len(produced) - consumed <= 5 + 2
        if consumed == 60:
            break
    it.close()


def test_an_item_larger_than_the_budget_still_passes_alone():
    sizes = [5, 500, 5, 5]
    assert list(threaded(iter(sizes), maxsize=8, max_bytes=50, size=lambda n: n)) == sizes


def test_byte_budget_needs_a_size():
    with pytest.raises(ValueError, match="needs size"):
        next(threaded(range(3), max_bytes=10))
