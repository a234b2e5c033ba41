"""The bot when its engine service (LOOKBOT_ENGINE_URL) does not answer: a photo gets a reply
that says so after the bot has asked again, and a failed "More like this" skips no page."""
from __future__ import annotations

import socket

import pytest

from bot import cards, photos
from core.remote import EngineUnavailable, RemoteEngine
from tests.helpers import FULL_SHOT, bot_config, card_calls, running_bot, shared


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once it is closed


async def test_a_photo_the_engine_service_cannot_look_at_is_answered_so(look_engine, tmp_path,
                                                                        monkeypatch, caplog):
    monkeypatch.setattr(photos, "ENGINE_RETRY_SECONDS", (0.05, 0.05))
    down = RemoteEngine(closed_port_url(), timeout=2)
    down._embedding = look_engine.embedding_version  # as if it had answered at startup
    config = bot_config(look_engine, tmp_path, engine_url=down.url)
    async with running_bot(down, config) as bot:
        message = bot.fake.send_photo(91, shared(*FULL_SHOT).read_bytes())
        await bot.settled()
        assert [c.text for c in bot.fake.replies_to(message)] == [cards.ENGINE_DOWN]
        assert bot.svc.pending.count() == 0  # answered: nothing left to answer at the next start
    asked = [r for r in caplog.records if "asking again" in r.getMessage()]
    assert len(asked) == 2 and not [r for r in caplog.records if r.exc_info]  # no tracebacks


@pytest.mark.slow
async def test_a_more_like_this_that_fails_skips_no_page(look_engine, tmp_path, monkeypatch):
    async with running_bot(look_engine, bot_config(look_engine, tmp_path)) as bot:
        bot.fake.send_photo(92, shared(*FULL_SHOT).read_bytes())
        await bot.settled()
        first = card_calls(bot, 92)[0]
        more = next(b["callback_data"] for b in first.buttons()
                    if b.get("callback_data", "").startswith("more:"))
        search = look_engine.search

        def unreachable(*args, **kwargs):
            raise EngineUnavailable("engine service unreachable (a fault for this test)")

        monkeypatch.setattr(look_engine, "search", unreachable)
        bot.fake.press(92, first.result, more)
        await bot.fake.wait_for(lambda: [c for c in bot.fake.sent(92, "sendMessage")
                                         if c.text == cards.SOMETHING_WRONG], 30)
        monkeypatch.setattr(look_engine, "search", search)
        before = len(card_calls(bot, 92))
        bot.fake.press(92, first.result, more)
        page2 = (await bot.fake.wait_for(lambda: card_calls(bot, 92)[before:], 60))[0]
        shown = len([b for b in first.buttons() if "url" in b])
        assert page2.buttons()[0]["text"] == str(shown + 1)  # the page after the first, not later
