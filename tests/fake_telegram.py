"""A small fake Telegram Bot API server (aiohttp, 127.0.0.1) for end-to-end bot tests.

The bot talks to it through python-telegram-bot's real HTTP stack (`base_url` /
`base_file_url`). Tests inject updates (photos, files, text, stickers, button presses) and read
back every call the bot made, with uploaded files as bytes. It checks the limits the real API
enforces that a bot can trip over: caption and text length, album size, callback data size,
file size for getFile.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Callable, Optional

from aiohttp import ClientConnectionError, ClientSession, web

TOKEN = "123456:FAKE-token-for-tests"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "lookbot", "username": "lookbot_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False,
            "supports_inline_queries": False}
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the real Bot API refuses getFile above 20 MB
JSON_FIELDS = {"reply_markup", "reply_parameters", "media", "commands", "allowed_updates",
               "entities", "caption_entities", "link_preview_options", "scope"}


HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
             "tg-spoiler", "span", "blockquote", "tg-emoji"}


class _HtmlCheck(HTMLParser):
    """Telegram's HTML subset: known tags, properly nested; anything else is refused."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.out: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in HTML_TAGS:
            raise ApiError(400, f"Bad Request: can't parse entities: unsupported start tag "
                                f"\"{tag}\"")
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            raise ApiError(400, f"Bad Request: can't parse entities: unmatched end tag \"{tag}\"")

    def handle_data(self, data):
        self.out.append(data)


def visible_html(text: str) -> str:
    """What Telegram shows for an HTML-formatted text; ApiError when it would refuse it."""
    parser = _HtmlCheck()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise ApiError(400, f"Bad Request: can't parse entities: unclosed <{parser.stack[-1]}>")
    return "".join(parser.out)


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    result: Any = None
    at: float = field(default_factory=time.monotonic)  # when the server received it

    @property
    def chat_id(self) -> Optional[int]:
        chat = self.params.get("chat_id")
        return int(chat) if chat is not None else None

    @property
    def reply_to(self) -> Optional[int]:
        rp = self.params.get("reply_parameters") or {}
        return rp.get("message_id") if isinstance(rp, dict) else None

    @property
    def raw(self) -> str:
        """The text or caption as sent, markup included."""
        return self.params.get("text") or self.params.get("caption") or ""

    @property
    def text(self) -> str:
        """The text or caption as the user sees it (HTML markup removed)."""
        if self.params.get("parse_mode") == "HTML":
            return visible_html(self.raw)
        return self.raw

    def photo_bytes(self) -> Optional[bytes]:
        return self.files.get("photo")

    def buttons(self) -> list[dict]:
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class FakeFile:
    data: bytes
    size: int  # what Telegram reports; may exceed len(data) to simulate huge files


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: Optional[dict] = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class FakeTelegram:
    """Start with `await fake.start()`; point the bot at `fake.base_url` / `base_file_url`."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict] = []
        self.files: dict[str, FakeFile] = {}
        self.faults: dict[str, list[ApiError]] = {}
        self.stalls: dict[str, list[float]] = {}
        self.webhook: dict[str, str] = {}  # url and secret_token once setWebhook was called
        self.webhook_statuses: list[int] = []
        self._tasks: set[asyncio.Task] = set()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: Optional[web.AppRunner] = None
        self.port = 0

    # --- server lifecycle -------------------------------------------------------------------
    async def start(self) -> "FakeTelegram":
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # --- the test's side: inject updates -----------------------------------------------------
    @staticmethod
    def user(user_id: int) -> dict:
        return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}

    def add_file(self, data: bytes, size: Optional[int] = None, report_size: bool = True) -> dict:
        """Store a file; `size` is what Telegram says it weighs (default: its length). Updates
        may leave the size out (`report_size=False`), as Telegram sometimes does."""
        n = next(self._file_ids)
        file_id = f"file{n}"
        self.files[file_id] = FakeFile(data, size if size is not None else len(data))
        out = {"file_id": file_id, "file_unique_id": f"u{n}"}
        return {**out, "file_size": self.files[file_id].size} if report_size else out

    def send(self, user_id: int, **content: Any) -> dict:
        """A message from a user to the bot, in their private chat; returns the message."""
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": {"id": user_id, "type": "private", "first_name": f"user{user_id}"},
                   "from": self.user(user_id), **content}
        self._push({"message": message})
        return message

    def send_text(self, user_id: int, text: str) -> dict:
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] \
            if text.startswith("/") else []
        return self.send(user_id, text=text, **({"entities": entities} if entities else {}))

    def send_photo(self, user_id: int, data: bytes, size: Optional[int] = None,
                   width: int = 600, height: int = 800) -> dict:
        sizes = [{**self.add_file(data[:2000], None), "width": 90, "height": 120},
                 {**self.add_file(data, size), "width": width, "height": height}]
        return self.send(user_id, photo=sizes)

    def send_document(self, user_id: int, data: bytes, mime_type: str, file_name: str,
                      size: Optional[int] = None, report_size: bool = True) -> dict:
        return self.send(user_id, document={**self.add_file(data, size, report_size),
                                            "mime_type": mime_type, "file_name": file_name})

    def press(self, user_id: int, message: dict, data: str) -> str:
        """The user taps an inline button with this callback data under `message`."""
        query_id = f"cq{next(self._update_ids)}"
        self._push({"callback_query": {"id": query_id, "from": self.user(user_id),
                                       "chat_instance": f"ci{user_id}", "data": data,
                                       "message": message}})
        return query_id

    def fail_next(self, method: str, code: int, description: str,
                  parameters: Optional[dict] = None) -> None:
        """Make the next call of `method` fail, e.g. 429 with {"retry_after": 1}."""
        self.faults.setdefault(method, []).append(ApiError(code, description, parameters))

    def stall_next(self, method: str, seconds: float) -> None:
        """Make the next call of `method` answer only after `seconds` (to trip timeouts)."""
        self.stalls.setdefault(method, []).append(seconds)

    def _push(self, update: dict) -> None:
        update = {"update_id": next(self._update_ids), **update}
        if self.webhook:
            self._tasks.add(asyncio.get_running_loop().create_task(self._deliver(update)))
            return
        self.updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())

    async def _deliver(self, update: dict) -> None:
        """Webhook mode: POST the update to the bot, as Telegram does, with the secret."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook.get("secret_token", "")}
        async with ClientSession() as session:
            for attempt in range(40):  # like Telegram, retry while the bot's server isn't up
                try:
                    async with session.post(self.webhook["url"], json=update,
                                            headers=headers) as resp:
                        self.webhook_statuses.append(resp.status)
                        return
                except ClientConnectionError:
                    await asyncio.sleep(0.25)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- the test's side: read what the bot sent ---------------------------------------------
    def sent(self, chat_id: Optional[int] = None, method: Optional[str] = None) -> list[Call]:
        return [c for c in self.calls if (chat_id is None or c.chat_id == chat_id)
                and (method is None or c.method == method)]

    def replies_to(self, message: dict) -> list[Call]:
        return [c for c in self.sent(message["chat"]["id"]) if c.reply_to == message["message_id"]]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Wait until `predicate()` is truthy (checked after every call the bot makes, and
        every 0.1 s for state that changes without a call)."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met in {timeout} s; bot made "
                                       f"{len(self.calls)} calls")
                try:
                    await asyncio.wait_for(self._changed.wait(), min(left, 0.1))
                except asyncio.TimeoutError:
                    pass

    # --- the bot's side: the API -------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files = await self._params(request)
        call = Call(method, params, files)
        if self.stalls.get(method):
            await asyncio.sleep(self.stalls[method].pop(0))
        try:
            faults = self.faults.get(method)
            if faults:
                raise faults.pop(0)
            if params.get("parse_mode") == "HTML":
                visible_html(params.get("text") or params.get("caption") or "")
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = await handler(params, files)
        except ApiError as e:
            body = {"ok": False, "error_code": e.code, "description": e.description}
            if e.parameters:
                body["parameters"] = e.parameters
            return web.json_response(body, status=e.code)
        if method != "getUpdates":
            call.result = result
            self.calls.append(call)
            await self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            return await request.json(), files
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.filename is not None:
                    files[part.name] = bytes(await part.read())
                else:
                    params[part.name] = await part.text()
        else:
            params = dict(await request.post())
        for key, value in list(params.items()):
            if key in JSON_FIELDS and isinstance(value, str):
                params[key] = json.loads(value)
        return params, files

    def _message(self, params: dict, **content: Any) -> dict:
        chat_id = int(params["chat_id"])
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"}, "from": BOT_USER, **content}

    @staticmethod
    def _check_markup(params: dict) -> None:
        for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if len(button.get("callback_data", "").encode()) > 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not url.startswith(("http://", "https://", "tg://")):
                    raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")

    def _media(self, value: str, files: dict[str, bytes]) -> dict:
        if value.startswith("attach://"):
            name = value[len("attach://"):]
            if name not in files:
                raise ApiError(400, f"Bad Request: file {name} not found in the request")
            return {"file_id": f"sent-{name}", "file_unique_id": name, "width": 100,
                    "height": 100, "file_size": len(files[name])}
        return {"file_id": value, "file_unique_id": value[-16:], "width": 100, "height": 100}

    async def _m_getMe(self, params, files):
        return BOT_USER

    async def _m_setWebhook(self, params, files):
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token", "")}
        return True

    async def _m_getUpdates(self, params, files):
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active;"
                                " use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates and timeout > 0:
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.updates)),
                                           timeout)
                except asyncio.TimeoutError:
                    pass
        return self.updates[:limit]

    async def _m_getFile(self, params, files):
        file_id = params["file_id"]
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored.size > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": stored.size,
                "file_path": f"photos/{file_id}.jpg"}

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].rsplit("/", 1)[-1].split(".")[0]
        stored = self.files.get(file_id)
        if stored is None:
            return web.Response(status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _m_sendMessage(self, params, files):
        text = params.get("text") or ""
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        self._check_markup(params)
        return self._message(params, text=text)

    async def _m_sendPhoto(self, params, files):
        if len(params.get("caption") or "") > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        self._check_markup(params)
        if "photo" in files:
            photo = {"file_id": "sent-photo", "file_unique_id": "sp", "width": 100,
                     "height": 100, "file_size": len(files["photo"])}
        elif params.get("photo"):
            photo = self._media(params["photo"], files)
        else:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        return self._message(params, photo=[photo], caption=params.get("caption", ""))

    async def _m_sendDocument(self, params, files):
        return self._message(params, document={"file_id": "sent-doc", "file_unique_id": "sd"})

    async def _m_sendMediaGroup(self, params, files):
        media = params.get("media") or []
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: media group must include 2-10 items")
        out = []
        for item in media:
            if len(item.get("caption") or "") > 1024:
                raise ApiError(400, "Bad Request: message caption is too long")
            out.append(self._message(params, photo=[self._media(item["media"], files)],
                                     caption=item.get("caption", "")))
        return out

    async def _m_sendChatAction(self, params, files):
        return True

    async def _m_answerCallbackQuery(self, params, files):
        return True

    async def _m_setMyCommands(self, params, files):
        return True

    async def _m_deleteMyCommands(self, params, files):
        return True

    async def _m_deleteWebhook(self, params, files):
        self.webhook = {}
        return True

    async def _m_getWebhookInfo(self, params, files):
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self.updates)}

    async def _m_close(self, params, files):
        return True

    async def _m_logOut(self, params, files):
        return True

    async def _edit(self, params, **content):
        if "inline_message_id" in params:
            return True
        return {"message_id": int(params["message_id"]), "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"}, "from": BOT_USER,
                "edit_date": int(time.time()), **content}

    async def _m_editMessageText(self, params, files):
        self._check_markup(params)
        return await self._edit(params, text=params.get("text", ""))

    async def _m_editMessageCaption(self, params, files):
        if len(params.get("caption") or "") > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        return await self._edit(params, caption=params.get("caption", ""))

    async def _m_editMessageReplyMarkup(self, params, files):
        self._check_markup(params)
        return await self._edit(params)

    async def _m_editMessageMedia(self, params, files):
        return await self._edit(params, photo=[self._media(params["media"]["media"], files)])

    async def _m_deleteMessage(self, params, files):
        return True
