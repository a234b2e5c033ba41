"""The photos the bot has taken and not yet answered, kept in the bot's SQLite so that a crash
loses none: a photo is written when it is taken, deleted once its answer is sent, and what a
previous run left is answered first at the next start."""
from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Iterable, Optional

SCHEMA = """create table if not exists pending_photos (
    chat_id integer not null, message_id integer not null, sender integer not null,
    user_id integer, chat_type text not null, file_id text not null, file_size integer,
    album_id text, sent_at text not null, primary key (chat_id, message_id))"""


@dataclass
class PendingPhoto:
    """One taken photo, with what is needed to answer it after a restart."""

    chat_id: int
    message_id: int  # also its place in the sender's queue: answered lowest first
    sender: int  # whose queue it is in (the chat's id for an anonymous group admin)
    user_id: Optional[int]  # None for an anonymous group admin
    chat_type: str
    file_id: str  # Telegram file ids stay valid, so the photo is downloaded again from this
    file_size: Optional[int]
    album_id: Optional[str]  # the media_group_id, for the logs
    sent_at: str  # ISO time the user sent it

    @property
    def key(self) -> tuple[int, int]:
        return self.chat_id, self.message_id

    @property
    def sent(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.sent_at)


COLUMNS = ", ".join(f.name for f in fields(PendingPhoto))


class PhotoQueueStore:
    """The `pending_photos` table. Called on the event loop: each call is one small statement,
    with WAL and synchronous=NORMAL so a commit survives a killed process without an fsync."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(SCHEMA)

    def add(self, photos: Iterable[PendingPhoto]) -> None:
        """Record taken photos, in one transaction; a photo already recorded stays as it was."""
        rows = [astuple(p) for p in photos]
        if rows:
            with self.conn:  # commits, or rolls back on an error
                self.conn.execute("begin")
                self.conn.executemany(f"insert or ignore into pending_photos ({COLUMNS}) values "
                                      f"({', '.join('?' * len(fields(PendingPhoto)))})", rows)

    def recorded(self, keys: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
        """Which of these (chat, message) photos are already waiting (Telegram may deliver an
        update again after a crash)."""
        keys = list(keys)
        if not keys:
            return set()
        where = " or ".join(["(chat_id = ? and message_id = ?)"] * len(keys))
        rows = self.conn.execute(f"select chat_id, message_id from pending_photos where {where}",
                                 [v for key in keys for v in key])
        return {(c, m) for c, m in rows}

    def remove(self, chat_id: int, message_id: int) -> None:
        """The photo has its answer."""
        self.conn.execute("delete from pending_photos where chat_id = ? and message_id = ?",
                          [chat_id, message_id])

    def left(self) -> list[PendingPhoto]:
        """Every photo still waiting, by sender, each sender's in the order they were sent."""
        rows = self.conn.execute(f"select {COLUMNS} from pending_photos "
                                 "order by sender, message_id, chat_id")
        return [PendingPhoto(*row) for row in rows]

    def count(self) -> int:
        return self.conn.execute("select count(*) from pending_photos").fetchone()[0]

    def close(self) -> None:
        self.conn.close()
