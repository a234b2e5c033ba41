"""Saved items and alert settings, in the bot's SQLite (beside bot/prefs.py's tables).

Each saved item keeps a snapshot of the product (title, link, picture) so it stays in /saved
after the product leaves the catalog, and the state its alerts compare against: `ref_price`
(the price when saved, or at the last price-drop alert) and `listed` (at the last refresh).
Changes found after a refresh wait in `alert_queue` until they may be sent.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import sqlite_utils
from telegram import InlineKeyboardButton

SAVED_LIMIT = 100  # per user; /saved stays a handful of messages
SAVE_PREFIX, REMOVE_PREFIX = "save:", "unsave:"  # callback data of the ♥ and ✕ buttons


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class SavedItem:
    """One product a user kept with ♥, as it was when saved, plus its alert state."""

    user_id: int
    product_id: str
    title: str
    url: str
    brand: Optional[str] = None
    image: Optional[str] = None  # local path or remote URL, as the catalog gave it
    category: str = ""
    saved_at: str = ""
    ref_price: Optional[int] = None
    listed: bool = True


@dataclass
class Change:
    """Something an alert tells: a price drop, or a saved item back in stock or gone."""

    user_id: int
    product_id: str
    kind: str  # drop | back | gone
    title: str
    url: str
    old_price: Optional[int] = None
    new_price: Optional[int] = None
    created: str = field(default_factory=lambda: utc_now().isoformat())


class SavedItems:
    """Tables `saved`, `alert_users` (alerts on/off, last alert sent) and `alert_queue`."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        names = set(self.db.table_names())
        if "saved" not in names:
            self.db["saved"].create({"user_id": int, "product_id": str, "title": str,
                                     "url": str, "brand": str, "image": str, "category": str,
                                     "saved_at": str, "ref_price": int, "listed": int},
                                    pk=("user_id", "product_id"))
        if "alert_users" not in names:
            self.db["alert_users"].create({"user_id": int, "alerts_on": int, "last_alert": str},
                                          pk="user_id")
        if "alert_queue" not in names:
            self.db["alert_queue"].create({"id": int, "user_id": int, "change": str}, pk="id")
            self.db["alert_queue"].create_index(["user_id"])

    # --- saved items --------------------------------------------------------------------
    def save(self, user_id: int, row: dict[str, Any], image: Optional[str]) -> bool:
        """Keep a catalog row for the user; False when it was saved already."""
        if self.has(user_id, row["id"]):
            return False
        item = SavedItem(user_id, row["id"], row["title"], row["url"], row.get("brand"), image,
                         row.get("category") or "", utc_now().isoformat(timespec="seconds"),
                         row.get("price"), bool(row.get("active", 1)))
        with self.db.conn:
            self.db["saved"].insert(_row(item))
        return True

    def has(self, user_id: int, product_id: str) -> bool:
        return bool(list(self.db.query("select 1 from saved where user_id = ? and "
                                       "product_id = ?", [user_id, product_id])))

    def count(self, user_id: int) -> int:
        return next(self.db.query("select count(*) n from saved where user_id = ?",
                                  [user_id]))["n"]

    def remove(self, user_id: int, product_id: str) -> Optional[SavedItem]:
        """Forget one saved item; None when the user had no such item."""
        found = [i for i in self.items(user_id) if i.product_id == product_id]
        if found:
            with self.db.conn:
                self.db.execute("delete from saved where user_id = ? and product_id = ?",
                                [user_id, product_id])
        return found[0] if found else None

    def items(self, user_id: Optional[int] = None) -> list[SavedItem]:
        """One user's saved items, oldest first (everyone's when user_id is None)."""
        sql, params = "select * from saved", []
        if user_id is not None:
            sql, params = sql + " where user_id = ?", [user_id]
        return [_item(r) for r in self.db.query(sql + " order by saved_at, rowid", params)]

    # --- alerts -------------------------------------------------------------------------
    def alerts_on(self, user_id: int) -> bool:
        rows = list(self.db.query("select alerts_on from alert_users where user_id = ?",
                                  [user_id]))
        return bool(rows[0]["alerts_on"]) if rows and rows[0]["alerts_on"] is not None else True

    def set_alerts(self, user_id: int, on: bool) -> None:
        with self.db.conn:
            self.db.execute("insert into alert_users (user_id, alerts_on) values (?, ?) on "
                            "conflict(user_id) do update set alerts_on = excluded.alerts_on",
                            [user_id, int(on)])
            if not on:  # what was waiting is not sent either
                self.db.execute("delete from alert_queue where user_id = ?", [user_id])

    def last_alert(self, user_id: int) -> Optional[dt.datetime]:
        rows = list(self.db.query("select last_alert from alert_users where user_id = ?",
                                  [user_id]))
        stamp = rows[0]["last_alert"] if rows else None
        return dt.datetime.fromisoformat(stamp) if stamp else None

    def record_changes(self, updates: Iterable[SavedItem], changes: Iterable[Change]) -> None:
        """New alert states and the changes to tell, in one transaction."""
        with self.db.conn:
            for item in updates:
                self.db.execute("update saved set ref_price = ?, listed = ? where user_id = ? "
                                "and product_id = ?", [item.ref_price, int(item.listed),
                                                       item.user_id, item.product_id])
            for change in changes:
                if self.alerts_on(change.user_id):
                    self.db.execute("insert into alert_queue (user_id, change) values (?, ?)",
                                    [change.user_id, json.dumps(change.__dict__)])

    def queued(self) -> dict[int, list[Change]]:
        """Waiting changes by user, oldest first."""
        out: dict[int, list[Change]] = {}
        for r in self.db.query("select user_id, change from alert_queue order by id"):
            out.setdefault(r["user_id"], []).append(Change(**json.loads(r["change"])))
        return out

    def sent(self, user_id: int, when: Optional[dt.datetime]) -> None:
        """The user's waiting changes are done with; `when` an alert went out (None: dropped)."""
        with self.db.conn:
            self.db.execute("delete from alert_queue where user_id = ?", [user_id])
            if when is not None:
                self.db.execute("insert into alert_users (user_id, alerts_on, last_alert) "
                                "values (?, 1, ?) on conflict(user_id) do update set "
                                "last_alert = excluded.last_alert", [user_id, when.isoformat()])

    def close(self) -> None:
        self.db.close()


def _row(item: SavedItem) -> dict[str, Any]:
    return {**item.__dict__, "listed": int(item.listed)}


def _item(row: dict[str, Any]) -> SavedItem:
    return SavedItem(**{**row, "listed": bool(row["listed"])})


def save_data(product_id: str) -> Optional[str]:
    """The ♥ button's callback data, or None when the id would pass Telegram's 64 bytes."""
    data = SAVE_PREFIX + product_id
    return data if len(data.encode()) <= 64 else None


def save_buttons(products: Sequence[Any], first: int = 1, per_row: int = 5
                 ) -> list[list[InlineKeyboardButton]]:
    """Rows of "♥ n" buttons, one per product of a card: a tap saves product n."""
    hearts = [InlineKeyboardButton(f"♥ {i}", callback_data=save_data(p.id))
              for i, p in enumerate(products, start=first) if save_data(p.id)]
    return [hearts[i:i + per_row] for i in range(0, len(hearts), per_row)]
