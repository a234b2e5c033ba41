"""The bot with LOOKBOT_ENGINE_URL: a thin process that sends looks to the engine service (a local
Ray Serve app) and answers a real photo through the fake Bot API, "More like this" included."""
from __future__ import annotations

import re

import pytest

from bot.app import build_application
from bot.engine_link import load_engine
from core.config import Config
from core.remote import RemoteEngine
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.helpers import FIXTURES

CARD_TITLE = re.compile(r"^(\w+): similar products")


@pytest.mark.slow
async def test_bot_answers_a_photo_through_the_engine_service(ray_service, tmp_path, monkeypatch):
    fake = await FakeTelegram().start()
    monkeypatch.setenv("LOOKBOT_ENGINE_URL", ray_service)
    monkeypatch.setenv("LOOKBOT_DATA_DIR", str(tmp_path))  # the bot's own files only
    config = Config.from_env(telegram_base_url=fake.base_url, crawl_time="off", k=3,
                             telegram_base_file_url=fake.base_file_url, admin_ids="7")
    engine = load_engine(config)
    assert isinstance(engine, RemoteEngine)
    app = build_application(config, TOKEN, engine)
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        user = 42
        fake.send_photo(user, (FIXTURES / "people" / "full_ccp_0032.jpg").read_bytes())
        cards = await fake.wait_for(lambda: [c for c in fake.sent(user, "sendPhoto")
                                             if CARD_TITLE.match(c.text)], 180)
        first = cards[0]
        links = [b["url"] for b in first.buttons() if "url" in b]
        assert links and all(u.startswith("https://www.myntra.com/") for u in links)
        more = [b["callback_data"] for b in first.buttons() if b.get("callback_data")]
        fake.press(user, first.result, more[0])
        page2 = await fake.wait_for(lambda: [c for c in fake.sent(user, "sendPhoto")
                                             if CARD_TITLE.match(c.text)][len(cards):], 120)
        new = {b["url"] for b in page2[0].buttons() if "url" in b}
        assert new and not new & set(links), "More like this pages through the service"

        fake.send_text(7, "/stats")  # the admin's /stats: the service's index version
        stats = await fake.wait_for(lambda: fake.sent(7, "sendMessage"), 60)
        assert engine.stats()["index_version"] in stats[0].text
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await fake.stop()
        engine.close()
