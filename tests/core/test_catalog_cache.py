"""The search's cache of catalog labels: read once per thread, and never older than the last
committed change, whoever made it (a crawl in another process, the same connection)."""
from __future__ import annotations

import shutil

from core.catalog import Catalog
from core.pipeline import RANK_COLUMNS
from tests.helpers import REPO

DEMO_DB = REPO / "data" / "demo" / "catalog.db"


def _ids(catalog: Catalog, n: int = 5) -> list[str]:
    return [r["id"] for r in catalog.db.query(
        "select id from products where active = 1 order by id limit ?", [n])]


def test_cached_rows_follow_every_committed_change(tmp_path):
    shutil.copy(DEMO_DB, tmp_path / "catalog.db")
    search = Catalog(tmp_path / "catalog.db")
    ids = _ids(search)
    first = search.get_many_cached(ids + ["demo:no-such-product"], RANK_COLUMNS)
    assert set(first) == set(ids)  # an unknown id is simply absent
    assert first == search.get_many(ids, RANK_COLUMNS)

    # a crawl through its own connection deactivates one product and reprices another
    crawl = Catalog(tmp_path / "catalog.db")
    crawl.db["products"].update(ids[0], {"active": 0})
    crawl.db["products"].update(ids[1], {"price": (first[ids[1]]["price"] or 0) + 100})
    after = search.get_many_cached(ids, RANK_COLUMNS)
    assert after[ids[0]]["active"] == 0
    assert after[ids[1]]["price"] == (first[ids[1]]["price"] or 0) + 100

    # and a change through the reader's own connection counts too
    search.db["products"].update(ids[2], {"colour": "Mustard"})
    assert search.get_many_cached(ids, RANK_COLUMNS)[ids[2]]["colour"] == "Mustard"
    # unchanged rows come back equal to a fresh read
    assert search.get_many_cached(ids, RANK_COLUMNS) == search.get_many(ids, RANK_COLUMNS)
