"""The product catalog: SQLite through sqlite-utils, at `$LOOKBOT_DATA_DIR/catalog.db`."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import numpy as np
import sqlite_utils

from .records import CATEGORIES, Product, catalog_gender

log = logging.getLogger(__name__)

PRODUCT_COLUMNS: dict[str, type] = {
    "id": str, "source": str, "product_id": str, "url": str, "brand": str, "title": str,
    "price": int, "mrp": int, "category": str, "article_type": str, "gender": str,
    "colour": str, "image_url": str, "image_path": str, "image_sha1": str,
    "first_seen": str, "last_seen": str, "active": int,
}
# One row when a product is first seen with a price, one per change of its price or MRP;
# product_id is products.id. The crawler writes it (scraper/store.py); the demo catalog has none.
PRICE_HISTORY_COLUMNS: dict[str, type] = {"product_id": str, "price": int, "mrp": int,
                                          "seen_at": str}
ROWS_CACHE_LIMIT = 200_000  # rows a thread's cache holds before it starts again (get_many_cached)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def sha1_file(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def larger_copy(image: Path | str) -> Path:
    """Where a larger copy of a product picture is kept when the catalog has one, for showing
    (the index embeds the picture itself): images/<folder>-large/<name>."""
    path = Path(image)
    return path.parent.with_name(path.parent.name + "-large") / path.name


class Catalog:
    """Products, their embeddings (one per image and model), and the record of crawls."""

    def __init__(self, path: Path | str, data_dir: Optional[Path] = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.path.parent
        self._local = threading.local()
        self.ensure_schema()

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection: sqlite3 connections must not cross threads, and the
        engine searches from a pool of worker threads."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite_utils.Database(self.path)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
        return db

    def ensure_schema(self) -> None:
        if "products" not in self.db.table_names():
            self.db["products"].create(PRODUCT_COLUMNS, pk="id", not_null={"title", "category"},
                                       defaults={"active": 1})
            self.db["products"].create_index(["category", "gender"])
        if "embeddings" not in self.db.table_names():
            self.db["embeddings"].create({"image_sha1": str, "model": str, "dim": int,
                                          "vector": bytes}, pk=("image_sha1", "model"))
        if "crawl_runs" not in self.db.table_names():
            self.db["crawl_runs"].create({"id": int, "started": str, "finished": str,
                                          "status": str, "urls": str, "pages": int,
                                          "products_new": int, "products_updated": int,
                                          "products_unchanged": int, "products_inactive": int,
                                          "images_fetched": int, "images_failed": int,
                                          "error": str}, pk="id")

    def ensure_price_history(self) -> None:
        """Create `price_history` (the crawler calls this; readers cope with its absence)."""
        if "price_history" not in self.db.table_names():
            self.db["price_history"].create(PRICE_HISTORY_COLUMNS, not_null={"product_id"})
            self.db["price_history"].create_index(["product_id", "seen_at"])

    def price_history(self, product_id: str) -> list[dict[str, Any]]:
        """(price, mrp, seen_at) rows of one product, oldest first; [] without a history."""
        if "price_history" not in self.db.table_names():
            return []
        return list(self.db.query("select price, mrp, seen_at from price_history where "
                                  "product_id = ? order by seen_at, rowid", [product_id]))

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file, so a copied or committed file is whole."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- products -----------------------------------------------------------------------
    def upsert_products(self, records: Iterable[dict[str, Any]]) -> None:
        """Insert or update products by id; a title that names kids sets the gender
        (`catalog_gender`): sources label kids' products Men, Women or Unisex too."""
        self.db["products"].upsert_all(
            ({**r, "gender": catalog_gender(r.get("gender"), r.get("title"))}
             if "title" in r and "gender" in r else r for r in records), pk="id", alter=True)

    def get(self, product_id: str) -> Optional[dict[str, Any]]:
        rows = list(self.db.query("select * from products where id = ?", [product_id]))
        return rows[0] if rows else None

    def get_many(self, product_ids: list[str], columns: Optional[Sequence[str]] = None
                 ) -> dict[str, dict[str, Any]]:
        """Rows by id (only `columns` and the id, when given), in one query per 500 ids; missing
        ids are simply absent."""
        out: dict[str, dict[str, Any]] = {}
        wanted = "*" if columns is None else ", ".join(["id", *(c for c in columns if c != "id")])
        for i in range(0, len(product_ids), 500):
            chunk = product_ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(f"select {wanted} from products where id in ({marks})",
                                     chunk):
                out[row["id"]] = row
        return out

    def get_many_cached(self, product_ids: list[str], columns: Sequence[str]
                        ) -> dict[str, dict[str, Any]]:
        """`get_many` of a few columns, from this thread's cache of rows already read; any change
        committed to the catalog since (by any connection: a crawl, `lookbot index`) empties it.
        A hinted search reads 400 candidates' labels, a third of its time from SQLite."""
        local = self._local
        db = self.db
        stamp = (db.execute("PRAGMA data_version").fetchone()[0], db.conn.total_changes,
                 tuple(columns))
        cache = getattr(local, "rows", None)
        if cache is None or local.rows_stamp != stamp or len(cache) > ROWS_CACHE_LIMIT:
            cache = local.rows = {}
            local.rows_stamp = stamp
        missing = [i for i in product_ids if i not in cache]
        if missing:
            found = self.get_many(missing, columns)
            for i in missing:
                cache[i] = found.get(i)  # None: not in the catalog
        return {i: cache[i] for i in product_ids if cache[i] is not None}

    def products(self, category: Optional[str] = None, active_only: bool = True
                 ) -> Iterator[dict[str, Any]]:
        where, params = [], []
        if category:
            where.append("category = ?")
            params.append(category)
        if active_only:
            where.append("active = 1")
        sql = "select * from products" + (" where " + " and ".join(where) if where else "")
        yield from self.db.query(sql + " order by id", params)

    def count_by_category(self, active_only: bool = True) -> dict[str, int]:
        sql = "select category, count(*) n from products"
        sql += " where active = 1" if active_only else ""
        counts = {c: 0 for c in CATEGORIES}
        for row in self.db.query(sql + " group by category"):
            counts[row["category"]] = row["n"]
        return counts

    def priced(self) -> tuple[int, int]:
        """(active products with a price, active products): the demo catalog has no prices."""
        row = next(self.db.query("select count(price) priced, count(*) n from products "
                                 "where active = 1"))
        return row["priced"], row["n"]

    def _image_path(self, row: dict[str, Any]) -> Optional[Path]:
        """The row's image path made absolute (image_path is relative to the data dir)."""
        image = row.get("image_path")
        if not image:
            return None
        p = Path(image)
        return p if p.is_absolute() else self.data_dir / p

    def to_product(self, row: dict[str, Any], distance: float = 0.0) -> Product:
        path = self._image_path(row)
        image = str(path) if path else row.get("image_url")
        return Product(id=row["id"], title=row["title"], brand=row.get("brand"),
                       price=row.get("price"), mrp=row.get("mrp"), url=row["url"], image=image,
                       category=row["category"], article_type=row.get("article_type"),
                       gender=row.get("gender"), colour=row.get("colour"), distance=distance)

    def image_file(self, row: dict[str, Any]) -> Optional[Path]:
        """The row's image file, if it is on disk."""
        p = self._image_path(row)
        return p if p is not None and p.exists() else None

    # --- embeddings ---------------------------------------------------------------------
    def get_embeddings(self, sha1s: list[str], model: str) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(sha1s), 500):
            chunk = sha1s[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(
                    f"select image_sha1, vector from embeddings where model = ? "
                    f"and image_sha1 in ({marks})", [model, *chunk]):
                out[row["image_sha1"]] = np.frombuffer(row["vector"], dtype=np.float16
                                                       ).astype(np.float32)
        return out

    def put_embeddings(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        self.db["embeddings"].upsert_all(
            ({"image_sha1": k, "model": model, "dim": int(v.shape[0]),
              "vector": v.astype(np.float16).tobytes()} for k, v in vectors.items()),
            pk=("image_sha1", "model"))

    def prune_embeddings(self, keep_models: list[str]) -> int:
        """Drop vectors of embeddings no index uses any more; returns how many went."""
        marks = ",".join("?" * len(keep_models))
        cursor = self.db.execute(f"delete from embeddings where model not in ({marks})",
                                 keep_models)
        self.db.conn.commit()
        return cursor.rowcount

    # --- crawl runs ---------------------------------------------------------------------
    def start_run(self, urls: list[str]) -> int:
        table = self.db["crawl_runs"]
        table.insert({"started": now_iso(), "status": "running", "urls": "\n".join(urls)})
        return table.last_pk

    def finish_run(self, run_id: int, status: str, **counts: Any) -> None:
        self.db["crawl_runs"].update(run_id, {"finished": now_iso(), "status": status, **counts})

    def last_run(self, status: Optional[str] = None) -> Optional[dict[str, Any]]:
        sql = "select * from crawl_runs"
        params: list[Any] = []
        if status:
            sql += " where status = ?"
            params.append(status)
        rows = list(self.db.query(sql + " order by id desc limit 1", params))
        return rows[0] if rows else None
