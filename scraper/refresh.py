"""The catalog refresh: crawl, then `lookbot index`, never two at once; and when to run it.

The bot's JobQueue (bot/) registers the nightly job with `daily_time(config)` and, on start-up,
a catch-up run when `is_catch_up_due(last_success(catalog), now)`. The job itself runs
`refresh_argv()` as a subprocess so the event loop keeps answering; that process calls
`run_refresh`, which holds a lock so two refreshes (nightly, catch-up, /crawl) never overlap.

    lookbot refresh [--max-pages N] [--no-images] [--url URL]...
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

from core.catalog import Catalog
from core.config import Config

from .locks import exclusive_lock

log = logging.getLogger(__name__)
EXIT_BUSY = 3  # `lookbot refresh`'s exit status when another refresh holds the lock

CATCH_UP_AFTER = dt.timedelta(hours=24)


class RefreshBusy(RuntimeError):
    """A refresh is already running on this data dir."""


# --- scheduling (pure) ----------------------------------------------------------------------
def daily_time(config: Config) -> dt.time:
    """LOOKBOT_CRAWL_TIME ("HH:MM") in LOOKBOT_TZ, as the tz-aware time JobQueue.run_daily takes.

    Raises ValueError with a clear message for a malformed time or an unknown zone.
    """
    text = config.crawl_time.strip()
    try:
        hours, minutes = (int(x) for x in text.split(":"))
        if not (0 <= hours < 24 and 0 <= minutes < 60):
            raise ValueError
    except ValueError:
        raise ValueError(f"LOOKBOT_CRAWL_TIME must be HH:MM, got {config.crawl_time!r}") from None
    try:
        zone = ZoneInfo(config.tz)
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError
        raise ValueError(f"LOOKBOT_TZ is not a known time zone: {config.tz!r}") from None
    return dt.time(hours, minutes, tzinfo=zone)


def next_run(at: dt.time, now: dt.datetime) -> dt.datetime:
    """The first moment at or after `now` (tz-aware) when the clock in `at.tzinfo` shows `at`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = at.tzinfo or dt.timezone.utc
    local = now.astimezone(zone)
    candidate = dt.datetime.combine(local.date(), at.replace(tzinfo=None), tzinfo=zone)
    if candidate < local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1),
                                        at.replace(tzinfo=None), tzinfo=zone)
    return candidate


def is_catch_up_due(last_success: Optional[dt.datetime], now: dt.datetime,
                    max_age: dt.timedelta = CATCH_UP_AFTER) -> bool:
    """Whether a catch-up run should be scheduled at start-up: no successful crawl ever, or the
    last one finished more than `max_age` ago. Naive datetimes are taken as UTC."""
    if last_success is None:
        return True
    if last_success.tzinfo is None:
        last_success = last_success.replace(tzinfo=dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    return now - last_success > max_age


def last_success(catalog: Catalog) -> Optional[dt.datetime]:
    """When the last crawl with status "ok" finished, or None."""
    run = catalog.last_run(status="ok")
    stamp = (run or {}).get("finished") or (run or {}).get("started")
    if not stamp:
        return None
    when = dt.datetime.fromisoformat(stamp)
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


# --- running it -----------------------------------------------------------------------------
def refresh_lock(data_dir: Path) -> contextlib.AbstractContextManager[None]:
    """Exclusive, non-blocking; the OS releases it when the holder dies."""
    return exclusive_lock(data_dir / "refresh.lock",
                          RefreshBusy(f"a catalog refresh is already running on {data_dir}"))


def is_running(data_dir: Path) -> bool:
    """Whether a refresh holds the lock right now (for /crawl to answer "already running")."""
    try:
        with refresh_lock(data_dir):
            return False
    except RefreshBusy:
        return True


def index_argv() -> list[str]:
    """`lookbot index --quiet`, with the lookbot of this interpreter's environment."""
    return [sys.executable, "-m", "lookbot", "index", "--quiet"]


def refresh_argv(max_pages: Optional[int] = None, fetch_images: bool = True,
                 urls: Sequence[str] = ()) -> list[str]:
    """The command the bot's job runs (as a subprocess, off the event loop)."""
    argv = [sys.executable, "-m", "lookbot", "refresh"]
    if max_pages is not None:
        argv += ["--max-pages", str(max_pages)]
    if not fetch_images:
        argv.append("--no-images")
    for url in urls:
        argv += ["--url", url]
    return argv


@dataclass
class RefreshResult:
    status: str  # ok | crawl_failed | index_failed | busy
    crawl: Optional[dict] = None  # CrawlSummary.to_json()
    index_rc: Optional[int] = None
    index_output: str = ""
    message: str = ""

    def to_json(self) -> dict:
        return {"status": self.status, "crawl": self.crawl, "index_rc": self.index_rc,
                "message": self.message}


def run_refresh(config: Config, urls: Optional[list[str]] = None,
                max_pages: Optional[int] = None, fetch_images: bool = True,
                index_cmd: Optional[list[str]] = None, index_timeout: float = 3 * 3600,
                progress: bool = False) -> RefreshResult:
    """Crawl, then rebuild the index, holding the refresh lock.

    The index is rebuilt only when the crawl wrote something (at least one listing crawled
    completely); a crawl that wrote nothing leaves the current index version serving.
    """
    from .crawl import crawl

    try:
        with refresh_lock(config.data_dir):
            summary = crawl(config, urls, max_pages, fetch_images, progress=progress)
            result = RefreshResult(status="ok", crawl=summary.to_json())
            if summary.status == "busy" or not summary.committed:
                result.status = "crawl_failed" if summary.status != "busy" else "busy"
                result.message = (f"crawl {summary.status}: {summary.error or 'nothing written'};"
                                  " the index was not rebuilt")
                return result
            env = config.child_environment()
            argv = index_cmd or index_argv()
            log.info("crawl %s; rebuilding the index: %s", summary.status, " ".join(argv))
            try:
                proc = subprocess.run(argv, env=env, capture_output=True, text=True,
                                      timeout=index_timeout)
                result.index_rc = proc.returncode
                result.index_output = (proc.stdout + proc.stderr)[-4000:]
            except (OSError, subprocess.TimeoutExpired) as e:
                result.index_rc = -1
                result.index_output = str(e)
            if result.index_rc != 0:
                result.status = "index_failed"
                result.message = f"index rebuild failed (rc {result.index_rc}); the previous " \
                                 f"index keeps serving: {result.index_output.strip()[-500:]}"
            elif not summary.ok:
                result.status = "crawl_failed"
                result.message = f"crawl failed for some listings ({summary.error}); the " \
                                 "listings that completed were indexed"
            else:
                result.message = summary.format().splitlines()[0] + "; " + \
                    (result.index_output.strip().splitlines() or [""])[-1]
            return result
    except RefreshBusy as e:
        return RefreshResult(status="busy", message=str(e))


def exit_status(result: RefreshResult) -> int:
    """0 when crawl and index succeeded, EXIT_BUSY when another refresh held the lock, else 1."""
    return {"ok": 0, "busy": EXIT_BUSY}.get(result.status, 1)
