"""Writing crawl results into the catalog: one transaction per completed listing."""
from __future__ import annotations

import logging
import sqlite3
from typing import Any, Iterable, Optional

from core.catalog import PRODUCT_COLUMNS, Catalog

log = logging.getLogger(__name__)

# Columns the crawler adds to `products` (additive; NULL for rows it never wrote).
EXTRA_COLUMNS: dict[str, type] = {"listing": str, "image_error": str}
COLUMNS: list[str] = list(PRODUCT_COLUMNS) + list(EXTRA_COLUMNS)
# Fields whose change makes a product count as "updated".
COMPARED = ("url", "brand", "title", "price", "mrp", "category", "article_type", "gender",
            "colour", "image_url", "image_path", "active")


def ensure_columns(catalog: Catalog) -> None:
    catalog.ensure_price_history()
    table = catalog.db["products"]
    have = set(table.columns_dict)
    for name, kind in EXTRA_COLUMNS.items():
        if name not in have:
            table.add_column(name, kind)


def classify(record: dict[str, Any], old: Optional[dict[str, Any]]) -> str:
    """'new', 'updated' or 'unchanged' for a record about to be written over `old`."""
    if old is None:
        return "new"
    return "updated" if any(record.get(k) != old.get(k) for k in COMPARED) else "unchanged"


def latest_prices(conn: sqlite3.Connection, ids: list[str]) -> dict[str, tuple]:
    """The last (price, mrp) price_history holds for each of `ids`."""
    out: dict[str, tuple] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for pid, price, mrp in conn.execute(
                f"select product_id, price, mrp from price_history where rowid in (select "
                f"max(rowid) from price_history where product_id in ({marks}) "
                f"group by product_id)", chunk):
            out[pid] = (price, mrp)
    return out


def record_prices(conn: sqlite3.Connection, records: list[dict[str, Any]], now: str) -> int:
    """Append a price_history row for each record first seen or whose price or MRP changed;
    a record without a price (nothing read) adds none. Returns how many rows were added."""
    priced = [r for r in records if r.get("price") is not None]
    latest = latest_prices(conn, [r["id"] for r in priced])
    rows = [(r["id"], r["price"], r.get("mrp"), now) for r in priced
            if latest.get(r["id"]) != (r["price"], r.get("mrp"))]
    conn.executemany("insert into price_history (product_id, price, mrp, seen_at) "
                     "values (?, ?, ?, ?)", rows)
    return len(rows)


def commit_listing(catalog: Catalog, records: Iterable[dict[str, Any]], listing: str,
                   deactivate_unseen: bool, now: str) -> int:
    """Upsert `records`, append their price changes to price_history and, when the listing
    was crawled completely, mark the listing's products that were not seen `active = 0`, all
    in ONE transaction.

    A process killed before the commit leaves the catalog exactly as it was. Rows are never
    deleted. Returns how many products were marked inactive.
    """
    records = list(records)
    cols = [c for c in COLUMNS]
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("id", "first_seen"))
    sql = (f"insert into products ({', '.join(cols)}) values ({', '.join('?' * len(cols))}) "
           f"on conflict(id) do update set {updates}")
    seen = {r["id"] for r in records}
    conn = catalog.db.conn
    with conn:  # commits on success, rolls back on any exception
        conn.executemany(sql, [[r.get(c) for c in cols] for r in records])
        record_prices(conn, records, now)
        gone: list[str] = []
        if deactivate_unseen:
            rows = conn.execute("select id from products where listing = ? and active = 1 "
                                "and source = 'myntra'", [listing]).fetchall()
            gone = [r[0] for r in rows if r[0] not in seen]
            conn.executemany("update products set active = 0 where id = ?", [[g] for g in gone])
    if gone:
        log.info("%s: %d products no longer listed, marked inactive", listing, len(gone))
    return len(gone)
