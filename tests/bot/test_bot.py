"""The bot end to end: python-telegram-bot's real HTTP stack against a fake Bot API server,
the real engine and the demo catalog index, real photos."""
from __future__ import annotations

import asyncio
import io
import sys

import pytest
from PIL import Image

from bot import cards
from bot.schedule import Refresher
from core.gate import MESSAGES
from core.imageio import BAD_INPUT_MESSAGES
from core.index import GENDER_SCOPES

from tests.helpers import (ADMIN, CARD_TITLE, FULL_SHOT, HALF_BODY, bot_config, card_calls,
                           running_bot, say, shared)

MAN = ("ccp", "photos", "0035.jpg")  # a CCP validation photo of a man


@pytest.mark.slow
async def test_full_shot_gets_cards_per_article_and_more_like_this_pages(look_engine, tmp_path):
    photo = shared(*FULL_SHOT).read_bytes()
    async with running_bot(look_engine, bot_config(look_engine, tmp_path)) as bot:
        user = 42
        assert "OK" in await say(bot, user, "/gender women")
        message = bot.fake.send_photo(user, photo)
        await bot.settled()

        actions = bot.fake.sent(user, "sendChatAction")
        assert actions and actions[0].params["action"] == "upload_photo"
        assert bot.fake.replies_to(message), "the first answer quotes the photo"
        cards_sent = card_calls(bot, user)
        titles = {CARD_TITLE.match(c.text).group(1) for c in cards_sent}
        assert len(titles) >= 2, [c.text for c in bot.fake.sent(user)]
        scope = GENDER_SCOPES["women"]
        for call in cards_sent:
            assert cards.visible_length(call.raw) <= 1024  # as Telegram counts it
            image = Image.open(io.BytesIO(call.photo_bytes()))
            assert image.format == "JPEG" and image.width >= 240
            links = [b["url"] for b in call.buttons() if "url" in b]
            assert links and all(u.startswith("https://") for u in links)
            assert [b["text"] for b in call.buttons() if "url" in b] == \
                [str(i) for i in range(1, len(links) + 1)]
            assert "price on Myntra" in call.text or "₹" in call.text
            for url in links:  # /gender women applies to the search
                rows = list(look_engine.catalog.db.query(
                    "select gender from products where url = ?", [url]))
                assert rows and rows[0]["gender"] in scope, url

        first = cards_sent[0]
        more = [b["callback_data"] for b in first.buttons()
                if b.get("callback_data", "").startswith("more:")]
        assert more and more[0].startswith("more:")
        bot.fake.press(user, first.result, more[0])
        await bot.fake.wait_for(lambda: len(card_calls(bot, user)) > len(cards_sent), 60)
        page2 = card_calls(bot, user)[-1]
        assert CARD_TITLE.match(page2.text).group(1) == CARD_TITLE.match(first.text).group(1)
        old = {b["url"] for b in first.buttons() if "url" in b}
        new = {b["url"] for b in page2.buttons() if "url" in b}
        assert new and not (new & old), "More like this shows different products"
        assert page2.buttons()[0]["text"] == str(len(old) + 1), "numbering continues"
        assert bot.fake.sent(None, "answerCallbackQuery")
        # the same button again, twice without waiting (a double tap, or an older card): the
        # two pages after, neither a repeat
        bot.fake.press(user, first.result, more[0])
        bot.fake.press(user, first.result, more[0])
        await bot.fake.wait_for(lambda: len(card_calls(bot, user)) > len(cards_sent) + 2, 60)
        pages = card_calls(bot, user)[-2:]
        third, fourth = ({b["url"] for b in p.buttons() if "url" in b} for p in pages)
        assert third and fourth and not (third & fourth) and not ((third | fourth) & (old | new))
        assert sorted(p.buttons()[0]["text"] for p in pages) == \
            sorted([str(len(old) + len(new) + 1), str(len(old) + len(new) + len(third) + 1)])

        bot.fake.press(user, first.result, "more:expired")
        answers = await bot.fake.wait_for(
            lambda: [c for c in bot.fake.sent(None, "answerCallbackQuery")
                     if c.params.get("text") == cards.EXPIRED], 20)
        assert answers
        bot.fake.press(user, first.result, "hello")  # an older version's button: not left spinning
        await bot.fake.wait_for(
            lambda: len([c for c in bot.fake.sent(None, "answerCallbackQuery")
                         if c.params.get("text") == cards.EXPIRED]) > len(answers), 20)


@pytest.mark.slow
async def test_half_body_photo_is_told_why(look_engine, tmp_path):
    async with running_bot(look_engine, bot_config(look_engine, tmp_path)) as bot:
        message = bot.fake.send_photo(7, shared(*HALF_BODY).read_bytes())
        await bot.settled()
        replies = bot.fake.replies_to(message)
        assert len(replies) == 1 and replies[0].method == "sendMessage"
        assert replies[0].text == MESSAGES["feet_out_of_frame"]  # plain words, no reason code
        assert not card_calls(bot, 7)

        # The same photo sent as a file (an image document) takes the same road.
        document = bot.fake.send_document(8, shared(*HALF_BODY).read_bytes(), "image/jpeg",
                                          "me.jpg")
        await bot.settled()
        assert bot.fake.replies_to(document)[0].text == MESSAGES["feet_out_of_frame"]


async def test_every_bad_input_gets_a_clear_reply(look_engine, tmp_path):
    photo = shared(*FULL_SHOT).read_bytes()
    config = bot_config(look_engine, tmp_path, bot_max_download_bytes=5_000_000)
    async with running_bot(look_engine, config) as bot:
        f = bot.fake
        expected = {
            f.send_text(101, "hello there")["chat"]["id"]: cards.OTHER_INPUT["text"],
            f.send(102, sticker={"file_id": "s1", "file_unique_id": "s1", "type": "regular",
                                 "width": 512, "height": 512, "is_animated": False,
                                 "is_video": False})["chat"]["id"]: cards.OTHER_INPUT["sticker"],
            f.send(103, voice={"file_id": "v1", "file_unique_id": "v1", "duration": 3}
                   )["chat"]["id"]: cards.OTHER_INPUT["voice"],
            f.send(104, video={"file_id": "m1", "file_unique_id": "m1", "width": 640,
                               "height": 480, "duration": 5})["chat"]["id"]:
                cards.OTHER_INPUT["video"],
            f.send_document(105, b"%PDF-1.4 not a photo", "application/pdf", "cv.pdf"
                            )["chat"]["id"]: cards.OTHER_INPUT["document"],
            # Telegram says how big a photo is: refused before any download.
            f.send_photo(106, photo, size=8_000_000)["chat"]["id"]: cards.too_large(5_000_000),
            # Over the Bot API's own 20 MB limit: getFile fails with "file is too big".
            f.send_document(107, photo, "image/jpeg", "huge.jpg", size=30_000_000,
                            report_size=False)["chat"]["id"]: cards.too_large(5_000_000),
            f.send_photo(108, photo[: len(photo) // 3])["chat"]["id"]:
                BAD_INPUT_MESSAGES["damaged_image"],
            f.send_document(109, b"GIF89a garbage", "image/gif", "x.gif")["chat"]["id"]:
                BAD_INPUT_MESSAGES["damaged_image"],
            f.send_text(110, "/nonsense")["chat"]["id"]: cards.OTHER_INPUT["command"],
        }
        await f.wait_for(lambda: all(f.sent(chat) for chat in expected), 60)
        await bot.settled()
        for chat, text in expected.items():
            answers = [c.text for c in f.sent(chat, "sendMessage")]
            assert len(answers) == 1 and text in answers[0], (chat, answers)
        assert not f.sent(None, "sendPhoto")


async def test_edits_other_bots_commands_and_group_talk_get_no_answer(look_engine, tmp_path):
    def command(text: str) -> dict:
        return {"text": text, "entities": [{"type": "bot_command", "offset": 0,
                                            "length": len(text)}]}

    async with running_bot(look_engine, bot_config(look_engine, tmp_path)) as bot:
        f = bot.fake
        hello = f.send_text(13, "hello")
        await f.wait_for(lambda: f.sent(13, "sendMessage"), 20)
        f.edit_text(hello, "/gender women")  # an edit is not a new command
        f.send(61, chat_id=-700, text="thanks!")  # members talking in a group
        f.send(61, chat_id=-700, **command("/start@some_other_bot"))
        f.send(62, chat_id=-700, **command("/settings@lookbot_test_bot"))  # this bot's
        pdf = f.send_document(14, b"%PDF-1.4 not a photo", "application/pdf", "cv.pdf")
        await f.wait_for(lambda: f.sent(-700, "sendMessage") and f.sent(14), 20)
        await bot.settled()
        assert [c.text for c in f.sent(13, "sendMessage")] == [cards.OTHER_INPUT["text"]]
        assert "auto" in await say(bot, 13, "/settings")  # the edit changed nothing
        in_group = f.sent(-700, "sendMessage")
        assert len(in_group) == 1 and "auto" in in_group[0].text
        assert [c.text for c in f.replies_to(pdf)] == [cards.OTHER_INPUT["document"]]


@pytest.mark.slow
async def test_more_like_this_still_works_after_a_restart(look_engine, tmp_path):
    config = bot_config(look_engine, tmp_path)
    photo = shared(*FULL_SHOT).read_bytes()
    async with running_bot(look_engine, config) as bot:
        bot.fake.send_photo(7, photo)
        # the answer comes from the queue after the photo's update was handled: a save in
        # between (every 30 s in service) must not leave the look's results out of the next
        await bot.fake.wait_for(lambda: bot.fake.sent(7, "sendChatAction"), 60)
        await asyncio.sleep(0.2)
        await bot.app.update_persistence()
        await bot.settled()
        first = card_calls(bot, 7)[0]
        bot.fake.send_photo(61, photo, chat_id=-700)  # in a group
        await bot.settled()
        in_group = card_calls(bot, -700)[0]

    def more(card) -> str:
        return [b["callback_data"] for b in card.buttons()
                if b.get("callback_data", "").startswith("more:")][0]

    async with running_bot(look_engine, config) as bot:  # a new process would see the same
        bot.fake.press(7, first.result, more(first))
        page2 = (await bot.fake.wait_for(lambda: card_calls(bot, 7), 60))[0]
        assert CARD_TITLE.match(page2.text).group(1) == CARD_TITLE.match(first.text).group(1)
        old = {b["url"] for b in first.buttons() if "url" in b}
        new = {b["url"] for b in page2.buttons() if "url" in b}
        assert new and not (new & old)
        bot.fake.press(62, in_group.result, more(in_group))  # not the member who sent the photo
        page2 = (await bot.fake.wait_for(lambda: card_calls(bot, -700), 60))[0]
        assert CARD_TITLE.match(page2.text).group(1) == CARD_TITLE.match(in_group.text).group(1)
        assert not [c for c in bot.fake.sent(None, "answerCallbackQuery")
                    if c.params.get("text") == cards.EXPIRED]


@pytest.mark.slow
async def test_gender_overrides_the_wearer_the_photo_shows(look_engine, tmp_path):
    if look_engine.street is None:
        pytest.skip("no street model in models_dir")
    photo = shared(*MAN).read_bytes()  # a man; the street model never trained on this photo
    men, women = GENDER_SCOPES["men"], GENDER_SCOPES["women"]

    def genders(calls):
        urls = [b["url"] for c in calls for b in c.buttons() if "url" in b]
        return {look_engine.catalog.db.execute("select gender from products where url = ?",
                                               [u]).fetchone()[0] for u in urls}

    async with running_bot(look_engine, bot_config(look_engine, tmp_path)) as bot:
        bot.fake.send_photo(9, photo)  # no /gender yet: the wearer's
        await bot.settled()
        said = [c.text for c in bot.fake.sent(9) if c.text]
        # "Men's picks · /gender to change", or "Not sure whose: unisex or men's picks"
        assert any("men's picks · /gender" in t.lower() and "women" not in t.lower()
                   for t in said), said
        first = card_calls(bot, 9)
        assert first and genders(first) <= set(men)
        assert "OK" in await say(bot, 9, "/gender women")  # the shopper's choice wins
        bot.fake.send_photo(9, photo)
        await bot.settled()
        second = card_calls(bot, 9)[len(first):]
        assert second and genders(second) <= set(women) and "Women" in genders(second)
        assert any("women's picks, as you chose" in c.text.lower()  # says why: the choice
                   for c in bot.fake.sent(9)[-len(second) - 2:] if c.text)
        assert "person in each photo" in await say(bot, 9, "/gender auto")
        assert "Gender: from the photo" in await say(bot, 9, "/settings")
        # "More like this" on the women's look: its next page, still women's, though the choice
        # has changed since (it applies to the next photo)
        assert "men" in await say(bot, 9, "/gender men")
        more = next(b["callback_data"] for b in second[0].buttons()
                    if b.get("callback_data", "").startswith("more:"))
        bot.fake.press(9, second[0].result, more)
        page2 = (await bot.fake.wait_for(lambda: card_calls(bot, 9)[len(first) + len(second):], 60))[0]
        shown = {b["url"] for b in second[0].buttons() if "url" in b}
        later = {b["url"] for b in page2.buttons() if "url" in b}
        assert later and not (later & shown) and genders([page2]) <= set(women)
        assert page2.buttons()[0]["text"] == str(len(shown) + 1)


async def test_preferences_persist_across_a_restart(look_engine, tmp_path):
    config = bot_config(look_engine, tmp_path)
    async with running_bot(look_engine, config) as bot:
        assert "Usage" in await say(bot, 5, "/gender aliens")
        assert "Usage" in await say(bot, 5, "/gender men women")  # not silently the first word
        assert "men's, women's and unisex" in await say(bot, 5, "/gender any")
        assert "Usage" in await say(bot, 5, "/budget cheap")
        assert "women" in await say(bot, 5, "/gender women")
        assert "₹1,500" in await say(bot, 5, "/budget 1 500")  # the whole of it, not ₹1
        assert "Usage" in await say(bot, 5, "/budget 500 1000")
        assert "₹1,500" in await say(bot, 5, "/budget Rs 1,500")
        assert "auto" in await say(bot, 6, "/settings")  # others keep the defaults
    async with running_bot(look_engine, config) as bot:
        settings = await say(bot, 5, "/settings")
        assert "Gender: women" in settings and "₹1,500" in settings
        assert "no price limit" in await say(bot, 5, "/budget off")
    async with running_bot(look_engine, config) as bot:
        assert "no limit" in await say(bot, 5, "/settings")


async def test_admin_commands_refuse_everyone_else(look_engine, tmp_path):
    config = bot_config(look_engine, tmp_path)
    marker = tmp_path / "refreshed"
    refresher = Refresher(config, argv=[sys.executable, "-c",
                                        f"open({str(marker)!r}, 'w').write('x'); "
                                        "print('refresh ok: 3 new products')"])
    async with running_bot(look_engine, config, refresher=refresher) as bot:
        assert await say(bot, 99, "/stats") == cards.NOT_ADMIN
        assert await say(bot, 99, "/crawl") == cards.NOT_ADMIN
        assert not marker.exists()

        stats = await say(bot, ADMIN, "/stats")
        assert "topwear" in stats and look_engine.index.version in stats
        assert "Requests served" in stats and "Last crawl" in stats
        assert "started" in await say(bot, ADMIN, "/crawl")
        done = await bot.fake.wait_for(lambda: [c for c in bot.fake.sent(ADMIN, "sendMessage")
                                                if "Catalog refresh ok" in c.text], 30)
        assert "3 new products" in done[0].text and marker.exists()
