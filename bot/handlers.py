"""Telegram handlers: each reads the update, calls the engine through the worker pool, replies."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from telegram import Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from core.config import Config
from core.draw import render, to_jpeg
from core.index import IndexMismatch
from core.records import LookResult, SearchOptions

from . import cards
from .photo_queue_store import PhotoQueueStore
from .prefs import Prefs, parse_budget, parse_gender
from .schedule import RefreshOutcome, Refresher
from .worker import PhotoQueues, WorkerPool

if TYPE_CHECKING:  # the engine (torch, MediaPipe) is loaded by app.run, after the token check
    from core.pipeline import Engine

log = logging.getLogger(__name__)

LOOKS_KEPT = 20  # per user, for "More like this"; older results answer EXPIRED
HTML = ParseMode.HTML


@dataclass
class Services:
    """What the handlers share, kept in `application.bot_data["services"]`."""

    config: Config
    engine: "Engine"
    prefs: Prefs
    pool: WorkerPool
    refresher: Refresher
    queue: PhotoQueues
    pending: PhotoQueueStore  # the queue's photos, on disk until answered
    admin_ids: frozenset[int] = field(default_factory=frozenset)
    albums: dict = field(default_factory=dict)  # (chat, media_group_id) -> photos so far


@dataclass(eq=False)  # it holds an array: the persistence's change check compares chat_data
class Shown:
    """One article's results as far as paged, for "More like this", kept in chat_data; `embedding`
    expires old buttons; `gender`, `budget`, `hint`: whose products, the price limit and the
    street hint the look searched with, which its later pages keep (a /gender or /budget given
    since applies to the next photo: a page searched otherwise would repeat or skip products)."""

    category: str
    vector: np.ndarray
    offset: int
    embedding: str = ""
    gender: str = "any"
    hint: Optional[Any] = None
    budget: Optional[int] = None


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


def is_admin(update: Update, svc: Services) -> bool:
    return update.effective_user is not None and update.effective_user.id in svc.admin_ids


# --- commands -------------------------------------------------------------------------------
async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Welcome: what to send, and the commands."""
    await update.effective_message.reply_text(cards.WELCOME, parse_mode=HTML)


async def gender(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/gender men|women|any|kids|auto: whose products every search shows."""
    svc, uid = services(context), update.effective_user.id
    choice = parse_gender(context.args[0]) if len(context.args or ()) == 1 else None
    if choice is None:
        await update.effective_message.reply_text(
            f"Usage: /gender men|women|any|kids|auto (now: {svc.prefs.get(uid).gender})")
        return
    svc.prefs.set_gender(uid, choice)
    await update.effective_message.reply_text(cards.gender_set(choice))


async def budget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/budget <max rupees>|off: a price limit for every search."""
    svc, uid = services(context), update.effective_user.id
    ok, rupees = parse_budget(" ".join(context.args)) if context.args else (False, None)
    if not ok:
        await update.effective_message.reply_text("Usage: /budget 2000 (in rupees) or /budget off")
        return
    svc.prefs.set_budget(uid, rupees)
    priced = (await svc.pool.run(svc.engine.stats)).get("priced")  # [with a price, active]
    await update.effective_message.reply_text(cards.budget_set(rupees, *(priced or (1, 1))))


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/settings: the user's gender and budget."""
    prefs = services(context).prefs.get(update.effective_user.id)
    await update.effective_message.reply_text(prefs.describe())


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats (admins): catalog per category, index version, last crawl, requests served."""
    svc = services(context)
    if not is_admin(update, svc):
        await update.effective_message.reply_text(cards.NOT_ADMIN)
        return
    await svc.pool.run(svc.engine.reload_if_changed)  # show the version searches will use
    engine_stats = await svc.pool.run(svc.engine.stats)  # an HTTP call with LOOKBOT_ENGINE_URL
    text = cards.stats(engine_stats, svc.refresher.running, svc.prefs.counter("requests"),
                       svc.prefs.counter("busy"), svc.prefs.users())
    await update.effective_message.reply_text(text, parse_mode=HTML)


async def crawl(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/crawl (admins): start a catalog refresh now; the admin hears back when it ends."""
    svc = services(context)
    if not is_admin(update, svc):
        await update.effective_message.reply_text(cards.NOT_ADMIN)
        return
    chat_id = update.effective_chat.id

    async def report(outcome: RefreshOutcome) -> None:
        await context.bot.send_message(chat_id, outcome.describe()[:4000])

    if svc.refresher.start(report):
        await update.effective_message.reply_text(
            "Catalog refresh started (crawl, then index). I'll tell you when it's done.")
    else:
        await update.effective_message.reply_text("A catalog refresh is already running.")


# --- answers to photos (bot/photos.py takes them in and queues them) ---------------------
async def send_result(message: Message, context: ContextTypes.DEFAULT_TYPE, result: LookResult,
                      data: bytes) -> None:
    """The rejection, or the boxed photo and one card per article."""
    svc = services(context)
    if not result.full_shot:
        log.info("photo %s refused: %s", result.photo, result.verdict.reason)
        await message.reply_text(cards.rejection(result.verdict), parse_mode=HTML, do_quote=True)
        return
    if not result.articles:
        await message.reply_text(cards.NO_ARTICLES, do_quote=True)
        return
    budget = svc.prefs.get(message.from_user.id).budget if message.from_user else None
    shown = [Shown(a.detection.category, a.vector, 0, svc.engine.embedding_version,
                   result.gender, a.hint, budget) for a in result.articles]
    # Every card renders in the pool while the boxed photo is drawn and sent: PIL work off the path
    # what the budget could not check is said once, under the summary, not under every card
    renders = [start_card(context, message.chat_id, s, a.products)
               for s, a in zip(shown, result.articles)]
    try:
        boxed = await svc.pool.run(boxed_jpeg, data, [a.detection for a in result.articles]) \
            if svc.config.bot_draw_boxes else None
        if boxed is not None:
            await message.reply_photo(boxed, caption=cards.summary(result, budget),
                                      parse_mode=HTML, do_quote=True)
        else:
            await message.reply_text(cards.summary(result, budget), parse_mode=HTML,
                                     do_quote=True)
        for one, article, rendering in zip(shown, result.articles, renders):
            await send_card(message.chat_id, context, one, article.products, budget, rendering)
    finally:
        for rendering in renders:
            if rendering is not None and not rendering.done():
                rendering.cancel()


def boxed_jpeg(data: bytes, detections: list) -> Optional[bytes]:
    """The user's photo with the articles boxed, as JPEG; None when it can't be drawn."""
    image = render(data, detections, label=lambda d: cards.label(d.category))
    return to_jpeg(image) if image is not None else None


def start_card(context: ContextTypes.DEFAULT_TYPE, chat_id: int, shown: Shown, products: list,
               budget: Optional[int] = None, key: Optional[str] = None
               ) -> Optional[asyncio.Future]:
    """Render one article's card in the pool (PIL work); None when there is nothing to show.
    `key`: the article's paging cursor when the card is one of its later pages."""
    if not products:
        return None
    key = key or remember(context, chat_id, shown)
    return asyncio.ensure_future(services(context).pool.run(
        cards.card, shown.category, products, f"more:{key}", shown.offset + 1, budget))


async def send_card(chat_id: int, context: ContextTypes.DEFAULT_TYPE, shown: Shown,
                    products: list, budget: Optional[int],
                    rendering: Optional[asyncio.Future] = None, key: Optional[str] = None) -> None:
    """One article's card (already rendering, or rendered now), or a line saying nothing (more)
    was found."""
    if not products:
        await context.bot.send_message(chat_id, cards.nothing_found(
            shown.category, budget, more=shown.offset > 0, gender=shown.gender))
        return
    card = await (rendering or start_card(context, chat_id, shown, products, budget, key))
    await context.bot.send_photo(chat_id, card.photo, caption=card.caption, parse_mode=HTML,
                                 reply_markup=card.keyboard)


def remember(context: ContextTypes.DEFAULT_TYPE, chat_id: int, shown: Shown) -> str:
    """Keep one article's results in the chat's data under a short key for the callback data:
    per chat, so anyone in a group can page a card. The photo's update was handled when its
    answer comes (it waited in a queue), so the chat is marked for the next save here."""
    looks: OrderedDict = context.chat_data.setdefault("looks", OrderedDict())
    key = uuid.uuid4().hex[:12]
    looks[key] = shown
    while len(looks) > LOOKS_KEPT:
        looks.popitem(last=False)
    context.application.mark_data_for_update_persistence(chat_ids=chat_id)
    return key


async def more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """"More like this": the next k products like one article. All its cards share one cursor,
    so a second tap (on this card or an older one of the same article) shows the page after."""
    query, svc = update.callback_query, services(context)
    key = query.data.split(":", 1)[1]
    looks = context.chat_data.get("looks", {})
    if key not in looks:  # a card from before looks were kept per chat (in the user's data)
        looks = context.user_data.get("looks", {})
    shown: Optional[Shown] = looks.get(key)
    if shown is None or shown.embedding != svc.engine.embedding_version:
        await query.answer(cards.EXPIRED, show_alert=True)
        return
    nxt = replace(shown, offset=shown.offset + svc.config.k)
    looks[key] = nxt  # moved on before any await: a tap meanwhile gets the page after this one
    looks.move_to_end(key)
    options = SearchOptions(gender=shown.gender, k=svc.config.k, budget=shown.budget,
                            offset=nxt.offset)
    try:
        products = await svc.pool.run(svc.engine.search, nxt.vector, nxt.category, options,
                                      (), shown.hint)
    except Exception as exc:
        if looks.get(key) is nxt:  # not shown: the next tap asks for this page again
            looks[key] = shown
        if isinstance(exc, IndexMismatch):  # the engine service's models changed since
            await query.answer(cards.EXPIRED, show_alert=True)
            return
        with contextlib.suppress(TelegramError):
            await query.answer()  # the error handler says what went wrong
        raise
    await query.answer()
    await send_card(update.effective_chat.id, context, nxt, products, options.budget, key=key)


async def unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button this bot no longer knows (an older version's): answered, so it stops spinning."""
    await update.callback_query.answer(cards.EXPIRED, show_alert=True)


# --- everything else ------------------------------------------------------------------------
async def other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything that isn't a photo: say what to send instead."""
    message = update.effective_message
    if message is None:
        return
    kind = next((k for k in cards.OTHER_INPUT if getattr(message, k, None)), "other")
    if kind == "text" and message.text.startswith("/"):
        to = message.text.split()[0].partition("@")[2]
        if to and to.lower() != (context.bot.username or "").lower():
            return  # another bot's command, in a group
        kind = "command"
    if message.chat.type != ChatType.PRIVATE and kind != "command":
        return  # a group's talk is not for the bot: it answers photos and its commands there
    await message.reply_text(cards.OTHER_INPUT[kind])


async def error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error and tell the user something went wrong."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(update.effective_chat.id, cards.SOMETHING_WRONG)
