"""The test's side of the fake Bot API: updates from many users (messages, photos, albums, files,
button presses) and a read-back of every call the bot made. `FakeTelegram` builds on it."""
from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, Callable, Optional, Sequence

from aiohttp import ClientConnectionError, ClientSession

from tests.fake_api_rules import ApiError, Call, FakeFile


class UserSide:
    """Injects updates as Telegram would deliver them, and reads back what the bot sent."""

    def __init__(self) -> None:
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
        self._album_ids = itertools.count(1)
        self._changed = asyncio.Condition()

    # --- updates from users ------------------------------------------------------------------
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

    def send(self, user_id: int, chat_id: Optional[int] = None, **content: Any) -> dict:
        """A message from a user to the bot; in their private chat (chat id == user id) unless
        `chat_id` names a group. Returns the message."""
        chat = ({"id": user_id, "type": "private", "first_name": f"user{user_id}"}
                if chat_id is None or chat_id == user_id
                else {"id": chat_id, "type": "group", "title": f"group{chat_id}"})
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": chat, "from": self.user(user_id), **content}
        self._push({"message": message})
        return message

    def send_text(self, user_id: int, text: str) -> dict:
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] \
            if text.startswith("/") else []
        return self.send(user_id, text=text, **({"entities": entities} if entities else {}))

    def photo_sizes(self, data: bytes, size: Optional[int] = None, width: int = 600,
                    height: int = 800) -> list[dict]:
        """A photo as Telegram lists it: a thumbnail, then the full size (largest last)."""
        return [{**self.add_file(data[:2000], None), "width": 90, "height": 120},
                {**self.add_file(data, size), "width": width, "height": height}]

    def edit_text(self, message: dict, text: str) -> dict:
        """The sender edits an earlier text message: an edited_message update."""
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] \
            if text.startswith("/") else []
        edited = {**message, "text": text, "edit_date": int(time.time()),
                  **({"entities": entities} if entities else {})}
        self._push({"edited_message": edited})
        return edited

    def send_photo(self, user_id: int, data: bytes, size: Optional[int] = None,
                   width: int = 600, height: int = 800, **extra: Any) -> dict:
        return self.send(user_id, photo=self.photo_sizes(data, size, width, height), **extra)

    def send_album(self, user_id: int, photos: Sequence[bytes], caption: str = "") -> list[dict]:
        """Several photos sent together: one message each, sharing a media_group_id, the
        caption (if any) on the first, as Telegram delivers an album."""
        group = f"album{next(self._album_ids)}"
        return [self.send_photo(user_id, data, media_group_id=group,
                                **({"caption": caption} if caption and i == 0 else {}))
                for i, data in enumerate(photos)]

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

    # --- faults ------------------------------------------------------------------------------
    def fail_next(self, method: str, code: int, description: str,
                  parameters: Optional[dict] = None) -> None:
        """Make the next call of `method` fail, e.g. 429 with {"retry_after": 1}."""
        self.faults.setdefault(method, []).append(ApiError(code, description, parameters))

    def stall_next(self, method: str, seconds: float) -> None:
        """Make the next call of `method` answer only after `seconds` (to trip timeouts)."""
        self.stalls.setdefault(method, []).append(seconds)

    # --- delivery ----------------------------------------------------------------------------
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

    # --- what the bot sent -------------------------------------------------------------------
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
