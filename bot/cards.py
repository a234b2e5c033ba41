"""Look results turned into Telegram messages: one collage card per article, plus the bot's texts.

A card is one photo (the products side by side, numbered, with brand, title and price drawn
under each: bot/collage.py), an HTML caption listing the same products as links, and a keyboard of numbered URL
buttons plus "More like this". One message per article keeps a look to a handful of messages,
well inside Telegram's ~1 message/second/chat, and avoids albums (which cannot carry buttons).
"""
from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.index import WHOSE
from core.records import GateVerdict, LookResult, Product

from .collage import collage, title_without_brand
from .saved import save_buttons

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024  # Telegram's limit for photo captions
MAX_PER_CARD = 10  # numbered buttons and tiles per card; also Telegram's album size
BUTTONS_PER_ROW = 5

LABELS = {"topwear": "Top", "bottomwear": "Bottom", "footwear": "Shoes",
          "eyewear": "Sunglasses", "handbag": "Bag"}

WELCOME = (
    "👋 Send me a photo of an outfit and I'll find similar products on Myntra.\n\n"
    "For best results send <b>one person, standing, head to feet</b> in the frame "
    "(as a photo, or as an image file).\n\n"
    "Commands:\n"
    "/gender men|women|any|kids: whose products to show (auto: the person in the photo)\n"
    "/budget &lt;max rupees&gt;|off: a price limit\n"
    "/settings: your current choices\n"
    "/saved: the products you saved with ♥ (tap ♥ n under a card to save product n)\n"
    "/alerts on|off: messages when a saved product gets cheaper, sells out or is back\n"
    "/help: this message")
RESTARTING = ("I'm restarting and couldn't get to this photo in time. Please send it again "
              "in a minute.")
SOMETHING_WRONG = "Sorry, something went wrong on my side. Please try again."
ENGINE_DOWN = ("My look engine isn't answering right now, so I couldn't look at this photo. "
               "Please send it again in a few minutes.")
NOT_ADMIN = "Sorry, that command is only for the bot's admins."
EXPIRED = "These results have expired. Please send the photo again."
NO_ARTICLES = ("I can see the whole person, but I couldn't pick out any clothes I know "
               "(tops, bottoms, shoes, sunglasses, bags). Please try another photo.")
DOWNLOAD_FAILED = "I couldn't download that photo from Telegram. Please send it again."
OTHER_INPUT = {
    "text": "Please send me a photo of an outfit: one person, standing, head to feet.",
    "sticker": "Nice sticker! But I need a real photo: one person, standing, head to feet.",
    "voice": "I can't listen to voice messages. Please send a photo of an outfit instead.",
    "audio": "I can't listen to audio. Please send a photo of an outfit instead.",
    "video": "I can't look at videos yet. Please send a single photo of the outfit.",
    "video_note": "I can't look at videos yet. Please send a single photo of the outfit.",
    "animation": "I can't look at GIFs or animations. Please send a still photo.",
    "document": "That file isn't a picture. Please send a photo of an outfit (as a photo, or "
                "as a JPEG or PNG file).",
    "command": "I don't know that command. Send /help to see what I can do.",
    "other": "I can only look at photos. Please send a photo of an outfit: one person, "
             "standing, head to feet.",
}


def too_large(limit_bytes: int) -> str:
    return (f"That image is too large for me to download. Please send a smaller photo "
            f"(under {limit_bytes // 1_000_000} MB).")


def queued(taken: int, batch: int = 0) -> str:
    """The one acknowledgement for an album, or for photos sent while others wait; when only the
    first `taken` of an album of `batch` were taken, it says so (the refusal names the rest)."""
    if taken < batch:
        head = "Got the first photo of this album." if taken == 1 else \
            f"Got the first {taken} photos of this album."
    else:
        head = f"Got your {taken} photos." if taken > 1 else "Got it."
    return f"{head} I'll answer your photos one at a time, in the order you sent them."


def refused(n: int, batch: int, user_full: bool, per_user: int) -> str:
    """Which photos were not taken, why, and when to send them again (refused are the last)."""
    if batch == 1:
        which, them = "this photo", "it"
    elif n == batch:
        which, them = f"these {n} photos", "them"
    else:
        which = "the last photo of this album" if n == 1 else f"the last {n} photos of this album"
        them = "it" if n == 1 else "them"
    if user_full:
        return (f"You already have {per_user} photos waiting for my answer, so I didn't take "
                f"{which}. Please send {them} again once I've answered those.")
    return f"I'm busy right now, so I didn't take {which}. Please send {them} again in a minute."


def label(category: str) -> str:
    return LABELS.get(category, category.title())


def rejection(verdict: GateVerdict) -> str:
    """The reason in plain words (HTML); its code stays in the logs and the JSON."""
    return html.escape(verdict.message, quote=False)


def summary(result: LookResult, budget: Optional[int] = None) -> str:
    """The message above a look's cards: what was found, whose picks, and once for all the cards,
    what a `budget` could not check."""
    found = ", ".join(label(a.detection.category).lower() for a in result.articles)
    return (f"I found: {html.escape(found)}. Similar products below; tap a number to open it."
            + (f"\n{whose(result)}" if result.gender_source in ("photo", "you") else "")
            + unpriced_note([p for a in result.articles for p in a.products], budget))


def whose(result: LookResult) -> str:
    """Whose products a look shows, chosen by the photo ("Women's picks · /gender to change") or
    by the shopper ("Men's picks, as you chose · /gender to change")."""
    unsure = (result.wearer or {}).get("gender") == "unsure"
    words = WHOSE.get(result.gender, "all")
    name = words[0].upper() + words[1:]
    if result.gender_source == "you":
        return f"{name} picks, as you chose · /gender to change"
    return (f"Not sure whose: unisex or {words} picks · /gender to choose" if unsure
            else f"{name} picks · /gender to change")


def gender_set(choice: str) -> str:
    return {"auto": "OK: I'll pick by the person in each photo.",
            "any": "OK: I'll show men's, women's and unisex products.",
            "kids": "OK: I'll show kids' products."}.get(choice, f"OK: I'll show products for {choice}.")


def nothing_found(category: str, budget: Optional[int], more: bool, gender: str = "any") -> str:
    """No (more) products for an article, naming the filters that may be why."""
    what = label(category).lower()
    whose = f"{WHOSE[gender]} " if gender in WHOSE and gender != "any" else ""
    if more:
        return f"No more {whose}{what} products like this one."
    limit = f" under ₹{budget:,}" if budget is not None else ""
    hints = [x for x in ("/gender" if whose else "", "/budget" if limit else "") if x]
    change = f" ({' or '.join(hints)} to change)" if hints else ""
    return f"I found no {whose}{what} products{limit} like this one in the catalog{change}."


def stats(engine_stats: dict, refreshing: bool, served: int, busy: int, users: int) -> str:
    """The admin's /stats text (HTML) from Engine.stats() and the bot's counters."""
    s, esc = engine_stats, html.escape
    crawl = s.get("last_crawl") or {}
    when = crawl.get("finished") or crawl.get("started") or "never"
    lines = ["<b>Catalog</b> (active products):"]
    lines += [f"  {esc(cat)}: {n:,} ({s['indexed'].get(cat, 0):,} indexed)"
              for cat, n in s["catalog"].items()]
    lines += [f"<b>Index</b>: {esc(str(s['index_version']))} ({esc(str(s['embedding']))})",
              f"<b>Last crawl</b>: {esc(str(when))} {esc(str(crawl.get('status') or ''))}".rstrip(),
              f"<b>Refresh running</b>: {'yes' if refreshing else 'no'}",
              f"<b>Requests served</b>: {served:,} ({busy:,} turned away: a queue was full)",
              f"<b>Users with settings</b>: {users:,}"]
    return "\n".join(lines)


@dataclass
class Card:
    """One message: a collage photo, its HTML caption and its keyboard."""

    photo: bytes
    caption: str
    keyboard: InlineKeyboardMarkup


def is_link(url: Optional[str]) -> bool:
    return bool(url) and url.startswith(("https://", "http://"))


def budget_set(rupees: Optional[int], priced: int, total: int) -> str:
    """/budget's answer, saying plainly when the catalog's prices cannot honour it."""
    if rupees is None:
        return "OK: no price limit."
    if priced == 0:
        return (f"Saved: up to ₹{rupees:,}. But the catalog I search has no prices yet, so this "
                f"can't change your cards: every product shows \"price on Myntra\". The limit "
                f"will apply once the catalog has prices.")
    if priced < total:
        return (f"OK: products up to ₹{rupees:,}. Only {priced:,} of {total:,} products in the "
                f"catalog have a price; the others are still shown, marked \"price on Myntra\".")
    return f"OK: products up to ₹{rupees:,}."


def unpriced_note(products: Sequence[Product], budget: Optional[int]) -> str:
    """Under a card, or once under a look's summary, when a budget is set and products list no
    price: those could not be checked against it (they are shown, marked "price on Myntra")."""
    unpriced = sum(p.price is None for p in products)
    if budget is None or not unpriced:
        return ""
    # not "the catalog has no prices": under a tight budget these may be all that is left
    which = "None of these lists a price" if unpriced == len(products) else \
        f"{unpriced} of these list no price"
    return f"\n<i>{which}, so I couldn't check them against your ₹{budget:,} limit.</i>"


def caption(category: str, products: Sequence[Product], first: int = 1,
            budget: Optional[int] = None) -> str:
    """HTML caption listing the products as links, cut to fit Telegram's 1024 characters."""
    head = f"<b>{html.escape(label(category))}</b>: similar products"
    return fitted_caption(head, products, first, unpriced_note(products, budget), (60, 40, 24, 12))


def fitted_caption(head: str, products: Sequence[Product], first: int, note: str = "",
                   widths: Sequence[int] = (60, 40, 24, 12)) -> str:
    """`head`, then one numbered line per product (its brand in bold and its title, a link to
    its page, and its price), then `note`: the titles cut with "…" to the first of `widths` that
    fits Telegram's caption limit, else left out."""
    for width in (*widths, 0):
        lines = [head] + [f"{i}. {product_link(p, width)} · {html.escape(p.price_label)}"
                          for i, p in enumerate(products, start=first)]
        text = "\n".join(lines) + note
        if visible_length(text) <= CAPTION_LIMIT:
            break
    return text


def product_link(product: Product, width: int) -> str:
    """The product's brand (bold) and its title cut to `width` (none at 0), linked to its page."""
    brand = html.escape(product.brand or "")
    title = html.escape(_cut(title_without_brand(product), width)) if width else ""
    name = " ".join(x for x in (f"<b>{brand}</b>" if brand else "", title) if x) or "product"
    return f'<a href="{html.escape(product.url, quote=True)}">{name}</a>' \
        if is_link(product.url) else name


def visible_length(text: str) -> int:
    """What Telegram counts against a caption's limit: the text after its HTML is parsed (no
    tags, an entity one character), in UTF-16 code units."""
    plain = html.unescape(re.sub(r"<[^>]*>", "", text))
    return len(plain.encode("utf-16-le")) // 2


def keyboard(products: Sequence[Product], more_data: str, first: int = 1
             ) -> InlineKeyboardMarkup:
    """Numbered URL buttons to the product pages, ♥ buttons that save them, "More like this"."""
    buttons = [InlineKeyboardButton(str(i), url=p.url)
               for i, p in enumerate(products, start=first) if is_link(p.url)]
    rows = [buttons[i:i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    rows += save_buttons(products, first, BUTTONS_PER_ROW)
    rows.append([InlineKeyboardButton("More like this", callback_data=more_data)])
    return InlineKeyboardMarkup(rows)


def card(category: str, products: Sequence[Product], more_data: str, first: int = 1,
         budget: Optional[int] = None) -> Card:
    products = list(products)[:MAX_PER_CARD]
    return Card(collage(products, first), caption(category, products, first, budget),
                keyboard(products, more_data, first))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(1, width - 1)].rstrip() + "…"
