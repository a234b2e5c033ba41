"""Model work off the event loop, and the promise that every accepted photo is answered.

`WorkerPool` runs engine calls in a thread pool sized to the cores. `PhotoQueues` keeps one
bounded queue per user and answers each user's photos one at a time, in the order they were
sent. Admission is decided at once, on the event loop: a photo is either taken (and then always
answered) or refused with a reason the user can act on, never promised and then dropped.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
J = TypeVar("J")

USER_FULL, BUSY = "user_full", "busy"  # why photos were refused (logs and counters only)


class WorkerPool:
    """Runs engine calls in threads (the engine is thread-safe; torch releases the GIL)."""

    def __init__(self, workers: int = 0):
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self._executor = ThreadPoolExecutor(max_workers=self.workers,
                                            thread_name_prefix="lookbot-worker")
        self._turns: asyncio.Semaphore | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker thread, awaited without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def turn(self) -> asyncio.Semaphore:
        """Held while a photo is downloaded and looked at, so that at most `workers` photos are
        in memory at once however many users wait."""
        if self._turns is None:  # made on first use, inside the running loop
            self._turns = asyncio.Semaphore(self.workers)
        return self._turns

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class Admission(Generic[J]):
    """What `PhotoQueues.offer` did with a batch of one user's photos."""

    taken: list[J] = field(default_factory=list)  # will be answered, in order
    refused: list[J] = field(default_factory=list)  # the last ones of the batch, not taken
    reason: str = ""  # USER_FULL or BUSY when some were refused
    waiting: int = 0  # this user's photos already taken and not yet answered
    acknowledge: bool = False  # first photo queued behind others, or an album: say so once


@dataclass
class Drained(Generic[J]):
    """What a shutdown's drain left unanswered."""

    never_started: list[J] = field(default_factory=list)  # taken, never begun
    cut: list[J] = field(default_factory=list)  # begun, and stopped part-way through


class PhotoQueues(Generic[J]):
    """One bounded queue per user, answered in order by one task per user; a bound on all.

    `answer(job)` must reply to the user whatever happens; it runs one job of a user at a time,
    so a user's answers arrive in the order of `order(job)` (the message id).
    """

    def __init__(self, answer: Callable[[J], Awaitable[None]], order: Callable[[J], int],
                 per_user: int = 10, total: int = 100):
        self.answer, self.order = answer, order
        self.per_user, self.total = max(1, per_user), max(1, total)
        self._waiting: dict[int, list[J]] = {}  # taken, not started, per user
        self._current: dict[int, J] = {}  # being answered, per user
        self._tasks: dict[int, asyncio.Task] = {}
        self._acknowledged: set[int] = set()  # users told once that their photos wait in line
        self._stopping = False  # shutting down: no further photo starts
        self.taken = self.answered = self.refused = 0

    @property
    def pending(self) -> int:
        """Photos taken and not yet answered, all users together."""
        return self.taken - self.answered

    def unanswered(self, user_id: int) -> int:
        return len(self._waiting.get(user_id, ())) + (user_id in self._current)

    def offer(self, user_id: int, jobs: list[J]) -> Admission[J]:
        """Take as many of `jobs` (in order) as the user's and the overall bound allow."""
        waiting = self.unanswered(user_id)
        room_user, room_all = self.per_user - waiting, self.total - self.pending
        n = max(0, min(len(jobs), room_user, room_all))
        out = Admission(list(jobs[:n]), list(jobs[n:]), waiting=waiting)
        if out.refused:
            out.reason = USER_FULL if room_user <= room_all else BUSY
            self.refused += len(out.refused)
            log.info("user %s: %d photo(s) refused (%s)", user_id, len(out.refused), out.reason)
        if not out.taken:
            return out
        out.acknowledge = len(out.taken) > 1 or (waiting > 0
                                                 and user_id not in self._acknowledged)
        if out.acknowledge:
            self._acknowledged.add(user_id)
        self._waiting.setdefault(user_id, []).extend(out.taken)
        self.taken += len(out.taken)
        if user_id not in self._tasks:
            self._tasks[user_id] = asyncio.get_running_loop().create_task(
                self._serve(user_id), name=f"photos-of-{user_id}")
        return out

    async def _serve(self, user_id: int) -> None:
        """Answer the user's photos one by one, oldest message first, until none wait."""
        waiting = self._waiting[user_id]
        try:
            while waiting and not self._stopping:
                job = min(waiting, key=self.order)  # updates may be handled slightly out of order
                waiting.remove(job)
                self._current[user_id] = job
                try:
                    await self.answer(job)
                except Exception:  # answer() replies on its own errors; this is the last guard
                    log.exception("answering a photo of user %s failed", user_id)
                finally:
                    del self._current[user_id]
                    self.answered += 1
        finally:
            del self._tasks[user_id]
            self._waiting.pop(user_id, None)
            self._acknowledged.discard(user_id)

    async def stop(self) -> int:
        """Stop every answer at once (a second stop signal during the drain): how many photos
        were left unanswered. Whoever recorded them still has them."""
        left, self._stopping = self.pending, True
        for task in list(self._tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.answered, self._stopping = self.taken, False  # empty again, and open
        return left

    async def drain(self, timeout: float, finish: float = 15.0) -> Drained[J]:
        """At shutdown: wait up to `timeout` s for every taken photo to be answered; then start
        no further photo and give those being answered up to `finish` s more, since an answer
        cut half-way has sent part of itself. Stop the rest and return them, so that the
        caller can tell the senders of the photos never started, and keep the cut ones."""
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        self._stopping = True  # no await since: what waits now is what never starts
        never_started = [j for user in list(self._tasks)
                         for j in sorted(self._waiting.get(user, []), key=self.order)]
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=finish)
        cut = [self._current[user] for user in list(self._tasks) if user in self._current]
        await self.stop()  # the rest are the caller's: "please send it again", or kept
        return Drained(never_started, cut)
