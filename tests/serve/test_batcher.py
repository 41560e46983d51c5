"""MicroBatcher: batches fill up to their size, a lone request never waits, errors reach their batch only."""

from __future__ import annotations

import asyncio
import time

import pytest

from iim.serve import MicroBatcher


def _run(batcher: MicroBatcher, items: list, stagger_s: float = 0.0) -> list:
    async def go():
        batcher.start()
        try:
            tasks = []
            for item in items:
                tasks.append(asyncio.create_task(batcher.submit(item)))
                await asyncio.sleep(stagger_s)
            return await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await batcher.stop()

    return asyncio.run(go())


def test_concurrent_items_form_batches_up_to_the_size_and_keep_their_order():
    seen: list[list[int]] = []

    def process(items):
        seen.append(list(items))
        time.sleep(0.02)
        return [i * 10 for i in items]

    results = _run(MicroBatcher(process, max_batch_size=3, window_s=0.2), list(range(7)))
    assert [r[0] for r in results] == [i * 10 for i in range(7)]
    assert [len(b) for b in seen] == [3, 3, 1] and [i for b in seen for i in b] == list(range(7))
    assert [r[1].size for r in results] == [3, 3, 3, 3, 3, 3, 1]
    assert all(r[1].run_s >= 0.02 and r[1].queued_s >= 0 for r in results)


def test_a_lone_request_does_not_wait_the_window():
    batcher = MicroBatcher(lambda items: list(items), max_batch_size=8, window_s=5.0, in_flight=lambda: 1)
    start = time.perf_counter()
    assert _run(batcher, ["a"])[0][0] == "a"
    assert time.perf_counter() - start < 2.0  # not the 5 s window


def test_an_error_fails_its_batch_only_and_the_loop_goes_on():
    def process(items):
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]

    batcher = MicroBatcher(process, max_batch_size=1, window_s=0.0)
    results = _run(batcher, ["x", "bad", "y"], stagger_s=0.01)
    assert results[0][0] == "X" and results[2][0] == "Y"
    assert isinstance(results[1], ValueError)


def test_submit_before_start_is_refused():
    with pytest.raises(RuntimeError, match="start"):
        asyncio.run(MicroBatcher(lambda items: items).submit(1))
