"""Handlers for saved items and alerts: the ♥ and ✕ buttons, /saved and /alerts.

`install` wires them into the Application: the store and the alerts in bot_data, the check
after every catalog refresh, and the job that sends waiting alerts.
"""
from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler, \
    ContextTypes, filters

from core.config import Config

from . import saved_cards as texts
from .alerts import Alerts
from .saved import REMOVE_PREFIX, SAVE_PREFIX, SAVED_LIMIT, SavedItems
from .saved_cards import SavedProduct
from .schedule import Refresher

log = logging.getLogger(__name__)

COMMANDS = [("saved", "the products you saved with ♥"),
            ("alerts", "price and stock alerts on your saved items: on or off")]


def alerts_of(context: ContextTypes.DEFAULT_TYPE) -> Alerts:
    return context.application.bot_data["alerts"]


async def save(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """♥ n under a card: keep that product in the user's saved items."""
    query, alerts = update.callback_query, alerts_of(context)
    uid, product_id = update.effective_user.id, query.data[len(SAVE_PREFIX):]
    row = alerts.catalog.get(product_id)
    if alerts.store.has(uid, product_id):
        text = texts.ALREADY_SAVED
    elif row is None:
        text = texts.NOT_IN_CATALOG
    elif alerts.store.count(uid) >= SAVED_LIMIT:
        text = texts.TOO_MANY
    else:
        alerts.store.save(uid, row, alerts.catalog.to_product(row).image)
        text = texts.SAVED_QUIET if not alerts.store.alerts_on(uid) else \
            texts.SAVED if row.get("price") is not None else texts.SAVED_UNPRICED  # no drop to see
    await query.answer(text, show_alert=text not in (texts.SAVED, texts.SAVED_UNPRICED,
                                                      texts.SAVED_QUIET))


async def remove(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """✕ n under /saved: forget that item, and take its button away."""
    query, alerts = update.callback_query, alerts_of(context)
    gone = alerts.store.remove(update.effective_user.id, query.data[len(REMOVE_PREFIX):])
    await query.answer(texts.removed(gone.title) if gone else texts.ALREADY_REMOVED,
                       show_alert=gone is None)
    if query.message is not None and query.message.reply_markup is not None:
        try:
            await query.edit_message_reply_markup(
                texts.without_button(query.message.reply_markup, query.data))
        except BadRequest as exc:  # the message is too old to edit: the answer said enough
            log.info("could not edit the /saved keyboard: %s", exc)


async def saved(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/saved: the user's saved items with today's price, link and a remove button each."""
    alerts = alerts_of(context)
    items = alerts.store.items(update.effective_user.id)
    if not items:
        await update.effective_message.reply_text(texts.NOTHING_SAVED)
        return
    rows = alerts.catalog.get_many([i.product_id for i in items])
    products = []
    for item in items:
        row = rows.get(item.product_id)
        if row is not None:
            p = alerts.catalog.to_product(row)
            products.append(SavedProduct(**p.__dict__, listed=bool(row.get("active"))))
        else:  # gone from the catalog altogether: the snapshot taken when it was saved
            products.append(SavedProduct(item.product_id, item.title, item.brand, None,
                                         item.url, item.image, item.category, listed=False))
    services = context.application.bot_data["services"]
    for card in await services.pool.run(texts.saved_cards, products):  # PIL work
        await context.bot.send_photo(update.effective_chat.id, card.photo, caption=card.caption,
                                     parse_mode=ParseMode.HTML, reply_markup=card.keyboard)


async def alerts_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/alerts on|off: price and stock alerts on the user's saved items."""
    store, uid = alerts_of(context).store, update.effective_user.id
    word = context.args[0].strip().lower() if len(context.args or []) == 1 else ""
    if word not in ("on", "off"):
        state = "on" if store.alerts_on(uid) else "off"
        await update.effective_message.reply_text(texts.ALERTS_USAGE.format(state=state))
        return
    store.set_alerts(uid, word == "on")
    await update.effective_message.reply_text(texts.ALERTS_ON if word == "on"
                                              else texts.ALERTS_OFF)


def handler_list(messages: filters.BaseFilter = filters.UpdateType.MESSAGE) -> list[BaseHandler]:
    """The saved items' handlers; their commands answer `messages` (new ones, not edits)."""
    return [CommandHandler("saved", saved, filters=messages),
            CommandHandler("alerts", alerts_command, filters=messages),
            CallbackQueryHandler(save, pattern=f"^{SAVE_PREFIX}"),
            CallbackQueryHandler(remove, pattern=f"^{REMOVE_PREFIX}")]


def install(app: Application, config: Config, store: SavedItems, refresher: Refresher
            ) -> Alerts:
    """Put the store and the alerts in bot_data and check alerts after every refresh."""
    alerts = app.bot_data["alerts"] = Alerts(config, store)

    async def after_refresh(_outcome) -> None:
        await alerts.after_refresh(app.bot)

    refresher.listeners.append(after_refresh)
    return alerts
