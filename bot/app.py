"""Wiring: build the Application once, register the handlers, poll or serve a webhook.

    TELEGRAM_BOT_TOKEN=... lookbot bot      # or: python -m bot.app
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlparse

from aiolimiter import AsyncLimiter
from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError, TimedOut
from telegram.ext import (AIORateLimiter, Application, BaseHandler, CallbackQueryHandler,
                          CommandHandler, MessageHandler, PersistenceInput, PicklePersistence,
                          filters)

from core.config import Config, ConfigError

from . import handlers as h
from . import saved_handlers
from . import photos
from .photo_queue_store import PhotoQueueStore
from .prefs import Prefs, db_path, state_path
from .saved import SavedItems
from .schedule import Refresher, RefreshOutcome, schedule
from .engine_link import REMOTE_WORKERS, load_engine
from .worker import PhotoQueues, WorkerPool

log = logging.getLogger(__name__)

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
COMMANDS = [("start", "what to send"), ("help", "what to send, and the commands"),
            ("gender", "men, women, any or kids"), ("budget", "a price limit in rupees, or off"),
            ("settings", "your gender and budget"), *saved_handlers.COMMANDS]


DRAIN_SECONDS = 60.0  # at shutdown, photos already taken get this long to be answered
NEW = filters.UpdateType.MESSAGE  # new private/group messages: an edit re-runs no command or look


def handler_list() -> list[BaseHandler]:
    """Every handler, in the order they are tried."""
    return [
        CommandHandler(["start", "help"], h.start, filters=NEW),
        CommandHandler("gender", h.gender, filters=NEW),
        CommandHandler("budget", h.budget, filters=NEW),
        CommandHandler("settings", h.settings, filters=NEW),
        CommandHandler("stats", h.stats, filters=NEW),
        CommandHandler("crawl", h.crawl, filters=NEW),
        *saved_handlers.handler_list(NEW),
        MessageHandler(NEW & filters.PHOTO, photos.photo),
        # a file of any declared type: its bytes decide (a GIF is an animation, answered below)
        MessageHandler(NEW & filters.Document.ALL & ~filters.ANIMATION, photos.image_document),
        CallbackQueryHandler(h.more, pattern=r"^more:"),
        CallbackQueryHandler(h.unknown_button),
        MessageHandler(NEW, h.other),
    ]


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter (overall and group limits, RetryAfter retried), plus about one message a
    second per private chat after a short burst, and retries of calls that timed out."""

    def __init__(self, timeout_retries: int = 2, chat_burst: int = 3,
                 chat_seconds_per_message: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.timeout_retries = timeout_retries
        self.chat_burst, self.chat_period = chat_burst, chat_burst * chat_seconds_per_message
        self._chat_limiters: dict[int, AsyncLimiter] = {}

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._chat_limiters) > 1024:  # forget chats whose bucket has drained
            for key, limiter in list(self._chat_limiters.items()):
                if limiter.has_capacity(limiter.max_rate):
                    del self._chat_limiters[key]
        if chat_id not in self._chat_limiters:
            self._chat_limiters[chat_id] = AsyncLimiter(self.chat_burst, self.chat_period)
        return self._chat_limiters[chat_id]

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        paced = endpoint.startswith("send") and endpoint != "sendChatAction"
        try:
            chat_id = int(data.get("chat_id"))
        except (TypeError, ValueError):
            chat_id, paced = 0, False
        async with (self._chat_limiter(chat_id) if paced and chat_id > 0 else nullcontext()):
            for attempt in range(self.timeout_retries + 1):
                try:
                    return await super().process_request(callback, args, kwargs, endpoint, data,
                                                          rate_limit_args)
                except TimedOut:
                    if attempt == self.timeout_retries:
                        raise
                    log.warning("%s timed out; retrying (%d/%d)", endpoint, attempt + 1,
                                self.timeout_retries)
                    await asyncio.sleep(1 + attempt)


def parse_admin_ids(text: str) -> frozenset[int]:
    ids = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            log.warning("ignoring LOOKBOT_ADMIN_IDS entry %r: not a numeric user id", part)
    return frozenset(ids)


class UserState(PicklePersistence):
    """PicklePersistence of chat_data ("More like this" results) and user_data (the results of
    versions before, kept per user), not bot_data (it holds the engine). An unreadable file is
    moved aside with a warning when it is first read, so a bad file costs old buttons, not the bot."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path, update_interval=30, store_data=PersistenceInput(
            bot_data=False, chat_data=True, user_data=True, callback_data=False))

    async def get_user_data(self) -> dict:
        try:
            return await super().get_user_data()
        except TypeError as exc:  # PTB's error for a file it cannot unpickle: truncated, or foreign
            aside = self.filepath.with_name(self.filepath.name + ".unreadable")
            os.replace(self.filepath, aside)
            log.warning("could not read the saved user state %s (%s); moved it to %s and "
                        "starting afresh", self.filepath, exc.__cause__ or exc, aside)
            return await super().get_user_data()  # no file now: empty


def build_application(config: Config, token: str, engine, *, prefs: Optional[Prefs] = None,
                      pool: Optional[WorkerPool] = None, refresher: Optional[Refresher] = None,
                      timeout_retries: int = 2, http_timeout: Optional[float] = None
                      ) -> Application:
    """The bot, wired to an already loaded engine; start it with run_polling/run_webhook."""
    pool = pool or WorkerPool(config.bot_workers or (REMOTE_WORKERS if config.engine_url else 0))
    queue = PhotoQueues(photos.answer, order=lambda job: job.order,
                        per_user=config.bot_user_queue,
                        total=pool.workers + config.bot_queue_size)
    prefs = prefs or Prefs(db_path(config))
    svc = h.Services(config=config, engine=engine, prefs=prefs, pool=pool,
                     refresher=refresher or Refresher(config), queue=queue,
                     pending=PhotoQueueStore(prefs.path), admin_ids=parse_admin_ids(config.admin_ids))

    async def tell_admins(outcome: RefreshOutcome) -> None:
        for admin in svc.admin_ids:
            try:
                await app.bot.send_message(admin, outcome.describe()[:4000])
            except Exception as exc:  # an admin who never started the bot can't be messaged
                log.warning("cannot tell admin %s about the refresh: %s", admin, exc)

    async def post_init(app: Application) -> None:
        await app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
        await photos.resume(app)  # photos a crashed run took are answered before new ones
        if app.job_queue is not None:
            schedule(app.job_queue, svc.refresher, tell_admins)
            alerts.schedule(app.job_queue)

    async def post_stop(app: Application) -> None:
        await photos.farewell(svc, timeout=DRAIN_SECONDS)

    async def post_shutdown(app: Application) -> None:
        svc.pool.shutdown()
        svc.prefs.close()
        svc.pending.close()
        alerts.store.close()

    builder = (Application.builder().token(token)
               .base_url(config.telegram_base_url).base_file_url(config.telegram_base_file_url)
               .rate_limiter(RetryingRateLimiter(timeout_retries=timeout_retries, max_retries=3))
               .concurrent_updates(True)
               .persistence(UserState(state_path(config)))
               .post_init(post_init).post_stop(post_stop).post_shutdown(post_shutdown))
    if http_timeout is not None:
        builder = builder.read_timeout(http_timeout).write_timeout(http_timeout)
    app = builder.build()
    app.bot_data["services"] = svc
    alerts = saved_handlers.install(app, config, SavedItems(svc.prefs.path), svc.refresher)
    app.add_handlers(handler_list())
    app.add_error_handler(h.error)
    return app


class RedactToken(logging.Filter):
    """Replaces the bot token in log records (httpx logs request URLs, which contain it)."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        if self.token in record.getMessage():
            record.msg = record.getMessage().replace(self.token, "<token>")
            record.args = ()
        if record.exc_info and not record.exc_text:  # a traceback's text is the formatter's own
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        if record.stack_info and self.token in record.stack_info:
            record.stack_info = record.stack_info.replace(self.token, "<token>")
        return True


def protect_token(token: str) -> None:
    """Keep the token out of every log line: quiet httpx and redact on every root handler."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    redact = RedactToken(token)
    for name in ("httpx", "httpcore", "telegram", "apscheduler"):
        logging.getLogger(name).addFilter(redact)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


def run(config: Config, token: str) -> int:
    """Load the engine once (or reach the engine service at LOOKBOT_ENGINE_URL), then poll
    (default) or serve the webhook until stopped."""
    try:
        engine = load_engine(config)
    except Exception as exc:  # no index yet, or models missing: one clear line, no traceback
        print(f"lookbot bot: cannot load the engine: {exc}", file=sys.stderr)
        return 1
    app = build_application(config, token, engine)
    if config.webhook_url:
        path = urlparse(config.webhook_url).path.lstrip("/")
        log.info("webhook mode on %s:%d/%s", config.webhook_listen, config.webhook_port, path)
        app.run_webhook(listen=config.webhook_listen, port=config.webhook_port, url_path=path,
                        webhook_url=config.webhook_url, allowed_updates=Update.ALL_TYPES,
                        secret_token=config.webhook_secret.get_secret_value() or None)
    else:
        log.info("long-polling mode")
        app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


def main() -> int:
    """Entry point of `lookbot bot`: checks the token, sets up logging, runs the bot."""
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"lookbot bot: {exc}", file=sys.stderr)
        return 2
    token = config.telegram_bot_token.get_secret_value().strip()
    if not token:
        print(f"lookbot bot: {TOKEN_ENV} is not set; get a token from @BotFather and export it.",
              file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    protect_token(token)
    try:
        return run(config, token)
    except InvalidToken:
        print(f"lookbot bot: Telegram refused the token in {TOKEN_ENV}; check it with @BotFather.",
              file=sys.stderr)
    except NetworkError as exc:  # before the first update: at startup, not a passing outage
        print(f"lookbot bot: cannot reach Telegram at {config.telegram_base_url} "
              f"({str(exc).replace(token, '<token>')}); check the network or "
              "LOOKBOT_TELEGRAM_BASE_URL.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
