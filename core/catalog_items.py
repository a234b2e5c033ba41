"""Labelled catalog images as records: what the embedding head learns from and `lookbot eval` measures.

One `CatalogItem` per product image with its labels, read either from a products.csv (the shared
catalog, its hi-res extras) or from the engine's own catalog database.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .records import CATEGORIES


@dataclass
class CatalogItem:
    id: str  # products.csv id, without any "demo:" prefix
    category: str
    article_type: str
    colour: str
    gender: str
    file: Path
    sha1: Optional[str] = None  # image hash, the key of stored backbone features


def bare_id(pid: Any) -> str:
    return str(pid).split(":")[-1]


def _id_key(item: CatalogItem) -> tuple[int, Any]:
    return (0, int(item.id)) if item.id.isdigit() else (1, item.id)


def load_catalog_items(csv_path: Path) -> list[CatalogItem]:
    """The rows of a products.csv in the five categories whose image file exists, sorted by id."""
    csv_path = Path(csv_path)
    if not csv_path.exists():
        raise FileNotFoundError(f"catalog labels not found: {csv_path}")
    out = []
    with csv_path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            path = csv_path.parent / r["file"]
            if r["category"] in CATEGORIES and path.exists():
                out.append(CatalogItem(r["id"], r["category"], r["article_type"], r["colour"],
                                       r["gender"], path))
    out.sort(key=_id_key)
    return out


def catalog_items_from_db(catalog) -> list[CatalogItem]:
    """Labelled products of the engine's own catalog (the demo catalog by default)."""
    out = []
    for row in catalog.products(active_only=True):
        path = catalog.image_file(row)
        if path is None or row.get("category") not in CATEGORIES or not row.get("article_type"):
            continue
        out.append(CatalogItem(bare_id(row["id"]), row["category"], row["article_type"],
                               row.get("colour") or "", row.get("gender") or "", path,
                               row.get("image_sha1")))
    return out
