"""A crash loses no taken photo: the bot records each one in its SQLite until answered, and the
next start answers what is left, in order, through PTB's real HTTP stack and the fake Bot API."""
from __future__ import annotations

import asyncio

from bot import cards
from bot.photo_queue_store import PendingPhoto, PhotoQueueStore
from tests.fake_telegram import FakeTelegram
from tests.helpers import CARD_TITLE, bot_config, running_bot, shared, small_jpeg

PHOTOS = ["clothing__photos_0032.jpg", "clothing__photos_0049.jpg", "clothing__photos_0098.jpg"]
ACKS = {cards.queued(n, batch) for n in range(1, 11) for batch in range(0, 11)}


async def crash(bot) -> None:
    """What a killed process does to the photo queue: its answers stop mid-way, and no one is
    told (post_stop's farewell then finds nothing in memory)."""
    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("photos-of-")]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def answers(fake, message: dict) -> list:
    return [c for c in fake.replies_to(message) if c.text not in ACKS]


async def test_photos_taken_before_a_crash_are_answered_once_in_order_after_it(look_engine,
                                                                               tmp_path):
    fake = await FakeTelegram().start()
    config = bot_config(look_engine, tmp_path, k=2, bot_draw_boxes=False)
    try:
        async with running_bot(look_engine, config, fake=fake) as bot:
            sent = [fake.send_photo(51, small_jpeg(shared("people", "fullshot", name), 320))
                    for name in PHOTOS]
            await fake.wait_for(lambda: bot.svc.pending.count() == 2, 120)  # first one answered
            await crash(bot)
        assert [len(answers(fake, m)) for m in sent] == [1, 0, 0]
        assert not [c for c in fake.sent(51) if c.text == cards.RESTARTING]
        assert [p.message_id for p in PhotoQueueStore(tmp_path / "bot.db").left()] == \
            [m["message_id"] for m in sent[1:]]

        async with running_bot(look_engine, config, fake=fake, post_init=True) as bot:
            late = fake.send_photo(51, small_jpeg(shared("people", "fullshot", PHOTOS[0]), 320))
            await bot.settled(180)
            assert bot.svc.pending.count() == 0
        order = [c.reply_to for c in fake.sent(51) if c.reply_to and c.text not in ACKS]
        ids = [m["message_id"] for m in sent + [late]]
        assert order == ids, "each photo answered exactly once, the left ones first, in order"
        assert all(answers(fake, m)[0].text.startswith("I found") for m in sent + [late])
        cards_sent = [c for c in fake.sent(51, "sendPhoto") if CARD_TITLE.match(c.text)]
        assert len(cards_sent) >= 4
    finally:
        await fake.stop()


async def test_a_left_photo_whose_file_is_gone_is_named_for_sending_again(tmp_path):
    """No look is needed: the download fails first, and the reply quotes the photo."""
    from core.config import Config

    config = Config.from_env().replace(bot_db=str(tmp_path / "bot.db"), crawl_time="off")
    store = PhotoQueueStore(tmp_path / "bot.db")
    store.add([PendingPhoto(52, 7001, 52, 52, "private", "file-expired", 1000, None,
                            "2026-12-03T18:00:00+00:00")])
    store.close()
    async with running_bot(None, config, post_init=True) as bot:
        replies = await bot.fake.wait_for(lambda: bot.fake.sent(52, "sendMessage"), 30)
        await bot.settled(30)
        assert [(c.text, c.reply_to) for c in replies] == [(cards.DOWNLOAD_FAILED, 7001)]
        assert bot.svc.pending.count() == 0
