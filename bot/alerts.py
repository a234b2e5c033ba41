"""Alerts after each catalog refresh: saved items whose price dropped, that came back in stock
or went out of stock. One grouped message per user, at most one per LOOKBOT_ALERT_MIN_GAP_HOURS,
never in LOOKBOT_ALERT_QUIET_HOURS of LOOKBOT_TZ: what cannot go now waits in the bot's SQLite
and a JobQueue job sends it when it may (the morning, for the nightly crawl).

Listings show no stock figures, so "out of stock" means the crawl no longer finds the product
listed (products.active = 0) and "back in stock" means it is listed again.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import re
from typing import Callable, Optional
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from core.catalog import Catalog
from core.config import Config

from . import saved_cards
from .saved import Change, SavedItem, SavedItems, utc_now

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
DELIVERY_EVERY = dt.timedelta(minutes=10)  # how often waiting alerts are looked at


def find_changes(items: list[SavedItem], rows: dict[str, dict], drop_percent: float
                 ) -> tuple[list[SavedItem], list[Change]]:
    """Each saved item's new alert state against today's catalog rows, and what changed.

    A drop is a price at least `drop_percent` below `ref_price` (the price when saved or at
    the last drop alert); rises are not told and leave `ref_price` alone. A product without a
    price (the demo catalog) never drops.
    """
    updates, changes = [], []
    for item in items:
        row = rows.get(item.product_id)
        listed = bool(row and row.get("active"))
        price = row.get("price") if row and listed else None
        new = dataclasses.replace(item, listed=listed)
        tell = lambda kind, **kw: changes.append(  # noqa: E731
            Change(item.user_id, item.product_id, kind, item.title, item.url, **kw))
        if item.listed and not listed:
            tell("gone", old_price=item.ref_price)
        elif listed and not item.listed:
            tell("back", new_price=price)
        if price is not None:
            if item.ref_price is None:
                new.ref_price = price
            elif price <= item.ref_price * (1 - drop_percent / 100):
                tell("drop", old_price=item.ref_price, new_price=price)
                new.ref_price = price
        if new != item:
            updates.append(new)
    return updates, changes


def merge(changes: list[Change]) -> list[Change]:
    """One line per product: stock changes that cancel out vanish, drops join up."""
    by_product: dict[str, list[Change]] = {}
    for change in changes:
        by_product.setdefault(change.product_id, []).append(change)
    out = []
    for group in by_product.values():
        stock = [c for c in group if c.kind != "drop"]
        drops = [c for c in group if c.kind == "drop"]
        if len(stock) % 2:  # gone and back alternate, so an even count leaves it as it was
            out.append(stock[-1])
        if drops and not (stock and stock[-1].kind == "gone"):
            out.append(dataclasses.replace(drops[-1], old_price=drops[0].old_price))
    return out


def parse_quiet_hours(text: str) -> Optional[tuple[dt.time, dt.time]]:
    """"22:00-08:00" -> (start, end); "off" -> None."""
    if text.strip().lower() in ("", "off", "none", "never"):
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", text.replace(" ", ""))
    try:
        h1, m1, h2, m2 = (int(g) for g in match.groups())  # type: ignore[union-attr]
        return dt.time(h1, m1), dt.time(h2, m2)
    except (AttributeError, ValueError):
        raise ValueError(f"LOOKBOT_ALERT_QUIET_HOURS must be HH:MM-HH:MM or off, "
                         f"got {text!r}") from None


def is_quiet(now: dt.datetime, quiet: Optional[tuple[dt.time, dt.time]], zone: ZoneInfo
             ) -> bool:
    """Whether `now` falls in the quiet hours (which may span midnight) of `zone`."""
    if quiet is None:
        return False
    t, (start, end) = now.astimezone(zone).time(), quiet
    return start <= t < end if start <= end else (t >= start or t < end)


class Alerts:
    """Finds changes after a refresh, queues them, and sends what may go now."""

    def __init__(self, config: Config, store: SavedItems, clock: Clock = utc_now):
        self.store, self.clock = store, clock
        self.drop_percent = config.alert_drop_percent
        self.quiet = parse_quiet_hours(config.alert_quiet_hours)
        self.zone = ZoneInfo(config.tz)
        self.gap = dt.timedelta(hours=config.alert_min_gap_hours)
        self.catalog = Catalog(config.catalog_path, config.data_dir)
        self._sending = asyncio.Lock()  # the job and a refresh's end must not both send one

    def check(self) -> int:
        """Compare every saved item with today's catalog; queue what changed. Returns how many."""
        items = self.store.items()
        rows = self.catalog.get_many(sorted({i.product_id for i in items}))
        updates, changes = find_changes(items, rows, self.drop_percent)
        self.store.record_changes(updates, changes)
        log.info("alerts: %d saved items checked, %d changes queued", len(items), len(changes))
        return len(changes)

    def due(self) -> list[int]:
        """Users whose waiting alerts may be sent now."""
        now = self.clock()
        if is_quiet(now, self.quiet, self.zone):
            return []
        out = []
        for user_id in self.store.queued():
            last = self.store.last_alert(user_id)
            if last is None or now - last >= self.gap:
                out.append(user_id)
        return out

    async def deliver(self, bot: Bot) -> int:
        """Send each due user one grouped message; returns how many were sent."""
        async with self._sending:
            return await self._deliver(bot)

    async def _deliver(self, bot: Bot) -> int:
        queued, sent = self.store.queued(), 0
        for user_id in self.due():
            changes = merge(queued[user_id])
            if not changes or not self.store.alerts_on(user_id):
                self.store.sent(user_id, None)
                continue
            try:
                await bot.send_message(user_id, saved_cards.alert_text(changes),
                                       parse_mode=ParseMode.HTML,
                                       disable_web_page_preview=True)
            except (Forbidden, BadRequest) as exc:  # blocked the bot, or no such chat: drop
                log.warning("alert to %s dropped: %s", user_id, exc)
                self.store.sent(user_id, None)
                continue
            except TelegramError as exc:  # network trouble: it stays queued for the next try
                log.warning("alert to %s not sent yet: %s", user_id, exc)
                continue
            self.store.sent(user_id, self.clock())
            sent += 1
        return sent

    async def after_refresh(self, bot: Bot) -> int:
        """What the refresher calls when a refresh ends: check, then send what may go now."""
        self.check()
        return await self.deliver(bot)

    def schedule(self, job_queue) -> None:
        """Look at the waiting alerts every few minutes (the morning's come out this way)."""
        async def job(context) -> None:
            await self.deliver(context.bot)

        job_queue.run_repeating(job, interval=DELIVERY_EVERY, first=60, name="alerts")
