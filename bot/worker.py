"""Model work off the event loop: a thread pool sized to the cores, a bounded queue, and at
most one photo in flight per user."""
from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Busy(Exception):
    """Every worker is taken and the queue is full."""


class AlreadyWorking(Exception):
    """This user already has a photo in flight."""


class Slot:
    """One claimed place in the pool; release it by leaving the `with` block."""

    def __init__(self, pool: "WorkerPool", user_id: int):
        self.pool, self.user_id = pool, user_id

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.pool._in_flight.discard(self.user_id)


class WorkerPool:
    """Runs engine calls in threads (the engine is thread-safe; torch releases the GIL).

    Admission is decided up front by `claim`, on the event loop, so a user learns at once
    that they must wait instead of sitting in a long silent queue.
    """

    def __init__(self, workers: int = 0, queue_size: int = 8):
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.capacity = self.workers + max(0, queue_size)
        self._executor = ThreadPoolExecutor(max_workers=self.workers,
                                            thread_name_prefix="lookbot-worker")
        self._in_flight: set[int] = set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def claim(self, user_id: int) -> Slot:
        """A slot for this user's request, or AlreadyWorking / Busy."""
        if user_id in self._in_flight:
            raise AlreadyWorking(user_id)
        if len(self._in_flight) >= self.capacity:
            raise Busy(f"{len(self._in_flight)} requests in flight")
        self._in_flight.add(user_id)
        return Slot(self, user_id)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker thread, awaited without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
