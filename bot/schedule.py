"""The nightly catalog refresh on the bot's JobQueue.

The refresh (crawl, then `lookbot index`) runs as a subprocess so the event loop keeps
answering; the engine picks up the new index version by itself. Two refreshes never overlap:
the bot starts at most one, and scraper.refresh holds a file lock against other processes.
When the last successful crawl is more than 24 h old at start-up, a catch-up run is queued.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional, Sequence

from core.catalog import Catalog
from core.config import Config
from scraper.refresh import (EXIT_BUSY, daily_time, is_catch_up_due, is_running, last_success,
                             refresh_argv)

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
OnDone = Callable[["RefreshOutcome"], Awaitable[None]]
CATCH_UP_DELAY = dt.timedelta(seconds=60)  # let the bot settle before a catch-up crawl


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def is_enabled(config: Config) -> bool:
    """LOOKBOT_CRAWL_TIME=off turns the nightly refresh (and the catch-up) off."""
    return config.crawl_time.strip().lower() not in ("", "off", "never", "none")


@dataclass
class Plan:
    """What the bot schedules at start-up."""

    daily: Optional[dt.time]  # tz-aware time of the nightly run, None when disabled
    catch_up: bool
    last_success: Optional[dt.datetime]


def plan(config: Config, now: dt.datetime, last: Optional[dt.datetime]) -> Plan:
    """The nightly time and whether a catch-up is due, given the last successful crawl."""
    if not is_enabled(config):
        return Plan(None, False, last)
    return Plan(daily_time(config), is_catch_up_due(last, now), last)


@dataclass
class RefreshOutcome:
    status: str  # ok | failed | busy
    returncode: Optional[int]
    message: str
    started: dt.datetime
    finished: dt.datetime

    def describe(self) -> str:
        took = (self.finished - self.started).total_seconds()
        return f"Catalog refresh {self.status} after {took:.0f} s: {self.message}"


class Refresher:
    """Runs the refresh command as a subprocess, one at a time."""

    def __init__(self, config: Config, argv: Optional[Sequence[str]] = None,
                 clock: Clock = utc_now):
        self.config = config
        self.argv = list(argv) if argv else refresh_argv()
        self.clock = clock
        self.last: Optional[RefreshOutcome] = None
        self.listeners: list[OnDone] = []  # told of every outcome, after on_done (alerts)
        self._lock = asyncio.Lock()
        self._task: Optional[asyncio.Task] = None

    @property
    def running(self) -> bool:
        return self._lock.locked() or is_running(self.config.data_dir)

    async def run(self) -> RefreshOutcome:
        """Run the refresh to its end; "busy" at once when one is already running."""
        started = self.clock()
        if self.running:
            return RefreshOutcome("busy", None, "a refresh is already running", started, started)
        async with self._lock:
            env = self.config.child_environment()
            log.info("catalog refresh starting: %s", " ".join(self.argv))
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self.argv, env=env, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT)
                output, _ = await proc.communicate()
                rc = proc.returncode
                lines = output.decode("utf-8", "replace").strip().splitlines()
                message = lines[-1][-500:] if lines else "(no output)"
            except OSError as exc:
                rc, message = None, f"could not start {self.argv[0]}: {exc}"
            status = "ok" if rc == 0 else "busy" if rc == EXIT_BUSY else "failed"
            self.last = RefreshOutcome(status, rc, message, started, self.clock())
        log.info(self.last.describe())
        return self.last

    def start(self, on_done: Optional[OnDone] = None) -> bool:
        """Start a refresh in the background; False when one is already running."""
        if self.running or (self._task is not None and not self._task.done()):
            return False
        self._task = asyncio.get_running_loop().create_task(self._run_and_report(on_done))
        return True

    async def _run_and_report(self, on_done: Optional[OnDone]) -> None:
        outcome = await self.run()
        for listener in ([on_done] if on_done else []) + self.listeners:
            try:
                await listener(outcome)
            except Exception:  # one failing listener must not silence the others
                log.exception("after the catalog refresh")


def schedule(job_queue, refresher: Refresher, on_done: Optional[OnDone] = None,
             clock: Clock = utc_now) -> Plan:
    """Register the nightly refresh, and a catch-up run when the catalog is stale."""
    config = refresher.config
    last = last_success(Catalog(config.catalog_path, config.data_dir)) \
        if is_enabled(config) else None
    todo = plan(config, clock(), last)
    if todo.daily is None:
        log.info("nightly catalog refresh is off (LOOKBOT_CRAWL_TIME=%s)", config.crawl_time)
        return todo

    async def job(context) -> None:
        refresher.start(on_done)

    job_queue.run_daily(job, time=todo.daily, name="nightly-refresh")
    log.info("nightly catalog refresh at %s %s", todo.daily.strftime("%H:%M"), config.tz)
    if todo.catch_up:
        log.info("last successful crawl: %s; catch-up refresh in %d s",
                 last or "never", CATCH_UP_DELAY.total_seconds())
        job_queue.run_once(job, when=CATCH_UP_DELAY, name="catch-up-refresh")
    return todo
