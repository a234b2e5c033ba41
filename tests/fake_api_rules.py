"""The fake Bot API's records and the limits it enforces as Telegram does: what one call looks
like (`Call`), API errors, stored files, Telegram's HTML subset and inline keyboards."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Optional

TOKEN = "123456:FAKE-token-for-tests"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "lookbot", "username": "lookbot_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False,
            "supports_inline_queries": False}
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the real Bot API refuses getFile above 20 MB
JSON_FIELDS = {"reply_markup", "reply_parameters", "media", "commands", "allowed_updates",
               "entities", "caption_entities", "link_preview_options", "scope"}
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
             "tg-spoiler", "span", "blockquote", "tg-emoji"}


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: Optional[dict] = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


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


def check_markup(params: dict) -> None:
    """Inline keyboards: callback data up to 64 bytes, URL buttons with a real scheme."""
    for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if len(button.get("callback_data", "").encode()) > 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not url.startswith(("http://", "https://", "tg://")):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")


def check_caption(text: Optional[str], parse_mode: Optional[str] = None) -> None:
    """Telegram's 1024 characters count the caption after its entities are parsed (the markup
    gone), in UTF-16 code units."""
    shown = visible_html(text or "") if parse_mode == "HTML" else (text or "")
    if len(shown.encode("utf-16-le")) // 2 > 1024:
        raise ApiError(400, "Bad Request: message caption is too long")


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
