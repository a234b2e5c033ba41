"""Paths to real data and a bot on the fake Bot API, for tests to import (fixtures live in
conftest.py)."""
from __future__ import annotations

import contextlib
import csv
import copy
import dataclasses
import io
import json
import os
import re
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from PIL import Image

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("GLOG_minloglevel", "2")

from core.config import SHARED_DATA  # noqa: E402  (after the environment it reads)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = SHARED_DATA  # LOOKBOT_SHARED_DATA, else ../shared/data
# The fixture shop's products by listing (real Myntra rows, with prices) and two demo rows.
SHOP_LISTINGS = json.loads((FIXTURES / "shop" / "products.json").read_text())["listings"]
DEMO_IDS = ["demo:10000", "demo:10001"]


def shared(*parts: str) -> Path:
    """A path in ../shared/data; tests that need the full real sets skip when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available at {path}")
    return path


@contextlib.asynccontextmanager
async def bot_on_fake_telegram(config, engine=None, *, fake=None, post_init: bool = False,
                               **kwargs):
    """(fake Bot API, running Application) for `config`; no engine needed for commands and
    buttons that do not look at photos. Pass `fake` to keep one fake API (and its chats) across
    bots; `post_init` runs the start-up hook as run_polling does (commands, left photos)."""
    from bot.app import build_application
    from tests.fake_telegram import TOKEN, FakeTelegram

    own = fake is None
    fake = fake or await FakeTelegram().start()
    config = config.replace(telegram_base_url=fake.base_url,
                            telegram_base_file_url=fake.base_file_url)
    app = build_application(config, TOKEN, engine, **kwargs)
    await app.initialize()
    if post_init:
        await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield fake, app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if own:
            await fake.stop()


async def answer_to_press(fake, user_id: int, message: dict, data: str) -> str:
    """Tap a button; the text of the bot's answerCallbackQuery for that tap."""
    query_id = fake.press(user_id, message, data)
    calls = await fake.wait_for(lambda: [c for c in fake.sent(None, "answerCallbackQuery")
                                         if c.params.get("callback_query_id") == query_id], 20)
    return calls[0].params.get("text") or ""


async def text_reply(fake, user_id: int, text: str) -> str:
    """Send a command or text; the bot's first text answer to it."""
    before = len(fake.sent(user_id, "sendMessage"))
    fake.send_text(user_id, text)
    calls = await fake.wait_for(lambda: fake.sent(user_id, "sendMessage")[before:], 20)
    return calls[0].text


def write_listing(catalog, name: str, products: list[dict]) -> None:
    """The shop's products as the crawler writes them (pictures from the shop's files)."""
    from core.catalog import now_iso
    from scraper import store
    from scraper.crawl import to_record
    from scraper.parse import Item
    from scraper.site import listing_for

    url = f"https://www.myntra.com/{name}"
    now = now_iso()
    rows = []
    for p in products:
        item = Item(str(p["productId"]), p["productName"], p["brand"], p["price"], p["mrp"],
                    p["landingPageUrl"], None, p["gender"], p["category"], p["primaryColour"])
        row = to_record(item, listing_for(url), now)
        row["image_path"] = str(FIXTURES / "shop" / "images" / p["image"])
        rows.append(row)
    store.commit_listing(catalog, rows, url, True, now)


def shop_catalog(config) -> dict[str, list[dict]]:
    """A catalog of the shop's two listings and two demo rows; the listings, to change later."""
    from core.catalog import Catalog
    from scraper import store

    catalog = Catalog(config.catalog_path, config.data_dir)
    store.ensure_columns(catalog)
    listings = copy.deepcopy(SHOP_LISTINGS)
    for name, products in listings.items():
        write_listing(catalog, name, products)
    demo = Catalog(REPO / "data" / "demo" / "catalog.db").get_many(DEMO_IDS)
    catalog.upsert_products({**r, "image_path": str(REPO / "data" / "demo" / r["image_path"])}
                            for r in demo.values())
    return listings


# --- the bot with the engine, end to end ---------------------------------------------------------
ADMIN = 1
FULL_SHOT = ("people", "fullshot", "clothing__photos_0032.jpg")
HALF_BODY = ("people", "not_fullshot", "face_rec__examples_biden.jpg")  # three-quarter, to thigh
CARD_TITLE = re.compile(r"^(\w+): similar products")


@dataclasses.dataclass
class Running:
    fake: Any  # tests.fake_telegram.FakeTelegram
    app: Any  # telegram.ext.Application
    config: Any

    @property
    def svc(self):
        return self.app.bot_data["services"]

    async def settled(self, timeout: float = 120.0) -> None:
        """Wait until every taken photo is answered and the bot has handled every update."""
        await self.fake.wait_for(lambda: self.svc.queue.pending == 0 and not self.svc.albums
                                 and not self.fake.updates and not self.app.update_queue.qsize(),
                                 timeout)


def bot_config(engine, tmp_path, **overrides):
    settings = {"bot_db": str(tmp_path / "bot.db"), "admin_ids": str(ADMIN), "crawl_time": "off",
                "k": 4, **overrides}
    return engine.config.replace(**settings)


@contextlib.asynccontextmanager
async def running_bot(engine, config, **kwargs) -> AsyncIterator[Running]:
    async with bot_on_fake_telegram(config, engine, **kwargs) as (fake, app):
        yield Running(fake, app, app.bot_data["services"].config)


def card_calls(bot: Running, chat_id: int):
    return [c for c in bot.fake.sent(chat_id, "sendPhoto") if CARD_TITLE.match(c.text)]


async def say(bot: Running, user: int, text: str) -> str:
    """Send a command or text; the bot's text answer."""
    return await text_reply(bot.fake, user, text)


def small_jpeg(path, side: int) -> bytes:
    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((side, side))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80)
        return buf.getvalue()


def standing(width: int = 600, height: int = 900, vis: float = 0.95
             ) -> list[tuple[float, float, float]]:
    """33 landmarks of an upright person filling most of a 600x900 frame."""
    lms = [(300.0, 450.0, vis)] * 33
    pts = {0: (300, 95), 1: (290, 90), 4: (310, 90), 11: (250, 200), 12: (350, 200),
           13: (230, 320), 14: (370, 320), 15: (225, 430), 16: (375, 430), 23: (265, 460),
           24: (335, 460), 25: (265, 620), 26: (335, 620), 27: (265, 790), 28: (335, 790),
           29: (262, 810), 30: (338, 810), 31: (280, 830), 32: (320, 830),
           7: (278, 95), 8: (322, 95), 17: (222, 445), 18: (378, 445), 19: (226, 450),
           20: (374, 450), 21: (230, 440), 22: (370, 440)}  # ears, then the hands
    for i, (x, y) in pts.items():
        lms[i] = (float(x), float(y), vis)
    return lms


def real_catalog(data_dir: Path, per_category: int) -> None:
    """A catalog.db in `data_dir` of the first `per_category` real products of each category in
    ../shared/data/catalog, their images read in place."""
    from core.catalog import Catalog

    source = shared("catalog")
    rows, per = [], {}
    for r in csv.DictReader(open(source / "products.csv")):
        if per.get(r["category"], 0) >= per_category:
            continue
        per[r["category"]] = per.get(r["category"], 0) + 1
        rows.append({"id": f"demo:{r['id']}", "source": "demo", "product_id": r["id"],
                     "url": f"https://www.myntra.com/{r['id']}", "title": r["title"],
                     "category": r["category"], "article_type": r["article_type"],
                     "gender": r["gender"], "colour": r["colour"],
                     "image_path": str(source / r["file"]), "active": 1})
    Catalog(Path(data_dir) / "catalog.db", Path(data_dir)).upsert_products(rows)


def street_crops(n: int = 8) -> list[Image.Image]:
    """The labelled garment boxes of the CCP fixture photos, cut as the engine cuts articles."""
    crops = []
    for row in csv.DictReader(open(FIXTURES / "ccp" / "boxes.csv")):
        path = FIXTURES / "ccp" / row["image"]
        if path.exists():
            with Image.open(path) as im:
                box = tuple(int(float(row[k])) for k in ("x1", "y1", "x2", "y2"))
                crops.append(im.convert("RGB").crop(box))
    return crops[:n]
