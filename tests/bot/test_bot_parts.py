"""The bot's parts that need no models: cards, preferences, the worker pool, the refresh
schedule, token handling and retries (through the fake Bot API server)."""
from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import os
import subprocess
import sys
import time

import pytest
from PIL import Image

from bot import cards, collage
from bot.app import build_application, protect_token
from bot.prefs import Prefs, parse_budget, parse_gender, state_path
from bot.schedule import Refresher, plan, schedule
from bot.worker import BUSY, USER_FULL, PhotoQueues, WorkerPool
from core.catalog import Catalog
from core.config import Config
from core.records import Product
from tests.helpers import FIXTURES, REPO
from tests.fake_telegram import TOKEN, FakeTelegram

CATALOG_IMAGES = sorted((FIXTURES / "shop" / "images").glob("*.jpg"))


def product(i: int, title: str = "Roadster Men Blue Slim Fit Denim Jeans", price=None,
            url: str | None = None) -> Product:
    image = str(CATALOG_IMAGES[i % len(CATALOG_IMAGES)]) if CATALOG_IMAGES else None
    return Product(id=str(i), title=title, brand="Roadster", price=price,
                   url=url or f"https://www.myntra.com/{i}", image=image, category="bottomwear")


# --- cards ------------------------------------------------------------------------------------
def test_card_fits_telegram_limits_even_with_huge_titles():
    long = "Roadster " + "Extraordinarily Long Product Name " * 12
    products = [product(i, long, price=1299 if i % 2 else None) for i in range(12)]
    card = cards.card("bottomwear", products, "more:abcdef123456", first=6)
    # Telegram's limit counts the caption after its HTML is parsed ("after entities parsing")
    assert cards.visible_length(card.caption) <= cards.CAPTION_LIMIT
    assert card.caption.count('<a href="https://www.myntra.com/') == cards.MAX_PER_CARD
    assert "₹1,299" in card.caption and "price on Myntra" in card.caption
    rows = card.keyboard.inline_keyboard
    numbers = [b.text for row in rows[:-1] for b in row if b.url]
    assert numbers == [str(i) for i in range(6, 6 + cards.MAX_PER_CARD)]
    hearts = [b for row in rows[:-1] for b in row if b.callback_data]
    assert [b.text for b in hearts] == [f"♥ {i}" for i in range(6, 6 + cards.MAX_PER_CARD)]
    assert [b.callback_data for b in hearts] == [f"save:{p.id}" for p in products[:10]]
    assert all(len(row) <= cards.BUTTONS_PER_ROW for row in rows)
    assert rows[-1][0].text == "More like this" and rows[-1][0].callback_data.startswith("more:")
    image = Image.open(io.BytesIO(card.photo))
    assert image.format == "JPEG"
    tile = collage.SMALL  # the fixtures' pictures are 60x80: tiles at twice that, five a row
    assert image.size == (5 * (tile.tile_w + collage.PAD) + collage.PAD,
                          2 * (tile.tile_h + tile.text_h + collage.PAD) + collage.PAD)


def test_card_escapes_html_and_skips_links_that_are_not_web_pages():
    odd = product(1, "Tom & <Jerry> Tee", url="javascript:alert(1)")
    odd.brand, odd.image = "A&B", "/nonexistent/missing.jpg"
    card = cards.card("topwear", [odd, product(2)], "more:x")
    assert "Tom &amp; &lt;Jerry&gt; Tee" in card.caption and "javascript" not in card.caption
    urls = [b.url for row in card.keyboard.inline_keyboard for b in row if b.url]
    assert urls == ["https://www.myntra.com/2"]
    assert Image.open(io.BytesIO(card.photo)).size[0] > 0  # a missing image is a blank tile


# --- preferences --------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [("men", "men"), ("Women", "women"), ("female", "women"),
                                           ("ANY", "any"), ("kids", "kids"), ("children", "kids"),
                                           ("everyone", "any"), ("m", "men"), ("F", "women"),
                                           ("aliens", None), ("", None)])
def test_parse_gender(text, expected):
    assert parse_gender(text) == expected


@pytest.mark.parametrize("text,expected", [("2000", (True, 2000)), ("₹1,500", (True, 1500)),
                                           ("2k", (True, 2000)), ("off", (True, None)),
                                           ("cheap", (False, None)), ("-5", (False, None)),
                                           ("0", (False, None)), ("Rs 999", (True, 999)),
                                           ("₹ 1500", (True, 1500)), ("INR 800", (True, 800)),
                                           ("1 500", (True, 1500)), ("2k rupees", (True, 2000)),
                                           ("1,50,000", (True, 150000)),
                                           ("500 1000", (False, None))])  # a range, not ₹5,001,000
def test_parse_budget(text, expected):
    assert parse_budget(text) == expected


def test_prefs_and_counters_survive_reopening(tmp_path):
    prefs = Prefs(tmp_path / "bot.db")
    prefs.set_gender(1, "men")
    prefs.set_budget(1, 999)
    prefs.set_budget(2, 500)
    prefs.count("requests")
    prefs.count("requests", 2)
    prefs.close()
    again = Prefs(tmp_path / "bot.db")
    assert (again.get(1).gender, again.get(1).budget) == ("men", 999)
    assert (again.get(2).gender, again.get(2).budget) == ("auto", 500)  # never chose one
    assert again.get(3).options(k=5).gender == "auto"
    assert (again.get(1).options(k=5).gender, again.get(1).options(k=5).budget) == ("men", 999)
    assert again.counter("requests") == 3 and again.counter("nothing") == 0


# --- worker pool and queues ----------------------------------------------------------------------
async def test_pool_runs_in_threads_a_few_photos_at_a_time():
    pool = WorkerPool(workers=2)
    assert await pool.run(sum, [1, 2, 3]) == 6
    async with pool.turn():
        async with pool.turn():
            assert pool.turn().locked()  # a third photo waits for one of the two
    pool.shutdown()


async def test_queues_answer_each_users_photos_in_order_within_their_bounds():
    go, answered = asyncio.Event(), []

    async def answer(job):
        await go.wait()
        if job[1] == 12:
            raise RuntimeError("a bug while answering")  # counted; the next one still runs
        answered.append(job)

    q = PhotoQueues(answer, order=lambda job: job[1], per_user=3, total=5)
    first = q.offer(1, [(1, 10)])
    assert first.taken == [(1, 10)] and not first.acknowledge and not first.refused
    second = q.offer(1, [(1, 12)])
    assert second.waiting == 1 and second.acknowledge  # told once that photos wait in line
    third = q.offer(1, [(1, 11)])  # handled after 12, sent before it: answered before it
    assert third.taken and not third.acknowledge
    full = q.offer(1, [(1, 13)])
    assert full.refused == [(1, 13)] and full.reason == USER_FULL and q.refused == 1
    album = q.offer(2, [(2, 20), (2, 21), (2, 22)])  # 3 of 5 places are taken
    assert album.taken == [(2, 20), (2, 21)] and album.refused == [(2, 22)]
    assert album.reason == BUSY and album.acknowledge
    assert q.pending == 5 and q.unanswered(1) == 3
    go.set()
    while q.pending:
        await asyncio.sleep(0.01)
    assert [j for j in answered if j[0] == 1] == [(1, 10), (1, 11)]
    assert [j for j in answered if j[0] == 2] == [(2, 20), (2, 21)]
    assert (q.taken, q.answered, q.refused) == (5, 5, 2)
    assert not q.offer(1, [(1, 14)]).acknowledge  # a new burst: nothing waits before it
    await q.drain(5)

    go.clear()
    q.offer(3, [(3, 30), (3, 31)])
    await asyncio.sleep(0.05)
    left = await q.drain(0.1, finish=0.1)  # 30 is being answered, and can't finish
    assert left.never_started == [(3, 31)]  # for "please send it again"
    assert left.cut == [(3, 30)]  # part of it was sent: kept for the next start instead
    assert q.pending == 0


async def test_at_shutdown_a_photo_being_answered_may_finish_but_no_other_starts():
    go, answered = asyncio.Event(), []

    async def answer(job):
        await go.wait()
        answered.append(job)

    q = PhotoQueues(answer, order=lambda job: job[1])
    q.offer(4, [(4, 40), (4, 41)])
    await asyncio.sleep(0.05)
    asyncio.get_running_loop().call_later(0.3, go.set)  # 40 needs a moment past the timeout
    left = await q.drain(0.1, finish=5)
    assert answered == [(4, 40)]  # finished whole, not cut half-way
    assert left.cut == [] and left.never_started == [(4, 41)]


# --- nightly refresh ----------------------------------------------------------------------------
def test_plan_catches_up_only_when_the_last_good_crawl_is_stale():
    config = Config(crawl_time="02:30", tz="Asia/Kolkata")
    now = dt.datetime(2026, 11, 27, 6, 0, tzinfo=dt.timezone.utc)
    assert plan(config, now, None).catch_up
    assert plan(config, now, now - dt.timedelta(hours=25)).catch_up
    assert not plan(config, now, now - dt.timedelta(hours=3)).catch_up
    daily = plan(config, now, None).daily
    assert (daily.hour, daily.minute, str(daily.tzinfo)) == (2, 30, "Asia/Kolkata")
    off = plan(Config(crawl_time="off"), now, None)
    assert off.daily is None and not off.catch_up


def test_nightly_job_and_catch_up_land_on_the_job_queue(tmp_path):
    config = Config(data_dir=tmp_path, crawl_time="03:15", tz="Asia/Kolkata")
    catalog = Catalog(config.catalog_path, tmp_path)
    catalog.finish_run(catalog.start_run(["https://www.myntra.com/men-topwear"]), "ok")
    app = build_application(config, TOKEN, engine=None,
                            prefs=Prefs(tmp_path / "bot.db"))
    now = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731
    fresh = schedule(app.job_queue, Refresher(config), clock=now)
    assert not fresh.catch_up
    assert [j.name for j in app.job_queue.jobs()] == ["nightly-refresh"]
    later = lambda: now() + dt.timedelta(hours=30)  # noqa: E731
    stale = schedule(app.job_queue, Refresher(config), clock=later)
    assert stale.catch_up and "catch-up-refresh" in [j.name for j in app.job_queue.jobs()]
    trigger = app.job_queue.jobs()[0].job.trigger
    assert str(trigger.timezone) == "Asia/Kolkata" and "hour='3'" in str(trigger)


async def test_refreshes_never_overlap_and_failures_are_reported(tmp_path):
    config = Config(data_dir=tmp_path)
    slow = Refresher(config, argv=[sys.executable, "-c",
                                   "import time; time.sleep(1); print('done')"])
    first, second = await asyncio.gather(slow.run(), slow.run())
    assert sorted([first.status, second.status]) == ["busy", "ok"]
    assert "done" in (first.message + second.message)
    done = asyncio.Event()
    outcomes = []

    async def on_done(outcome):
        outcomes.append(outcome)
        done.set()

    assert slow.start(on_done) and not slow.start(on_done)
    await asyncio.wait_for(done.wait(), 10)
    assert [o.status for o in outcomes] == ["ok"]
    failing = Refresher(config, argv=[sys.executable, "-c", "import sys; print('crawl: no net');"
                                                             " sys.exit(1)"])
    outcome = await failing.run()
    assert outcome.status == "failed" and outcome.returncode == 1 and "no net" in outcome.message


# --- token and transport ------------------------------------------------------------------------
def test_missing_token_is_one_clear_line_and_a_failure():
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "bot.app"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "TELEGRAM_BOT_TOKEN" in proc.stderr


def test_token_never_reaches_the_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        protect_token(TOKEN)
        logging.getLogger("httpx").warning("HTTP Request: POST https://api.telegram.org/bot%s/"
                                           "getMe", TOKEN)
        logging.getLogger("telegram.ext").error("failed for https://x/bot%s/sendPhoto", TOKEN)
        logging.getLogger("anything").error("token %s", TOKEN)
        try:  # a traceback's text too: telegram's InvalidToken names the token it was given
            raise ValueError(f"The token `{TOKEN}` was rejected by the server.")
        except ValueError:
            logging.getLogger("telegram.ext").exception("bootstrap failed")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert TOKEN not in text and text.count("<token>") == 4
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING


async def test_retry_after_and_timeouts_are_retried(tmp_path):
    fake = await FakeTelegram().start()
    config = Config(data_dir=tmp_path, crawl_time="off", telegram_base_url=fake.base_url,
                    telegram_base_file_url=fake.base_file_url)
    app = build_application(config, TOKEN, engine=None, http_timeout=1.0)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", {"retry_after": 1})
        t = time.monotonic()
        fake.send_text(1, "/start")
        await fake.wait_for(lambda: fake.sent(1, "sendMessage"), 20)
        assert time.monotonic() - t >= 1.0
        assert "Send me a photo" in fake.sent(1, "sendMessage")[0].text

        # The first try times out (read timeout 1 s): the retry delivers, with no error reply.
        fake.stall_next("sendMessage", 1.5)
        fake.send_text(2, "/help")
        await fake.wait_for(lambda: fake.sent(2, "sendMessage"), 20)
        await asyncio.sleep(2.5)
        texts = [c.text for c in fake.sent(2, "sendMessage")]
        assert texts and all("Send me a photo" in t for t in texts), texts
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await fake.stop()


async def test_fake_api_speaks_albums_urls_edits_and_files_like_telegram():
    """The fake server, driven by PTB's own Bot: the calls the issue lists behave as the real
    API does, limits included, so the end-to-end tests mean something."""
    from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
    from telegram.error import BadRequest

    fake = await FakeTelegram().start()
    jpegs = [p.read_bytes() for p in CATALOG_IMAGES[:3]]
    try:
        async with Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
            assert (await bot.get_me()).username == "lookbot_test_bot"
            album = await bot.send_media_group(
                5, [InputMediaPhoto(data, caption=f"<b>{i}</b>", parse_mode="HTML")
                    for i, data in enumerate(jpegs)])
            assert len(album) == 3
            call = fake.sent(5, "sendMediaGroup")[0]
            assert sorted(call.files.values()) == sorted(jpegs)  # attach:// parts resolved
            with pytest.raises(BadRequest, match="2-10"):
                await bot.send_media_group(5, [InputMediaPhoto(jpegs[0])] * 11)
            by_url = await bot.send_photo(5, "https://www.myntra.com/image.jpg", caption="x")
            assert fake.sent(5, "sendPhoto")[-1].params["photo"].startswith("https://")
            with pytest.raises(BadRequest, match="caption is too long"):
                await bot.send_photo(5, jpegs[0], caption="x" * 1025)
            # counted after the markup is parsed, as Telegram counts it: this one fits
            await bot.send_photo(5, jpegs[0], caption=f'<a href="https://x.example/">{"x" * 1000}</a>',
                                 parse_mode="HTML")
            with pytest.raises(BadRequest, match="caption is too long"):
                await bot.send_photo(5, jpegs[0], caption="<b>👗</b>" * 513, parse_mode="HTML")
            with pytest.raises(BadRequest, match="parse entities"):
                await bot.send_message(5, "<b>unclosed", parse_mode="HTML")
            keys = InlineKeyboardMarkup([[InlineKeyboardButton("1", url="https://x.example")]])
            edited = await bot.edit_message_caption(5, by_url.message_id, caption="y",
                                                    reply_markup=keys)
            assert edited.caption == "y"
            await bot.edit_message_text("z", 5, by_url.message_id)
            await bot.edit_message_reply_markup(5, by_url.message_id, reply_markup=keys)
            with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
                await bot.send_message(5, "x", reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("1", callback_data="d" * 65)]]))
            assert await bot.send_chat_action(5, "typing")
            assert await bot.set_my_commands([("start", "hi")])
            assert await bot.delete_webhook()

            message = fake.send_photo(5, jpegs[1])
            updates = await bot.get_updates(timeout=1)
            assert updates[-1].message.message_id == message["message_id"]
            assert not await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
            t = time.monotonic()
            assert not await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1)
            assert time.monotonic() - t >= 0.9  # long polling waits for the timeout
            tg_file = await bot.get_file(updates[-1].message.photo[-1].file_id)
            assert bytes(await tg_file.download_as_bytearray()) == jpegs[1]
            huge = fake.add_file(jpegs[1], size=25_000_000)
            with pytest.raises(BadRequest, match="too big"):
                await bot.get_file(huge["file_id"])
            query = fake.press(5, message, "more:x")
            update = (await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1))[-1]
            assert update.callback_query.id == query and update.callback_query.data == "more:x"
            assert await bot.answer_callback_query(query, text="ok")

            # An album from one user, and photos from two others: ids and groups as Telegram's.
            album = fake.send_album(6, jpegs, caption="my looks")
            others = [fake.send_photo(7, jpegs[0]), fake.send_photo(8, jpegs[1], chat_id=-50)]
            got = await bot.get_updates(offset=update.update_id + 1, timeout=1)
            assert [u.message.message_id for u in got] == \
                [m["message_id"] for m in album + others]
            assert {u.message.media_group_id for u in got[:3]} == {album[0]["media_group_id"]}
            assert got[0].message.caption == "my looks" and got[3].message.media_group_id is None
            assert [(u.effective_user.id, u.effective_chat.id) for u in got[2:]] == \
                [(6, 6), (7, 7), (8, -50)]
    finally:
        await fake.stop()


async def test_private_chats_get_about_one_message_a_second_after_a_short_burst():
    from telegram.ext import ExtBot

    from bot.app import RetryingRateLimiter

    fake = await FakeTelegram().start()
    limiter = RetryingRateLimiter(chat_burst=2, chat_seconds_per_message=0.5)
    try:
        async with ExtBot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url,
                          rate_limiter=limiter) as bot:
            await asyncio.gather(*(bot.send_message(5, f"m{i}") for i in range(6)),
                                 *(bot.send_message(100 + i, "other chat") for i in range(4)),
                                 *(bot.send_chat_action(5, "typing") for i in range(4)))
        one_chat = [c.at for c in fake.sent(5, "sendMessage")]
        others = [c.at for c in fake.sent(None, "sendMessage") if c.chat_id >= 100]
        actions = [c.at for c in fake.sent(5, "sendChatAction")]
        assert len(one_chat) == 6 and max(one_chat) - min(one_chat) >= 1.5  # 2 at once, then 2/s
        assert max(others) - min(others) < 0.5 and max(actions) - min(actions) < 0.5
    finally:
        await fake.stop()


async def test_a_crashing_handler_is_logged_and_the_user_told(tmp_path, caplog):
    fake = await FakeTelegram().start()
    config = Config(data_dir=tmp_path, crawl_time="off", telegram_base_url=fake.base_url,
                    telegram_base_file_url=fake.base_file_url)
    # No engine at all: the photo handler fails inside, as any unexpected bug would.
    app = build_application(config, TOKEN, engine=None)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        message = fake.send_photo(3, CATALOG_IMAGES[0].read_bytes())
        await fake.wait_for(lambda: fake.sent(3, "sendMessage"), 20)
        assert fake.sent(3, "sendMessage")[0].text == cards.SOMETHING_WRONG
        await fake.wait_for(lambda: app.bot_data["services"].queue.pending == 0, 5)
        fake.send_text(3, "/start")  # and the bot is still answering
        await fake.wait_for(lambda: len(fake.sent(3, "sendMessage")) >= 2, 20)
        assert message["message_id"]
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await fake.stop()
    assert "error while answering a photo" in caplog.text


async def test_an_unreadable_saved_state_is_moved_aside_and_the_bot_starts(tmp_path, caplog):
    fake = await FakeTelegram().start()
    config = Config(data_dir=tmp_path, crawl_time="off", telegram_base_url=fake.base_url,
                    telegram_base_file_url=fake.base_file_url)
    state = state_path(config)
    state.write_bytes(b"\x80\x05 half a pickle, cut by a power failure")
    app = build_application(config, TOKEN, engine=None)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        fake.send_text(3, "/start")
        await fake.wait_for(lambda: fake.sent(3, "sendMessage"), 20)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await fake.stop()
    assert state.with_name(state.name + ".unreadable").exists()
    assert "could not read the saved user state" in caplog.text


def test_kept_results_compare_without_error():
    """The persistence compares chat_data to learn what changed: a kept look holds an array, and
    comparing two must not raise (it logged a false ERROR every 30 s)."""
    import numpy as np

    from bot.handlers import Shown

    a = Shown("topwear", np.ones(4, np.float32), 5)
    b = Shown("topwear", np.ones(4, np.float32), 5)
    assert a == a and a != b and {"looks": {"k": a}} != {"looks": {"k": b}}


@pytest.mark.parametrize("document, animation, taken", [
    ({"file_id": "f", "file_unique_id": "u", "mime_type": "application/octet-stream"}, None, True),
    ({"file_id": "f", "file_unique_id": "u", "mime_type": "image/jpeg"}, None, True),
    # Telegram sends a GIF as an animation that also carries a document: the animation's answer
    ({"file_id": "f", "file_unique_id": "u", "mime_type": "video/mp4"},
     {"file_id": "a", "file_unique_id": "v", "width": 1, "height": 1, "duration": 1}, False),
])
def test_files_reach_the_photo_path_but_animations_do_not(document, animation, taken):
    from telegram import Update

    from bot import photos
    from bot.app import handler_list

    message = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
               "from": {"id": 5, "is_bot": False, "first_name": "u"}, "document": document}
    if animation:
        message["animation"] = animation
    update = Update.de_json({"update_id": 1, "message": message}, None)
    first = next(x for x in handler_list() if x.check_update(update))
    assert (first.callback is photos.image_document) == taken


def test_the_unpriced_note_counts_what_a_budget_could_not_check():
    priced = Product("a", "Shirt", "Arrow", 1299, "https://www.myntra.com/1", None)
    unpriced = Product("b", "Tee", "Puma", None, "https://www.myntra.com/2", None)
    assert cards.unpriced_note([priced, unpriced], None) == ""
    assert cards.unpriced_note([priced], 2000) == ""
    assert "1 of these list no price" in cards.unpriced_note([priced, unpriced], 2000)
    assert "None of these lists a price, so I couldn't check them against your ₹2,000 limit" \
        in cards.unpriced_note([unpriced, unpriced], 2000)
