"""A small fake Telegram Bot API server (aiohttp, 127.0.0.1) for end-to-end bot tests.

The bot talks to it through python-telegram-bot's real HTTP stack (`base_url` /
`base_file_url`). Tests inject updates from many users (photos, albums, files, text, stickers,
button presses; see tests/fake_updates.py) and read back every call the bot made, with
uploaded files as bytes. It checks the limits the real API enforces that a bot can trip over
(tests/fake_api_rules.py): caption and text length, album size, callback data size, the HTML
subset, file size for getFile.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Optional

from aiohttp import web

from tests.fake_api_rules import (BOT_USER, DOWNLOAD_LIMIT, JSON_FIELDS, TOKEN, ApiError, Call,
                                  FakeFile, check_caption, check_markup, visible_html)
from tests.fake_updates import UserSide

__all__ = ["TOKEN", "ApiError", "Call", "FakeFile", "FakeTelegram", "visible_html"]


class FakeTelegram(UserSide):
    """Start with `await fake.start()`; point the bot at `fake.base_url` / `base_file_url`."""

    def __init__(self, token: str = TOKEN):
        super().__init__()
        self.token = token
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
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": BOT_USER, **content}

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
        check_markup(params)
        return self._message(params, text=text)

    async def _m_sendPhoto(self, params, files):
        check_caption(params.get("caption"), params.get("parse_mode"))
        check_markup(params)
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
            check_caption(item.get("caption"), item.get("parse_mode"))
            out.append(self._message(params, photo=[self._media(item["media"], files)],
                                     caption=item.get("caption", "")))
        return out

    async def _ok(self, params, files):
        return True

    _m_sendChatAction = _m_answerCallbackQuery = _m_setMyCommands = _m_deleteMyCommands = _ok
    _m_close = _m_logOut = _m_deleteMessage = _ok

    async def _m_deleteWebhook(self, params, files):
        self.webhook = {}
        return True

    async def _m_getWebhookInfo(self, params, files):
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self.updates)}

    async def _edit(self, params, **content):
        if "inline_message_id" in params:
            return True
        return {"message_id": int(params["message_id"]), "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"}, "from": BOT_USER,
                "edit_date": int(time.time()), **content}

    async def _m_editMessageText(self, params, files):
        check_markup(params)
        return await self._edit(params, text=params.get("text", ""))

    async def _m_editMessageCaption(self, params, files):
        check_caption(params.get("caption"), params.get("parse_mode"))
        return await self._edit(params, caption=params.get("caption", ""))

    async def _m_editMessageReplyMarkup(self, params, files):
        check_markup(params)
        return await self._edit(params)

    async def _m_editMessageMedia(self, params, files):
        return await self._edit(params, photo=[self._media(params["media"]["media"], files)])
