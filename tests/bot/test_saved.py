"""Saved items through the fake Bot API (python-telegram-bot's real HTTP stack): ♥ on a card,
/saved, ✕ remove, /alerts, each bad input's answer, and saved items across a restart.

The catalog holds the fixture shop's products (real Myntra rows with prices) written by the
crawler's store, and two rows of the real demo catalog (no prices)."""
from __future__ import annotations

import io
import json

from PIL import Image

from bot import cards, saved_cards as texts
from core.catalog import Catalog
from core.config import Config
from core.records import Product
from tests.helpers import (DEMO_IDS, REPO, SHOP_LISTINGS as LISTINGS, answer_to_press,
                           bot_on_fake_telegram, shop_catalog, text_reply)


def config_for(tmp_path, **kw) -> Config:
    return Config(data_dir=tmp_path / "data", bot_db=str(tmp_path / "bot.db"), crawl_time="off",
                  admin_ids="1", k=4, **kw)


def card_message(fake, catalog: Catalog, ids: list[str]) -> tuple[dict, list[dict]]:
    """A look card of these products as the bot sends it: its message and its buttons."""
    products = [catalog.to_product(catalog.get(i)) for i in ids]
    card = cards.card("topwear", products, "more:test")
    markup = card.keyboard.to_dict()
    message = {"message_id": 500, "date": 0, "chat": {"id": 0, "type": "private"},
               "reply_markup": markup}
    return message, [b for row in markup["inline_keyboard"] for b in row]


async def test_save_list_remove_and_every_bad_input(tmp_path):
    config = config_for(tmp_path)
    shop_catalog(config)
    catalog = Catalog(config.catalog_path)
    tee, flats = (f"myntra:{LISTINGS[n][0]['productId']}" for n in ("men-topwear",
                                                                      "women-footwear"))
    async with bot_on_fake_telegram(config) as (fake, app):
        message, buttons = card_message(fake, catalog, [tee, flats, DEMO_IDS[0]])
        hearts = [b for b in buttons if b.get("callback_data", "").startswith("save:")]
        assert [b["text"] for b in hearts] == ["♥ 1", "♥ 2", "♥ 3"]
        message["chat"]["id"] = 11
        assert await answer_to_press(fake, 11, message, hearts[0]["callback_data"]) == texts.SAVED
        assert await answer_to_press(fake, 11, message, hearts[0]["callback_data"]) == \
            texts.ALREADY_SAVED  # saving an item twice
        # a demo product has no price: no price drop can be seen, so none is promised
        assert await answer_to_press(fake, 11, message, hearts[2]["callback_data"]) == \
            texts.SAVED_UNPRICED
        assert await answer_to_press(fake, 11, message, "save:myntra:999999") == \
            texts.NOT_IN_CATALOG
        assert await answer_to_press(fake, 12, message, hearts[1]["callback_data"]) == texts.SAVED
        assert await text_reply(fake, 13, "/saved") == texts.NOTHING_SAVED
        assert await text_reply(fake, 11, "/alerts maybe") == texts.ALERTS_USAGE.format(state="on")
        assert await text_reply(fake, 11, "/alerts") == texts.ALERTS_USAGE.format(state="on")
        assert await text_reply(fake, 11, "/alerts off") == texts.ALERTS_OFF
        # with alerts off, saving promises no alert and says how to turn them on
        assert await text_reply(fake, 14, "/alerts off") == texts.ALERTS_OFF
        assert await answer_to_press(fake, 14, message, hearts[1]["callback_data"]) == \
            texts.SAVED_QUIET

    # the product leaves the catalog: one marked inactive by a crawl, one gone altogether
    catalog.db.execute("update products set active = 0 where id = ?", [tee])
    catalog.db.execute("delete from products where id = ?", [DEMO_IDS[0]])
    catalog.db.conn.commit()
    async with bot_on_fake_telegram(config) as (fake, app):  # a restart: all still there
        fake.send_text(11, "/saved")
        (shown,) = await fake.wait_for(lambda: fake.sent(11, "sendPhoto"), 30)
        lines = shown.text.splitlines()
        assert "Your saved items" in lines[0] and len(lines) == 3
        tee_row = LISTINGS["men-topwear"][0]
        assert lines[1].startswith("1. " + tee_row["productName"][:30])
        assert lines[1].endswith(texts.NOT_LISTED) and lines[2].endswith(texts.NOT_LISTED)
        assert Image.open(io.BytesIO(shown.photo_bytes())).format == "JPEG"
        removes = [b for b in shown.buttons() if b.get("callback_data", "").startswith("unsave:")]
        assert [b["text"] for b in removes] == ["✕ 1", "✕ 2"]
        links = [b["url"] for b in shown.buttons() if "url" in b]
        assert links == [f"https://www.myntra.com/{tee_row['landingPageUrl']}",
                         Catalog(REPO / "data" / "demo" / "catalog.db").get(DEMO_IDS[0])["url"]]
        assert await text_reply(fake, 11, "/alerts") == texts.ALERTS_USAGE.format(state="off")

        fake.send_text(12, "/saved")
        (other,) = await fake.wait_for(lambda: fake.sent(12, "sendPhoto"), 30)
        flats_row = LISTINGS["women-footwear"][0]
        assert f"₹{flats_row['price']:,}" in other.text  # today's price

        shown.result["reply_markup"] = shown.params["reply_markup"]  # as Telegram returns it
        answer = await answer_to_press(fake, 11, shown.result, removes[0]["callback_data"])
        assert answer == texts.removed(tee_row["productName"])
        edit = (await fake.wait_for(lambda: fake.sent(11, "editMessageReplyMarkup"), 20))[-1]
        left = json.dumps(edit.params["reply_markup"])
        assert removes[0]["callback_data"] not in left and removes[1]["callback_data"] in left
        # the removed item's link goes with its ✕; the other item's stays
        assert links[0] not in left and links[1] in left
        assert await answer_to_press(fake, 11, shown.result, removes[0]["callback_data"]) == \
            texts.ALREADY_REMOVED  # removing an item that is gone
        fake.send_text(11, "/saved")
        await fake.wait_for(lambda: len(fake.sent(11, "sendPhoto")) == 2, 30)
        assert "price on Myntra" not in fake.sent(11, "sendPhoto")[-1].text  # gone: not listed
        assert len(fake.sent(11, "sendPhoto")[-1].text.splitlines()) == 2


async def test_demo_catalog_items_show_price_on_myntra(tmp_path):
    config = config_for(tmp_path)
    shop_catalog(config)
    catalog = Catalog(config.catalog_path)
    async with bot_on_fake_telegram(config) as (fake, app):
        message, buttons = card_message(fake, catalog, DEMO_IDS)
        for b in buttons:
            if b.get("callback_data", "").startswith("save:"):
                assert await answer_to_press(fake, 31, message, b["callback_data"]) == \
                    texts.SAVED_UNPRICED
        fake.send_text(31, "/saved")
        (shown,) = await fake.wait_for(lambda: fake.sent(31, "sendPhoto"), 30)
    assert shown.text.count("price on Myntra") == 2 and "₹" not in shown.text


def test_saved_cards_hold_ten_items_each_within_telegram_limits():
    long = "Roadster " + "Extraordinarily Long Product Name " * 12
    products = [texts.SavedProduct(f"myntra:{i}", long, "Roadster", 1299 if i % 2 else None,
                                   f"https://www.myntra.com/{i}", None, "topwear",
                                   listed=i % 3 != 0) for i in range(23)]
    pages = texts.saved_cards(products)
    assert len(pages) == 3
    for page in pages:
        assert cards.visible_length(page.caption) <= cards.CAPTION_LIMIT
        data = [b.callback_data for row in page.keyboard.inline_keyboard for b in row
                if b.callback_data]
        assert all(len(d.encode()) <= 64 for d in data)
    assert pages[2].caption.splitlines()[0].endswith("(21–23 of 23)")
    assert "no longer listed" in pages[0].caption and "₹1,299" in pages[0].caption
    assert Product("x", "t", None, None, "u", None).price_label == "price on Myntra"
