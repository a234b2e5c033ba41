"""Scheduling of the nightly refresh, with the clock injected; the refresh lock."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.catalog import Catalog
from core.config import Config
from scraper.refresh import (EXIT_BUSY, daily_time, is_catch_up_due, is_running, last_success, next_run,
                             refresh_argv, refresh_lock, run_refresh)

UTC = dt.timezone.utc
IST = ZoneInfo("Asia/Kolkata")


def test_defaults_are_0230_kolkata(monkeypatch):
    monkeypatch.delenv("LOOKBOT_CRAWL_TIME", raising=False)
    monkeypatch.delenv("LOOKBOT_TZ", raising=False)
    at = daily_time(Config.from_env())
    assert (at.hour, at.minute) == (2, 30) and at.tzinfo == IST


def test_configured_time_and_zone_from_env(monkeypatch):
    monkeypatch.setenv("LOOKBOT_CRAWL_TIME", "23:05")
    monkeypatch.setenv("LOOKBOT_TZ", "Europe/Berlin")
    at = daily_time(Config.from_env())
    assert (at.hour, at.minute) == (23, 5) and at.tzinfo == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("bad", ["25:00", "2:61", "half past two", "", "02"])
def test_bad_crawl_time_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="LOOKBOT_CRAWL_TIME"):
        daily_time(Config(crawl_time=bad))


def test_unknown_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="LOOKBOT_TZ"):
        daily_time(Config(tz="Mars/Olympus_Mons"))


def test_next_run_with_injected_clock():
    at = daily_time(Config())  # 02:30 IST = 21:00 UTC the day before
    now = dt.datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # 01:30 IST on the 28th
    nxt = next_run(at, now)
    assert nxt == dt.datetime(2026, 11, 28, 2, 30, tzinfo=IST)
    assert nxt.astimezone(UTC) == dt.datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    # a second after it: tomorrow's
    later = next_run(at, dt.datetime(2026, 11, 27, 21, 0, 1, tzinfo=UTC))
    assert later == dt.datetime(2026, 11, 29, 2, 30, tzinfo=IST)
    # exactly at it: now
    assert next_run(at, nxt.astimezone(UTC)) == nxt
    with pytest.raises(ValueError):
        next_run(at, dt.datetime(2026, 11, 27, 20, 0))


def test_catch_up_logic():
    now = dt.datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert is_catch_up_due(None, now)  # never crawled
    assert not is_catch_up_due(now - dt.timedelta(hours=23, minutes=59), now)
    assert not is_catch_up_due(now - dt.timedelta(hours=24), now)
    assert is_catch_up_due(now - dt.timedelta(hours=24, seconds=1), now)
    assert is_catch_up_due(now - dt.timedelta(days=5), now)
    # naive stamps are UTC; other zones compare as instants
    assert not is_catch_up_due(dt.datetime(2026, 11, 26, 10, 0), now)
    assert is_catch_up_due(dt.datetime(2026, 11, 26, 14, 0, tzinfo=IST), now)  # 08:30 UTC


def test_last_success_reads_crawl_runs(tmp_path):
    catalog = Catalog(tmp_path / "catalog.db")
    assert last_success(catalog) is None
    runs = catalog.db["crawl_runs"]
    runs.insert({"started": "2026-11-25T21:00:00+00:00", "finished": "2026-11-25T21:40:00+00:00",
                 "status": "ok"})
    runs.insert({"started": "2026-11-26T21:00:00+00:00", "finished": "2026-11-26T21:05:00+00:00",
                 "status": "failed", "error": "HTTP 500"})
    runs.insert({"started": "2026-11-27T08:00:00+00:00", "status": "running"})
    got = last_success(catalog)
    assert got == dt.datetime(2026, 11, 25, 21, 40, tzinfo=UTC)
    # failed and running crawls do not count: at start-up the next morning a catch-up is due
    assert is_catch_up_due(got, dt.datetime(2026, 11, 27, 8, 30, tzinfo=UTC))
    assert not is_catch_up_due(got, dt.datetime(2026, 11, 26, 8, 30, tzinfo=UTC))


async def test_jobqueue_run_daily_fires_at_the_configured_time():
    """PTB's JobQueue, given daily_time(config), schedules the job at 02:30 Asia/Kolkata."""
    from telegram.ext import ApplicationBuilder

    app = ApplicationBuilder().token("123456:TEST-not-a-real-token").build()
    jq = app.job_queue
    await jq.start()
    try:
        async def job(context):  # pragma: no cover - never fires in the test
            pass

        at = daily_time(Config(crawl_time="02:30", tz="Asia/Kolkata"))
        j = jq.run_daily(job, time=at, name="catalog-refresh")
        now = dt.datetime.now(UTC)
        expected = next_run(at, now)
        assert j.next_t is not None
        assert abs((j.next_t - expected).total_seconds()) < 1
        local = j.next_t.astimezone(IST)
        assert (local.hour, local.minute) == (2, 30)
    finally:
        await jq.stop()


def test_refresh_lock_prevents_overlap(tmp_path):
    config = Config(data_dir=tmp_path)
    assert not is_running(tmp_path)
    with refresh_lock(tmp_path):
        assert is_running(tmp_path)
        result = run_refresh(config, index_cmd=[sys.executable, "-c", "raise SystemExit(9)"])
        assert result.status == "busy" and "already running" in result.message
        # the busy refresh neither crawled nor recorded a run
        assert Catalog(config.catalog_path).last_run() is None
        # also across threads of one process (flock is per open file description)
        seen = []
        t = threading.Thread(target=lambda: seen.append(is_running(tmp_path)))
        t.start()
        t.join()
        assert seen == [True]
    assert not is_running(tmp_path)


def test_refresh_argv():
    argv = refresh_argv(max_pages=3, fetch_images=False, urls=["https://www.myntra.com/men-topwear"])
    assert argv[:4] == [sys.executable, "-m", "lookbot", "refresh"]
    assert argv[4:] == ["--max-pages", "3", "--no-images", "--url",
                        "https://www.myntra.com/men-topwear"]


def test_the_bots_refresh_command_runs_and_reports_a_held_lock(tmp_path):
    """The command the bot spawns is a real `lookbot refresh`: with the lock held elsewhere it
    says so on its last line and exits EXIT_BUSY, which the bot reads as "busy"."""
    config = Config(data_dir=tmp_path)
    env = {**config.child_environment(), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with refresh_lock(tmp_path):
        proc = subprocess.run(refresh_argv(max_pages=1, fetch_images=False), env=env,
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_BUSY, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1].startswith("refresh busy: a catalog refresh is")
