"""price_history: one row when a product is first seen, one per change of price or MRP, written
in the same transaction as the upsert. The fast tests write the fixture shop's products through
the crawler's store; the slow one crawls the fixture shop twice with real headless Chromium."""
from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path

import pytest

from core.catalog import Catalog, now_iso
from core.config import Config
from scraper import store
from scraper.crawl import crawl, to_record
from scraper.parse import Item
from scraper.site import listing_for
from tests.fixtures.shop.shop import Shop
from tests.helpers import FIXTURES

LISTING = "https://www.myntra.com/men-topwear"
SHOP_PRODUCTS = json.loads((FIXTURES / "shop" / "products.json").read_text())["listings"]


def records(products: list[dict], now: str) -> list[dict]:
    """Catalog rows for the shop's products, as the crawler makes them."""
    listing = listing_for(LISTING)
    items = [Item(str(p["productId"]), p["productName"], p["brand"], p["price"], p["mrp"],
                  p["landingPageUrl"], None, p["gender"], p["category"], p["primaryColour"])
             for p in products]
    return [to_record(i, listing, now) for i in items]


def history(catalog: Catalog) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for r in catalog.db.query("select * from price_history order by rowid"):
        out.setdefault(r["product_id"], []).append((r["price"], r["mrp"]))
    return out


def test_history_rows_only_on_first_sight_and_on_change(tmp_path):
    catalog = Catalog(tmp_path / "catalog.db")
    store.ensure_columns(catalog)
    products = copy.deepcopy(SHOP_PRODUCTS["men-topwear"])
    store.commit_listing(catalog, records(products, now_iso()), LISTING, True, now_iso())
    store.commit_listing(catalog, records(products, now_iso()), LISTING, True, now_iso())
    assert history(catalog) == {f"myntra:{p['productId']}": [(p["price"], p["mrp"])]
                                for p in products}  # a second sight of the same price adds none

    cheaper, dearer_mrp = products[0], products[1]
    old = {p["productId"]: (p["price"], p["mrp"]) for p in products}
    cheaper["price"] -= 100
    dearer_mrp["mrp"] += 200
    store.commit_listing(catalog, records(products, now_iso()), LISTING, True, now_iso())
    got = history(catalog)
    for p in products:
        pid = f"myntra:{p['productId']}"
        now = (p["price"], p["mrp"])
        assert got[pid] == ([old[p["productId"]], now] if now != old[p["productId"]] else [now])
        assert catalog.get(pid)["price"] == p["price"]  # products.price is today's price
    assert len(catalog.price_history(f"myntra:{cheaper['productId']}")) == 2


def test_a_failed_commit_writes_no_history(tmp_path):
    catalog = Catalog(tmp_path / "catalog.db")
    store.ensure_columns(catalog)
    rows = records(SHOP_PRODUCTS["women-footwear"], now_iso())
    rows[-1]["title"] = None  # products.title is NOT NULL: the upsert fails
    with pytest.raises(sqlite3.IntegrityError):
        store.commit_listing(catalog, rows, LISTING, True, now_iso())
    assert history(catalog) == {} and catalog.get(rows[0]["id"]) is None


def test_no_price_read_means_no_row_and_the_demo_catalog_has_no_history(tmp_path):
    catalog = Catalog(tmp_path / "catalog.db")
    store.ensure_columns(catalog)
    rows = records(SHOP_PRODUCTS["women-footwear"], now_iso())
    rows[0]["price"] = rows[0]["mrp"] = None
    store.commit_listing(catalog, rows, LISTING, True, now_iso())
    assert rows[0]["id"] not in history(catalog) and len(history(catalog)) == len(rows) - 1
    assert Catalog(tmp_path / "other.db").price_history("demo:10000") == []  # no table: none


@pytest.mark.slow
@pytest.mark.skipif(not (Path("/usr/bin/chromium").exists()
                         and Path("/usr/bin/chromedriver").exists()),
                    reason="needs Debian chromium + chromium-driver")
def test_crawling_the_shop_twice_keeps_both_prices_of_what_changed(tmp_path):
    shop = Shop().start()
    try:
        config = Config(data_dir=tmp_path / "data", crawl_delay=0, crawl_hosts="127.0.0.1",
                        crawl_page_timeout=20)
        urls = [shop.url("men-topwear"), shop.url("women-footwear")]
        assert crawl(config, urls, 5, False, progress=False).status == "ok"
        before = {f"myntra:{p['productId']}": (p["price"], p["mrp"])
                  for name in ("men-topwear", "women-footwear") for p in shop.products(name)}
        shop.products("men-topwear")[0]["price"] -= 150
        shop.products("women-footwear")[1]["price"] += 40
        shop.products("women-footwear")[2]["mrp"] += 500
        second = crawl(config, urls, 5, False, progress=False)
        assert second.status == "ok" and second.products_updated == 3
    finally:
        shop.stop()
    got = history(Catalog(config.catalog_path))
    assert set(got) == set(before)
    for name in ("men-topwear", "women-footwear"):
        for p in shop.products(name):
            pid, now = f"myntra:{p['productId']}", (p["price"], p["mrp"])
            assert got[pid] == ([before[pid], now] if now != before[pid] else [now]), pid
    assert sum(len(v) == 2 for v in got.values()) == 3
