"""Alerts on saved items after a catalog refresh, through the fake Bot API: grouped per user,
only to the users who saved the item and want alerts, held through the night in LOOKBOT_TZ
and across a restart, rate-limited. The slow test crawls the fixture shop with Chromium, then
lets the bot's /crawl refresh crawl it again with new prices."""
from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import saved_cards as texts
from bot.alerts import find_changes, is_quiet, merge, parse_quiet_hours
from bot.saved import Change, SavedItem
from bot.schedule import Refresher
from core.catalog import Catalog
from core.config import Config
from tests.helpers import (DEMO_IDS, answer_to_press, bot_on_fake_telegram,
                           shop_catalog, text_reply, write_listing)

IST = ZoneInfo("Asia/Kolkata")
ADMIN = 1
NEWS = "News about your saved items"


def at(hour: int, minute: int = 0, day: int = 4) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=IST).astimezone(dt.timezone.utc)


def config_for(tmp_path, **kw) -> Config:
    return Config(data_dir=tmp_path / "data", bot_db=str(tmp_path / "bot.db"), crawl_time="off",
                  admin_ids=str(ADMIN), tz="Asia/Kolkata", **kw)


def pid(product: dict) -> str:
    return f"myntra:{product['productId']}"


async def save(fake, user_id: int, product_id: str) -> None:
    message = {"message_id": 1, "date": 0, "chat": {"id": user_id, "type": "private"}}
    # a demo product has no price, so ♥ promises a stock alert, not a price drop
    expected = texts.SAVED_UNPRICED if product_id.startswith("demo:") else texts.SAVED
    assert await answer_to_press(fake, user_id, message, f"save:{product_id}") == expected


def news(fake, user_id: int) -> list[str]:
    return [c.raw for c in fake.sent(user_id, "sendMessage") if NEWS in c.text]


async def refresh(fake, app, users: set[int]) -> None:
    """The admin's /crawl; returns once the check after it has queued news for `users`."""
    before = len(fake.sent(ADMIN, "sendMessage"))
    fake.send_text(ADMIN, "/crawl")
    await fake.wait_for(lambda: [c for c in fake.sent(ADMIN, "sendMessage")[before:]
                                 if "Catalog refresh ok" in c.text], 30)
    await fake.wait_for(lambda: set(app.bot_data["alerts"].store.queued()) == users, 10)


# --- the rules --------------------------------------------------------------------------------
def item(ref_price, listed=True, product_id="myntra:1") -> SavedItem:
    return SavedItem(5, product_id, "Tee", "https://www.myntra.com/1", ref_price=ref_price,
                     listed=listed)


def test_find_changes_tells_drops_of_five_percent_and_stock_changes():
    rows = {"myntra:1": {"price": 950, "active": 1}}
    updates, changes = find_changes([item(1000)], rows, 5.0)
    assert [(c.kind, c.old_price, c.new_price) for c in changes] == [("drop", 1000, 950)]
    assert updates[0].ref_price == 950
    assert find_changes([item(1000)], {"myntra:1": {"price": 951, "active": 1}}, 5.0)[1] == []
    up, none = find_changes([item(1000)], {"myntra:1": {"price": 1400, "active": 1}}, 5.0)
    assert none == [] and up == []  # a rise is not told and the reference stays
    _, gone = find_changes([item(1000)], {"myntra:1": {"price": 900, "active": 0}}, 5.0)
    assert [c.kind for c in gone] == ["gone"]
    _, missing = find_changes([item(1000)], {}, 5.0)
    assert [c.kind for c in missing] == ["gone"]
    up, back = find_changes([item(1000, listed=False)], {"myntra:1": {"price": 800,
                                                                      "active": 1}}, 5.0)
    assert [c.kind for c in back] == ["back", "drop"] and up[0].listed
    demo = {"demo:1": {"price": None, "active": 1}}
    assert find_changes([item(None, product_id="demo:1")], demo, 5.0) == ([], [])


def test_merge_joins_drops_and_cancels_stock_changes_that_undo_each_other():
    def change(kind, old=None, new=None, product="p"):
        return Change(5, product, kind, "Tee", "https://x", old, new)
    merged = merge([change("drop", 1000, 900), change("drop", 900, 800), change("gone"),
                    change("back", new=800), change("gone", product="q")])
    assert [(c.product_id, c.kind, c.old_price, c.new_price) for c in merged] == \
        [("p", "drop", 1000, 800), ("q", "gone", None, None)]
    assert merge([change("drop", 1000, 900), change("gone")])[0].kind == "gone"


def test_quiet_hours_span_midnight_in_the_configured_zone():
    quiet = parse_quiet_hours("22:00-08:00")
    assert is_quiet(at(2, 45), quiet, IST) and is_quiet(at(22, 0), quiet, IST)
    assert not is_quiet(at(8, 0), quiet, IST) and not is_quiet(at(21, 59), quiet, IST)
    assert not is_quiet(at(3), parse_quiet_hours("off"), IST)
    with pytest.raises(ValueError, match="LOOKBOT_ALERT_QUIET_HOURS"):
        parse_quiet_hours("nights")


def test_alert_text_never_invents_a_price_and_fits_a_message():
    demo = Change(5, "demo:1", "back", "Demo Tee", "https://www.myntra.com/1")
    text = texts.alert_text([demo])
    assert "price on Myntra" in text and "₹" not in text
    many = [Change(5, f"p{i}", "drop", "A long title " * 8, "https://www.myntra.com/x",
                   2000, 1000) for i in range(100)]
    text = texts.alert_text(many)
    assert len(text) <= texts.MESSAGE_LIMIT and "more in /saved" in text


# --- through the bot ----------------------------------------------------------------------------
async def test_alerts_wait_for_the_morning_survive_a_restart_and_are_rate_limited(tmp_path):
    config = config_for(tmp_path)
    listings = shop_catalog(config)
    catalog = Catalog(config.catalog_path, config.data_dir)
    tops, shoes = listings["men-topwear"], listings["women-footwear"]
    refresher = Refresher(config, argv=[sys.executable, "-c", "print('refresh ok')"])
    async with bot_on_fake_telegram(config, refresher=refresher) as (fake, app):
        app.bot_data["alerts"].clock = lambda: at(2, 45)  # the nightly refresh
        for product in (tops[0], tops[1], DEMO_IDS[0]):
            await save(fake, 21, product if isinstance(product, str) else pid(product))
        await save(fake, 22, pid(shoes[0]))
        await save(fake, 23, pid(tops[0]))
        assert await text_reply(fake, 23, "/alerts off") == texts.ALERTS_OFF

        saved_price = tops[0]["price"]
        tops[0]["price"] = int(saved_price * 0.8)  # -20 %
        gone = tops.pop(1)  # no longer listed: out of stock
        shoes[0]["price"] += 100  # dearer: nothing to tell
        write_listing(catalog, "men-topwear", tops)
        write_listing(catalog, "women-footwear", shoes)
        await refresh(fake, app, {21})
        assert not any(news(fake, u) for u in (21, 22, 23))  # night in Kolkata: it waits

    async with bot_on_fake_telegram(config, refresher=refresher) as (fake, app):
        alerts = app.bot_data["alerts"]
        alerts.clock = lambda: at(8, 5)
        # what the alerts job runs every few minutes; twice at once still sends one message
        assert sum(await asyncio.gather(alerts.deliver(app.bot), alerts.deliver(app.bot))) == 1
        (text,) = news(fake, 21)
        assert tops[0]["productName"] in text and gone["productName"] in text
        cut = round(100 * (saved_price - tops[0]["price"]) / saved_price)
        assert "out of stock" in text and f"(−{cut}%)" in text
        assert f"₹{tops[0]['price']:,}" in text
        assert not news(fake, 22) and not news(fake, 23) and not news(fake, ADMIN)

        tops.append(gone)  # back in stock
        tops[0]["price"] = int(tops[0]["price"] * 0.9)
        write_listing(catalog, "men-topwear", tops)
        alerts.clock = lambda: at(9)
        await refresh(fake, app, {21})
        assert len(news(fake, 21)) == 1  # one alert in 12 hours at most: this one waits
        alerts.clock = lambda: at(20, 10)
        assert await alerts.deliver(app.bot) == 1
        later = news(fake, 21)[-1]
        assert "back in stock" in later and gone["productName"] in later
        assert tops[0]["productName"] in later
        assert await alerts.deliver(app.bot) == 0 and len(news(fake, 21)) == 2


@pytest.mark.slow
@pytest.mark.skipif(not (Path("/usr/bin/chromium").exists()
                         and Path("/usr/bin/chromedriver").exists()),
                    reason="needs Debian chromium + chromium-driver")
async def test_a_price_drop_in_the_crawl_reaches_the_user_who_saved_it_and_nobody_else(
        tmp_path, monkeypatch):
    from scraper.crawl import crawl
    from tests.fixtures.shop.shop import Shop

    shop = Shop().start()
    config = config_for(tmp_path, crawl_delay=0, crawl_hosts="127.0.0.1", crawl_page_timeout=20)
    urls = [shop.url("men-topwear"), shop.url("women-footwear")]
    monkeypatch.setenv("LOOKBOT_CRAWL_HOSTS", "127.0.0.1")  # for the refresh's own crawl
    monkeypatch.setenv("LOOKBOT_CRAWL_DELAY", "0")
    crawl_again = [sys.executable, "-c", "import sys; from core.config import Config; "
                   "from scraper.crawl import crawl; s = crawl(Config.from_env(), sys.argv[1:], "
                   "5, True, progress=False); print(s.format()); sys.exit(s.exit_code)", *urls]
    refresher = Refresher(config, argv=crawl_again)
    try:
        assert crawl(config, urls, 5, True, progress=False).status == "ok"
        tops, shoes = shop.products("men-topwear"), shop.products("women-footwear")
        async with bot_on_fake_telegram(config, refresher=refresher) as (fake, app):
            app.bot_data["alerts"].clock = lambda: at(12)
            await save(fake, 41, pid(tops[0]))
            await save(fake, 42, pid(shoes[0]))
            await save(fake, 42, pid(tops[1]))
            original = tops[0]["price"]
            tops[0]["price"] = int(original * 0.9)
            before = len(fake.sent(ADMIN, "sendMessage"))
            fake.send_text(ADMIN, "/crawl")
            done = await fake.wait_for(lambda: [c for c in fake.sent(ADMIN, "sendMessage")
                                                [before:] if "Catalog refresh " in c.text
                                                and "started" not in c.text], 120)
            assert "Catalog refresh ok" in done[0].text, done[0].text
            (text,) = await fake.wait_for(lambda: news(fake, 41), 20)
            assert tops[0]["productName"] in text and f"₹{tops[0]['price']:,}" in text
            assert not news(fake, 42) and not news(fake, ADMIN)
            assert {c.chat_id for c in fake.sent(None, "sendMessage") if NEWS in c.text} == {41}
    finally:
        shop.stop()
    history = Catalog(config.catalog_path).price_history(pid(tops[0]))
    assert [h["price"] for h in history] == [original, tops[0]["price"]]
    assert len(Catalog(config.catalog_path).price_history(pid(shoes[0]))) == 1
