"""Photos in a row, albums and a crowd, end to end: PTB's real HTTP stack against the fake Bot
API, the real engine and demo catalog, real photos. Every photo taken is answered, in order."""
from __future__ import annotations

import asyncio
import os
import time

import pytest

from bot import cards
from bot import photos as photos_module
from tests.helpers import CARD_TITLE, bot_config, running_bot, shared, small_jpeg

FULL_SHOTS = ["clothing__photos_0032.jpg", "clothing__photos_0049.jpg",
              "clothing__photos_0098.jpg", "clothing__photos_0128.jpg"]
OTHERS = ["face_rec__examples_biden.jpg", "face_rec__examples_obama.jpg",
          "idmvton__gradio_demo_example_human_00034_00.jpg",
          "ootdiffu__run_examples_garment_048554_1.jpg"]
ACKS = {cards.queued(n, batch) for n in range(1, 11) for batch in range(0, 11)}


def people(side: int) -> list[bytes]:
    """Four full shots, then four that are not (half body, portrait, product) from
    ../shared/data/people, `side` px at most."""
    return [small_jpeg(shared("people", "fullshot", name), side) for name in FULL_SHOTS] + \
        [small_jpeg(shared("people", "not_fullshot", name), side) for name in OTHERS]


def answers(bot, message: dict) -> list:
    """The bot's replies to one photo, leaving out the acknowledgement that photos wait."""
    return [c for c in bot.fake.replies_to(message) if c.text not in ACKS]


def check_in_order(bot, chat: int, sent: list[dict]) -> None:
    """Each photo's answer, then its cards, before the next photo's answer."""
    ids = [m["message_id"] for m in sent]
    calls = [c for c in bot.fake.sent(chat) if c.method != "sendChatAction" and
             c.text not in ACKS and (c.reply_to is None or c.reply_to in ids)]
    starts = [i for i, c in enumerate(calls) if c.reply_to in ids]
    assert [calls[i].reply_to for i in starts] == ids, "answers come in the order sent"
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(calls)
        found = calls[start].text.split("I found: ", 1)
        if len(found) == 2:  # one card (or "nothing found") per article named, right after it
            named = found[1].split(".")[0].split(", ")
            assert len(calls[start + 1:end]) == len(named), [c.text for c in calls[start:end]]
        else:
            assert not [c for c in calls[start + 1:end] if CARD_TITLE.match(c.text)]


@pytest.mark.slow
async def test_six_photos_in_a_row_are_all_answered_in_order(look_engine, tmp_path):
    photos = people(480)[:6]
    async with running_bot(look_engine, bot_config(look_engine, tmp_path, k=2)) as bot:
        sent = [bot.fake.send_photo(31, data) for data in photos]
        elsewhere = bot.fake.send_photo(32, photos[1])  # another user, at the same moment
        in_group = [bot.fake.send_photo(user, photos[4], chat_id=-70) for user in (33, 34)]
        await bot.settled(240)
        assert [len(answers(bot, m)) for m in in_group] == [1, 1]  # two users, one chat
        assert not [c for c in bot.fake.sent(-70) if c.text in ACKS]
        assert [len(answers(bot, m)) for m in sent] == [1] * 6
        acks = [c for c in bot.fake.sent(31) if c.text in ACKS]
        assert len(acks) == 1 and acks[0].reply_to == sent[1]["message_id"]
        check_in_order(bot, 31, sent)
        texts = [answers(bot, m)[0].text for m in sent]
        assert sum("I found" in t for t in texts) >= 3, texts
        assert not [t for t in texts if "send it again" in t or t == cards.SOMETHING_WRONG]
        assert len(answers(bot, elsewhere)) == 1 and not [c for c in bot.fake.sent(32)
                                                           if c.text in ACKS]
        assert bot.svc.queue.answered == bot.svc.queue.taken == 9


@pytest.mark.slow
async def test_an_album_is_answered_as_one_batch_and_its_overflow_named(look_engine, tmp_path):
    photos = people(400)
    config = bot_config(look_engine, tmp_path, k=2, bot_user_queue=3)
    async with running_bot(look_engine, config) as bot:
        album = bot.fake.send_album(41, photos[:3], caption="which is best?")
        big = bot.fake.send_album(42, photos[4:] + photos[:1])
        await bot.settled(240)
        acks = [c for c in bot.fake.sent(41) if c.text in ACKS]
        assert [(a.text, a.reply_to) for a in acks] == [(cards.queued(3), album[0]["message_id"])]
        assert [len(answers(bot, m)) for m in album] == [1, 1, 1]
        check_in_order(bot, 41, album)

        # 3 of an album of 5 taken: the acknowledgement doesn't read as a miscount
        assert [c.text for c in bot.fake.sent(42) if c.text in ACKS] == [cards.queued(3, 5)]
        assert cards.queued(3, 5).startswith("Got the first 3 photos of this album.")
        check_in_order(bot, 42, big[:3])
        notice = answers(bot, big[3])
        assert [c.text for c in notice] == [cards.refused(2, 5, True, 3)]
        assert "the last 2 photos of this album" in notice[0].text
        assert not answers(bot, big[4])  # named in the notice above, not answered one by one


async def test_photos_still_waiting_at_shutdown_are_asked_for_again(look_engine, tmp_path):
    photos = people(320)[:3]
    async with running_bot(look_engine, bot_config(look_engine, tmp_path, k=2)) as bot:
        sent = [bot.fake.send_photo(61, data) for data in photos]
        await bot.fake.wait_for(lambda: [c for c in bot.fake.sent(61) if c.text in ACKS], 30)
        assert bot.svc.queue.pending == 3
        await photos_module.farewell(bot.svc, timeout=0)  # what post_stop does, with no grace
        await bot.fake.wait_for(lambda: all(answers(bot, m) for m in sent), 30)
        assert bot.svc.queue.pending == 0
        last = [answers(bot, m)[-1].text for m in sent]
        assert last[1:] == [cards.RESTARTING] * 2, "the waiting ones are asked for again"
        # the one being answered finished whole (it had been cut half-way, then asked for again)
        first = [c.text for c in answers(bot, sent[0])]
        assert cards.RESTARTING not in first
        found = [t for t in first if t.startswith("I found: ")]
        assert found, first
        named = found[0].split("I found: ", 1)[1].split(".")[0].split(", ")
        assert len([c for c in bot.fake.sent(61, "sendPhoto") if CARD_TITLE.match(c.text)]) \
            == len(named)  # every article's card


class RssSampler:
    """This process's resident memory, sampled while a test runs (MB)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task | None = None

    @staticmethod
    def now() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    async def _run(self) -> None:
        while True:
            self.samples.append(self.now())
            await asyncio.sleep(0.2)

    def __enter__(self) -> "RssSampler":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        self._task.cancel()


@pytest.mark.slow
async def test_two_hundred_photos_from_fifty_users_get_cards_or_a_busy_answer(look_engine,
                                                                              tmp_path):
    photos = people(320)
    # Two workers and the default queue sizes; two products a card keep the replies short.
    config = bot_config(look_engine, tmp_path, k=2, bot_workers=2, bot_draw_boxes=False)
    async with running_bot(look_engine, config) as bot:
        before = RssSampler.now()
        t = time.monotonic()
        with RssSampler() as rss:
            sent = [bot.fake.send_photo(2000 + i % 50, photos[i % 4 + 4 * (i // 50 % 2)])
                    for i in range(200)]
            await bot.fake.wait_for(lambda: all(answers(bot, m) for m in sent), 400)
            await bot.settled(60)
        took = time.monotonic() - t
        q = bot.svc.queue
        outcomes = [answers(bot, m) for m in sent]
        texts = [o[0].text for o in outcomes]
        busy = sum("send it again" in text for text in texts)
        found = sum(text.startswith("I found") for text in texts)
        print(f"\n200 photos / 50 users: {q.answered} answered ({found} with cards), {busy} told "
              f"busy, {q.taken - q.answered} dropped; {took:.0f} s; RSS {before:.0f} MB before, "
              f"peak {max(rss.samples):.0f} MB")
        assert [len(o) for o in outcomes] == [1] * 200, "one answer each, no more, no less"
        assert q.taken == q.answered and q.taken + q.refused == 200 and busy == q.refused
        assert found > 0 and len([c for c in bot.fake.sent(None, "sendPhoto")
                                  if CARD_TITLE.match(c.text)]) >= found
        assert cards.SOMETHING_WRONG not in texts
        for user in range(2000, 2050):
            mine = [m for m in sent if m["chat"]["id"] == user]
            taken = [m for m in mine if "send it again" not in answers(bot, m)[0].text]
            check_in_order(bot, user, taken)
        assert max(rss.samples) - before < 1500, "memory stays bounded under load"
