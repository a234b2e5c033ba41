"""Per-user search preferences and the bot's counters, in SQLite so they survive a restart."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import sqlite_utils

from core.config import Config
from core.index import GENDER_ALIASES
from core.records import SearchOptions

GENDERS = ("men", "women", "any", "kids", "auto")  # auto: the wearer's, inferred from each photo


@dataclass
class UserPrefs:
    """What one shopper asked for with /gender and /budget."""

    gender: str = "auto"
    budget: Optional[int] = None  # maximum price in rupees

    def options(self, k: int) -> SearchOptions:
        """A new photo's search (its later pages keep what it searched with: bot/handlers.py)."""
        return SearchOptions(gender=self.gender, k=k, budget=self.budget)

    def describe(self) -> str:
        budget = f"up to ₹{self.budget:,}" if self.budget is not None else "no limit"
        gender = "from the photo (auto)" if self.gender == "auto" else self.gender
        return f"Gender: {gender}\nBudget: {budget}"


def parse_gender(text: str) -> Optional[str]:
    """"men", "women", "any", "kids" or "auto" from what the user typed, or None."""
    word = text.strip().lower()
    word = GENDER_ALIASES.get(word, word)
    return word if word in GENDERS else None


def parse_budget(text: str) -> tuple[bool, Optional[int]]:
    """(valid, rupees) from "2000", "₹2,000", "Rs 999", "1 500", "2k rupees" or "off" (rupees
    None): everything the user typed after /budget, spaces and a currency word included."""
    word = re.sub(r"(?<=\d) (?=\d{3}\b)", "", text.strip().lower())  # "1 500": a thousands space
    word = re.sub(r",|₹|\b(?:rs\.?|inr|rupees?)(?=[\d\s]|$)", "", word).strip()
    if word in ("off", "none", "no"):
        return True, None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(k?)", word)
    if not match:
        return False, None
    value = float(match.group(1)) * (1000 if match.group(2) else 1)
    return (True, int(value)) if 0 < value < 10_000_000 else (False, None)


def db_path(config: Config) -> Path:
    return Path(config.bot_db).expanduser() if config.bot_db else config.data_dir / "bot.db"


def state_path(config: Config) -> Path:
    """Where PicklePersistence keeps chat_data (the "More like this" results), beside the db."""
    path = db_path(config)
    return path.with_name(path.stem + "-state.pickle")


class Prefs:
    """The bot's own small database: `users` (gender, budget) and `counters`."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        if "users" not in self.db.table_names():
            self.db["users"].create({"user_id": int, "gender": str, "budget": int,
                                     "updated": str}, pk="user_id")
        if "counters" not in self.db.table_names():
            self.db["counters"].create({"name": str, "value": int}, pk="name")

    def get(self, user_id: int) -> UserPrefs:
        rows = list(self.db.query("select gender, budget from users where user_id = ?",
                                  [user_id]))
        if not rows:
            return UserPrefs()
        return UserPrefs(gender=rows[0]["gender"] or "auto", budget=rows[0]["budget"])

    def set_gender(self, user_id: int, gender: str) -> UserPrefs:
        return self._update(user_id, gender=gender)

    def set_budget(self, user_id: int, budget: Optional[int]) -> UserPrefs:
        return self._update(user_id, budget=budget)

    def _update(self, user_id: int, **values) -> UserPrefs:
        current = self.get(user_id)
        record = {"user_id": user_id, "gender": current.gender, "budget": current.budget,
                  **values, "updated": dt.datetime.now(dt.timezone.utc).isoformat()}
        with self.db.conn:
            self.db["users"].upsert(record, pk="user_id")
        return self.get(user_id)

    def count(self, name: str, by: int = 1) -> None:
        with self.db.conn:
            self.db.execute("insert into counters (name, value) values (?, ?) on conflict(name) "
                            "do update set value = value + excluded.value", [name, by])

    def counter(self, name: str) -> int:
        rows = list(self.db.query("select value from counters where name = ?", [name]))
        return rows[0]["value"] if rows else 0

    def users(self) -> int:
        return self.db["users"].count

    def close(self) -> None:
        self.db.close()
