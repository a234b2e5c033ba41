"""The photo flow: a photo (or an album of them) is taken into its sender's queue or refused at
once with what to do; each taken photo is then downloaded, looked at and answered, in order.
Taken photos are also recorded in the bot's SQLite until answered, so that after a crash the
next start answers them first (`resume`)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from itertools import groupby
from typing import AsyncIterator, Callable, Iterator, Optional

from telegram import Chat, Message, Update, User
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackContext, ContextTypes

from core.remote import EngineUnavailable

from . import cards
from .handlers import Services, send_result, services
from .photo_queue_store import PendingPhoto
from .worker import USER_FULL, Admission

log = logging.getLogger(__name__)

ALBUM_QUIET = 0.6  # s without a new photo of an album before it is taken as one batch


@dataclass
class Incoming:
    """One photo a user sent, as the queue holds it until it is answered."""

    message: Message
    file_id: str
    size: Optional[int]
    context: ContextTypes.DEFAULT_TYPE

    @property
    def order(self) -> int:
        return self.message.message_id

    @property
    def sender(self) -> int:
        """The user whose queue it joins (an anonymous group admin has none: the chat's)."""
        user = self.message.from_user
        return user.id if user else self.message.chat_id

    @property
    def key(self) -> tuple[int, int]:
        return self.message.chat_id, self.message.message_id

    def record(self) -> PendingPhoto:
        m = self.message
        return PendingPhoto(m.chat_id, m.message_id, self.sender,
                            m.from_user.id if m.from_user else None, m.chat.type, self.file_id,
                            self.size, m.media_group_id, m.date.isoformat())

    @classmethod
    def restored(cls, p: PendingPhoto, app: Application) -> "Incoming":
        """A photo a previous run took, rebuilt enough to be answered with a reply to it."""
        user = User(p.user_id, "", False) if p.user_id is not None else None
        message = Message(p.message_id, p.sent, Chat(p.chat_id, p.chat_type), from_user=user,
                          media_group_id=p.album_id)
        message.set_bot(app.bot)
        return cls(message, p.file_id, p.file_size,
                   CallbackContext(app, chat_id=p.chat_id, user_id=p.user_id))


async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo: into the sender's queue (with the rest of its album), or told why not."""
    message = update.effective_message
    biggest = message.photo[-1]
    await receive(context, Incoming(message, biggest.file_id, biggest.file_size, context))


async def image_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A file: taken like a photo (without Telegram's recompression) unless its declared type
    says it is something else, e.g. a PDF. Whether it is a picture is then decided by its bytes
    (core/imageio.py): a JPEG sent as application/octet-stream is looked at like any photo."""
    message = update.effective_message
    doc = message.document
    if not may_be_picture(doc.mime_type, doc.file_name):
        if message.chat.type == ChatType.PRIVATE:  # in a group, a file for the members
            # quoted: in an album of files it names the one that isn't a picture
            await message.reply_text(cards.OTHER_INPUT["document"], do_quote=True)
        return
    await receive(context, Incoming(message, doc.file_id, doc.file_size, context))


PICTURE_EXTENSIONS = {"jpg", "jpeg", "jpe", "jfif", "png", "webp", "gif", "bmp", "tif", "tiff",
                      "heic", "heif", "avif", "jxl"}
NOT_PICTURES = ("video/", "audio/", "text/", "font/", "model/", "message/", "application/pdf",
                "application/zip", "application/vnd.", "application/msword", "application/json",
                "application/gzip", "application/x-tar", "application/x-rar", "application/x-7z")


def may_be_picture(mime_type: Optional[str], file_name: Optional[str]) -> bool:
    """False only for a file that says it is something else (by its type, and not by a picture's
    file extension); anything else, image/*, application/octet-stream or no type, is downloaded."""
    _, dot, ext = (file_name or "").rpartition(".")
    if dot and ext.lower() in PICTURE_EXTENSIONS:
        return True
    return not (mime_type or "").lower().startswith(NOT_PICTURES)


async def receive(context: ContextTypes.DEFAULT_TYPE, incoming: Incoming) -> None:
    """Admit a lone photo now; gather an album's photos first and admit them together."""
    group = incoming.message.media_group_id
    if group is None:
        await admit(services(context), [incoming])
        return
    albums = services(context).albums
    key = (incoming.message.chat_id, group)
    if key in albums:
        albums[key].append(incoming)
        return
    albums[key] = batch = [incoming]
    seen = 0
    while seen != len(batch):  # Telegram sends an album's photos within a moment of each other
        seen = len(batch)
        await asyncio.sleep(ALBUM_QUIET)
    del albums[key]
    await admit(services(context), sorted(batch, key=lambda p: p.order))


async def admit(svc: Services, photos: list[Incoming]) -> None:
    """Queue what fits and say so once; tell plainly which photos to send again."""
    limit = svc.config.bot_max_download_bytes
    fitting = []
    for p in photos:
        if p.size and p.size > limit:
            await p.message.reply_text(cards.too_large(limit), do_quote=True)
        else:
            fitting.append(p)
    again = svc.pending.recorded(p.key for p in fitting)
    fitting = [p for p in fitting if p.key not in again]  # Telegram redelivered it after a crash
    if not fitting:
        return
    admission: Admission[Incoming] = svc.queue.offer(fitting[0].sender, fitting)
    svc.pending.add(p.record() for p in admission.taken)
    if admission.acknowledge:
        await admission.taken[0].message.reply_text(
            cards.queued(len(admission.taken), len(fitting)), do_quote=True)
    if admission.refused:
        svc.prefs.count("busy", len(admission.refused))
        text = cards.refused(len(admission.refused), len(fitting),
                             admission.reason == USER_FULL, svc.queue.per_user)
        await admission.refused[0].message.reply_text(text, do_quote=True)


async def answer(job: Incoming) -> None:
    """Reply to the photo, then forget it on disk; one whose answer is cancelled (a crash, or
    a shutdown) stays recorded for the next start."""
    await look_and_reply(job)
    services(job.context).pending.remove(*job.key)


async def look_and_reply(job: Incoming) -> None:
    """Download, look (in the pool) and reply; every path ends in a reply to the photo."""
    svc, message, context = services(job.context), job.message, job.context
    try:
        async with chat_action(context, message.chat_id, ChatAction.UPLOAD_PHOTO):
            async with svc.pool.turn():
                data = await download(context, job.file_id, svc.config.bot_max_download_bytes)
                if isinstance(data, str):
                    await message.reply_text(data, do_quote=True)
                    return
                options = svc.prefs.get(job.sender).options(k=svc.config.k)
                result = await look_again_if_unreachable(svc, data, f"telegram:{job.file_id}",
                                                         options)
            svc.prefs.count("requests")
            await send_result(message, context, result, data)
    except EngineUnavailable as exc:  # a remote engine down for longer than the retries
        log.warning("engine service unavailable; photo %s not looked at: %s", job.key, exc)
        with contextlib.suppress(TelegramError):
            await message.reply_text(cards.ENGINE_DOWN, do_quote=True)
    except Exception:
        log.exception("error while answering a photo")
        with contextlib.suppress(TelegramError):
            await message.reply_text(cards.SOMETHING_WRONG, do_quote=True)


ENGINE_RETRY_SECONDS = (2.0, 5.0)  # waits before asking an unreachable engine service again


async def look_again_if_unreachable(svc: Services, data: bytes, photo: str, options):
    """The engine's look, asked again after each of ENGINE_RETRY_SECONDS when the engine
    service (LOOKBOT_ENGINE_URL) does not answer: a replica restarting, a short network cut."""
    for wait in (*ENGINE_RETRY_SECONDS, None):
        try:
            return await svc.pool.run(svc.engine.look, data, photo, options)
        except EngineUnavailable as exc:
            if wait is None:
                raise
            log.warning("engine service unavailable (%s); asking again in %.0f s", exc, wait)
            await asyncio.sleep(wait)


async def farewell(svc: Services, timeout: float) -> None:
    """At shutdown: answer what can be answered in `timeout` s and ask for the photos never
    started again. One stopped part-way through has had part of its answer: it stays recorded,
    and the next start answers it whole (as after a crash). A second stop signal meanwhile stops
    at once, and what is left stays recorded for the next start too."""
    drain = asyncio.ensure_future(svc.queue.drain(timeout))
    with on_stop_signal(drain.cancel):
        await asyncio.wait({drain})
    if drain.cancelled():
        left = await svc.queue.stop()
        log.warning("stopped at once on a second signal: %d photo(s) stay recorded for the next "
                    "start", left)
        return
    left = drain.result()
    for job in left.never_started:
        with contextlib.suppress(TelegramError):
            await job.message.reply_text(cards.RESTARTING, do_quote=True)
            svc.pending.remove(*job.key)
    if left.cut:
        log.info("%d photo(s) stopped part-way kept for the next start", len(left.cut))


@contextlib.contextmanager
def on_stop_signal(callback: Callable[[], object]) -> Iterator[None]:
    """Call `callback` on SIGINT or SIGTERM while inside (where the loop can take signals)."""
    loop = asyncio.get_running_loop()
    taken = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, callback)  # not in the main thread: none
            taken.append(sig)
    try:
        yield
    finally:
        for sig in taken:
            loop.remove_signal_handler(sig)


async def resume(app: Application) -> int:
    """At start-up: queue the photos a previous run took and never answered, before any new
    one, each sender's in order; tell plainly which ones the queue can't take any more."""
    svc: Services = app.bot_data["services"]
    left = svc.pending.left()
    if left:
        log.info("answering %d photo(s) left unanswered by the previous run", len(left))
    for sender, rows in groupby(left, key=lambda p: p.sender):
        admission = svc.queue.offer(sender, [Incoming.restored(p, app) for p in rows])
        for job in admission.refused:  # only if LOOKBOT_USER_QUEUE was lowered meanwhile
            with contextlib.suppress(TelegramError):
                await job.message.reply_text(cards.RESTARTING, do_quote=True)
                svc.pending.remove(*job.key)
    return len(left)


async def download(context: ContextTypes.DEFAULT_TYPE, file_id: str, limit: int) -> bytes | str:
    """The file's bytes, or the message to send when Telegram won't hand it over."""
    try:
        tg_file = await context.bot.get_file(file_id)
        if tg_file.file_size and tg_file.file_size > limit:
            return cards.too_large(limit)
        return bytes(await tg_file.download_as_bytearray())
    except BadRequest as exc:
        if "too big" in str(exc).lower():
            return cards.too_large(limit)
        log.warning("download refused: %s", exc)
        return cards.DOWNLOAD_FAILED
    except TelegramError as exc:
        log.warning("download failed: %s", exc)
        return cards.DOWNLOAD_FAILED


@contextlib.asynccontextmanager
async def chat_action(context: ContextTypes.DEFAULT_TYPE, chat_id: int, action: str
                      ) -> AsyncIterator[None]:
    """Show "sending photo…" until the block ends (Telegram clears it after ~5 s)."""
    async def keep_showing() -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await context.bot.send_chat_action(chat_id, action)
            await asyncio.sleep(4.5)

    task = asyncio.get_running_loop().create_task(keep_showing())
    try:
        yield
    finally:
        task.cancel()
