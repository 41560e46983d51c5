"""MicroBatcher: concurrent requests joined into batches for one worker thread (bounded by the app's admission).

The first request of a batch waits up to ``window_s`` for others while more requests are in flight than the batch
holds; a lone request (concurrency 1) never waits. While a batch runs, new requests queue and form the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["BatchInfo", "MicroBatcher"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class BatchInfo:
    """How a request was served: the size of its batch, seconds queued, seconds its batch ran."""

    size: int
    queued_s: float
    run_s: float


class MicroBatcher(Generic[T, R]):
    """Collect submitted items into batches of at most ``max_batch_size`` and run ``process`` on each in a thread.

    Args:
        process: Items -> one result per item, in order (runs in the batcher's single worker thread).
        max_batch_size: Most items a batch holds.
        window_s: Longest wait for a batch to fill.
        in_flight: How many requests are admitted now (the app's count); the batcher waits for others only while
            this exceeds the batch it holds. None: always wait the window.
    """

    def __init__(
        self,
        process: Callable[[Sequence[T]], Sequence[R]],
        max_batch_size: int = 8,
        window_s: float = 0.005,
        in_flight: Callable[[], int] | None = None,
    ) -> None:
        self.process = process
        self.max_batch_size = int(max_batch_size)
        self.window_s = float(window_s)
        self.in_flight = in_flight
        self._queue: asyncio.Queue[tuple[T, float, asyncio.Future[tuple[R, BatchInfo]]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="iim-serve-batch")

    def start(self) -> None:
        """Start the collecting task on the running event loop."""
        if self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop collecting; requests still queued get a RuntimeError."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue is not None and not self._queue.empty():
            _, _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("the service is shutting down"))
        self._executor.shutdown(wait=True)

    async def submit(self, item: T) -> tuple[R, BatchInfo]:
        """Queue ``item`` and wait for its result (the exception ``process`` raised for its batch, if any)."""
        if self._queue is None:
            raise RuntimeError("MicroBatcher.submit before start()")
        future: asyncio.Future[tuple[R, BatchInfo]] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, time.perf_counter(), future))
        return await future

    def _should_wait(self, held: int) -> bool:
        return self.in_flight is None or self.in_flight() > held

    async def _collect(self) -> list[tuple[T, float, asyncio.Future[tuple[R, BatchInfo]]]]:
        assert self._queue is not None
        batch = [await self._queue.get()]
        deadline = time.perf_counter() + self.window_s
        while len(batch) < self.max_batch_size:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or not self._should_wait(len(batch)):
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), timeout=remaining))
            except TimeoutError:
                break
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            batch = [entry for entry in batch if not entry[2].cancelled()]  # clients that went away
            if not batch:
                continue
            start = time.perf_counter()
            try:
                results: Any = await loop.run_in_executor(self._executor, self.process, [e[0] for e in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"process returned {len(results)} results for {len(batch)} items")
            except Exception as err:  # the batch's requests answer with it; the loop carries on
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            run_s = time.perf_counter() - start
            for (_, queued_at, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result((result, BatchInfo(len(batch), start - queued_at, run_s)))
