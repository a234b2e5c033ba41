"""Saved items and alerts as Telegram messages, and their texts.

/saved is one collage card per ten items, drawn like the look cards: picture, brand and today's
price ("price on Myntra" when the catalog has none, "no longer listed" when it left the
catalog), a caption of links, numbered URL buttons and a ✕ remove button per item.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Optional, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.records import Product

from .cards import BUTTONS_PER_ROW, MAX_PER_CARD, Card, collage, fitted_caption, is_link
from .saved import REMOVE_PREFIX, SAVED_LIMIT, Change

SAVED = "♥ Saved. /saved lists your saved items; I'll tell you when the price drops."
SAVED_UNPRICED = ("♥ Saved. /saved lists your saved items; I'll tell you if it goes out of "
                  "stock.")  # the catalog has no price for it, so no price drop can be seen
SAVED_QUIET = ("♥ Saved. /saved lists your saved items. Your alerts are off: /alerts on to hear "
               "when a saved item's price drops or it goes out of stock.")
ALREADY_SAVED = "You saved this one already: /saved lists your saved items."
NOT_IN_CATALOG = "That product is no longer in the catalog, so I can't save it."
TOO_MANY = (f"You have {SAVED_LIMIT} saved items, the most I keep. Remove some with /saved "
            "first.")
NOTHING_SAVED = "You have no saved items yet. Tap ♥ under a product to save it."
ALREADY_REMOVED = "That item isn't in your saved items any more."
ALERTS_USAGE = "Usage: /alerts on or /alerts off (now: {state})."
ALERTS_ON = ("OK: I'll message you when a saved item's price drops, or when it goes out of "
             "stock or comes back (never at night).")
ALERTS_OFF = "OK: no more alerts about your saved items. /alerts on turns them back on."
MESSAGE_LIMIT = 4096  # Telegram's limit for a text message
NOT_LISTED = "no longer listed"


@dataclass
class SavedProduct(Product):
    """A product as /saved shows it: its price label says when it is no longer listed."""

    listed: bool = True

    @property
    def price_label(self) -> str:
        return super().price_label if self.listed else NOT_LISTED


def removed(title: str) -> str:
    return f"Removed: {title[:150]}"


def price(value: Optional[int]) -> str:
    """₹1,299, or "price on Myntra": a number is never made up."""
    return f"₹{value:,}" if value is not None else "price on Myntra"


def _link(title: str, url: str) -> str:
    name = html.escape(title)
    return f'<a href="{html.escape(url, quote=True)}">{name}</a>' if is_link(url) else name


def saved_caption(products: Sequence[SavedProduct], first: int, total: int) -> str:
    head = f"<b>♥ Your saved items</b> ({first}–{first + len(products) - 1} of {total})"
    return fitted_caption(head, products, first, widths=(80, 50, 30, 15))


def saved_keyboard(products: Sequence[SavedProduct], first: int) -> InlineKeyboardMarkup:
    """Numbered URL buttons to the product pages, then a ✕ remove button per item."""
    links = [InlineKeyboardButton(str(i), url=p.url)
             for i, p in enumerate(products, start=first) if is_link(p.url)]
    removes = [InlineKeyboardButton(f"✕ {i}", callback_data=REMOVE_PREFIX + p.id)
               for i, p in enumerate(products, start=first)
               if len((REMOVE_PREFIX + p.id).encode()) <= 64]
    rows = [links[i:i + BUTTONS_PER_ROW] for i in range(0, len(links), BUTTONS_PER_ROW)]
    rows += [removes[i:i + BUTTONS_PER_ROW] for i in range(0, len(removes), BUTTONS_PER_ROW)]
    return InlineKeyboardMarkup(rows)


def saved_cards(products: Sequence[SavedProduct]) -> list[Card]:
    """The /saved messages: ten items to a card."""
    out = []
    for start in range(0, len(products), MAX_PER_CARD):
        chunk = list(products[start:start + MAX_PER_CARD])
        out.append(Card(collage(chunk, start + 1), saved_caption(chunk, start + 1, len(products)),
                        saved_keyboard(chunk, start + 1)))
    return out


def without_button(markup: Optional[InlineKeyboardMarkup], data: str
                   ) -> Optional[InlineKeyboardMarkup]:
    """The keyboard after a removal: the ✕ n button that sent `data` taken out, and the item's
    link button n with it (a removed item is not offered any more)."""
    if markup is None:
        return None
    number = next((b.text.removeprefix("✕ ") for row in markup.inline_keyboard for b in row
                   if b.callback_data == data), None)
    rows = [[b for b in row if b.callback_data != data and not (b.url and b.text == number)]
            for row in markup.inline_keyboard]
    return InlineKeyboardMarkup([row for row in rows if row])


def alert_line(change: Change) -> str:
    link = _link(change.title[:80], change.url)
    if change.kind == "drop":
        cut = round(100 * (change.old_price - change.new_price) / change.old_price)
        return f"⬇️ {link}: {price(change.old_price)} → {price(change.new_price)} (−{cut}%)"
    if change.kind == "back":
        return f"✅ {link} is back in stock ({price(change.new_price)})"
    return f"❌ {link} is out of stock: no longer listed"


def alert_text(changes: Sequence[Change]) -> str:
    """One grouped message for all of a user's changes, cut to Telegram's 4096 characters."""
    head = "🔔 <b>News about your saved items</b>"
    foot = "\n\n/saved shows them all · /alerts off stops these messages"
    lines = [alert_line(c) for c in changes]
    for shown in range(len(lines), 0, -1):
        more = f"\n…and {len(lines) - shown} more in /saved" if shown < len(lines) else ""
        text = "\n".join([head, *lines[:shown]]) + more + foot
        if len(text) <= MESSAGE_LIMIT:
            return text
    return (head + foot)[:MESSAGE_LIMIT]
