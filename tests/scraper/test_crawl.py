"""The crawler end to end: real headless Chromium against the local fixture shop on 127.0.0.1.

Covers the full crawl (lazy images, pagination, a no-discount card), the DOM fallback, and
the faults: HTTP 500 on page 2, changed markup, a product that disappears, a crawl killed
half-way, image failures and the host allow-list. In each fault case the catalog must be
exactly what it was (or what the completed listings made it): nothing lost, nothing half-done.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, REPO

from core.catalog import Catalog
from core.config import Config
from scraper.crawl import crawl, crawl_lock

ROOT = REPO
SHOP_DIR = FIXTURES / "shop"
sys.path.insert(0, str(SHOP_DIR))
from shop import Shop  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()),
    reason="needs Debian chromium + chromium-driver")]


@pytest.fixture(scope="module")
def driver():
    from scraper.browser import make_driver
    d = make_driver(Config(crawl_page_timeout=20))
    yield d
    d.quit()


@pytest.fixture
def shop():
    s = Shop().start()
    yield s
    s.stop()


def config_for(tmp_path: Path, **kw) -> Config:
    return Config(data_dir=tmp_path / "data", crawl_delay=0, crawl_hosts="127.0.0.1",
                  crawl_page_timeout=20, **kw)


def rows(config: Config) -> list[dict]:
    return list(Catalog(config.catalog_path).db.query("select * from products order by id"))


def runs(config: Config) -> list[dict]:
    return list(Catalog(config.catalog_path).db.query("select * from crawl_runs order by id"))


def run(config, shop, listings, driver, **kw):
    return crawl(config, [shop.url(l) for l in listings], kw.pop("max_pages", 5),
                 kw.pop("fetch_images", True), driver=driver, progress=False, **kw)


def test_crawl_fills_catalog_from_the_shop(tmp_path, shop, driver):
    config = config_for(tmp_path)
    summary = run(config, shop, ["men-topwear", "women-footwear"], driver)
    assert summary.status == "ok", summary.format()
    top, foot = shop.products("men-topwear"), shop.products("women-footwear")
    assert summary.pages == 2 + 1  # 7 products at 4 per page, then 3
    assert summary.products_new == len(top) + len(foot)
    assert summary.images_fetched == len(top) + len(foot) and summary.images_failed == 0

    got = {r["id"]: r for r in rows(config)}
    assert len(got) == len(top) + len(foot)
    for listing, category in [("men-topwear", "topwear"), ("women-footwear", "footwear")]:
        for p in shop.products(listing):
            r = got[f"myntra:{p['productId']}"]
            assert r["source"] == "myntra" and r["product_id"] == str(p["productId"])
            assert r["url"] == "https://www.myntra.com/" + p["landingPageUrl"]
            assert (r["title"], r["brand"]) == (p["productName"], p["brand"])
            assert (r["price"], r["mrp"]) == (p["price"], p["mrp"])
            assert (r["gender"], r["colour"]) == (p["gender"], p["primaryColour"])
            assert r["category"] == category and r["article_type"] == p["category"]
            assert r["image_url"] == shop.image_url(p)
            assert r["active"] == 1 and r["first_seen"] and r["last_seen"]
            # the stored image is byte for byte the shop's file, and relative to the data dir
            assert not Path(r["image_path"]).is_absolute()
            stored = (config.data_dir / r["image_path"]).read_bytes()
            assert stored == (SHOP_DIR / "images" / p["image"]).read_bytes()
            assert r["image_sha1"] == hashlib.sha1(stored).hexdigest()
    assert any(p["price"] == p["mrp"] for p in top)  # the no-discount card was read

    (r,) = runs(config)
    assert r["status"] == "ok" and r["pages"] == 3 and r["products_new"] == 10 and r["finished"]

    # a second run finds the same products unchanged and fetches no image again
    again = run(config, shop, ["men-topwear", "women-footwear"], driver)
    assert again.status == "ok"
    assert (again.products_new, again.products_updated, again.products_unchanged) == (0, 0, 10)
    assert again.images_fetched == 0
    after = {r["id"]: r for r in rows(config)}
    assert all(after[k]["first_seen"] == got[k]["first_seen"] for k in got)


def test_dom_fallback_scrolls_lazy_images_in(tmp_path, shop, driver):
    """Without window.__myx the cards are all there is; lazy cards get images only if scrolled."""
    shop.json = False
    config = config_for(tmp_path)
    summary = run(config, shop, ["men-topwear"], driver)
    assert summary.status == "ok", summary.format()
    got = {r["id"]: r for r in rows(config)}
    products = shop.products("men-topwear")
    assert len(got) == len(products)
    lazy = [p for i, p in enumerate(products) if i % shop.page_size >= shop.eager_cards]
    assert lazy  # most cards on each page have no image in the served HTML
    for p in products:
        r = got[f"myntra:{p['productId']}"]
        assert (r["title"], r["brand"], r["price"], r["mrp"]) == \
            (p["productName"], p["brand"], p["price"], p["mrp"])
        assert r["gender"] == "Men" and r["category"] == "topwear"
        assert r["image_url"] == shop.image_url(p)
        assert r["image_path"] and r["image_error"] is None


def test_http_500_on_page_2_changes_nothing(tmp_path, shop, driver):
    config = config_for(tmp_path)
    assert run(config, shop, ["men-topwear"], driver).status == "ok"
    before = rows(config)
    shop.products("men-topwear")[0]["price"] += 100  # would be an update, if it were written
    shop.fail_pages.add(("men-topwear", 2))
    summary = run(config, shop, ["men-topwear"], driver)
    assert summary.status == "failed" and "HTTP 500" in summary.error
    assert rows(config) == before
    last = runs(config)[-1]
    assert last["status"] == "failed" and "HTTP 500" in last["error"] and last["finished"]


def test_changed_markup_zero_products_changes_nothing(tmp_path, shop, driver):
    config = config_for(tmp_path)
    assert run(config, shop, ["men-topwear", "women-footwear"], driver).status == "ok"
    before = rows(config)
    shop.markup = "changed"
    summary = run(config, shop, ["men-topwear", "women-footwear"], driver)
    assert summary.status == "failed" and "zero products" in summary.error
    assert summary.committed == []
    assert rows(config) == before  # nothing marked inactive, nothing deleted
    assert sum(r["active"] for r in before) == 10
    assert runs(config)[-1]["status"] == "failed"


def test_disappeared_product_is_marked_inactive_not_deleted(tmp_path, shop, driver):
    config = config_for(tmp_path)
    assert run(config, shop, ["men-topwear", "women-footwear"], driver).status == "ok"
    gone = shop.remove("men-topwear", shop.products("men-topwear")[2]["productId"])
    shop.products("men-topwear")[0]["price"] -= 50
    summary = run(config, shop, ["men-topwear", "women-footwear"], driver)
    assert summary.status == "ok"
    assert summary.products_inactive == 1 and summary.products_updated == 1
    got = {r["id"]: r for r in rows(config)}
    assert len(got) == 10  # never deleted
    dead = got[f"myntra:{gone['productId']}"]
    assert dead["active"] == 0 and dead["title"] == gone["productName"]
    assert sum(r["active"] for r in got.values()) == 9
    first = shop.products("men-topwear")[0]
    assert got[f"myntra:{first['productId']}"]["price"] == first["price"]
    # Catalog.products() (what the index is built from) leaves it out
    assert f"myntra:{gone['productId']}" not in {r["id"] for r in
                                                  Catalog(config.catalog_path).products()}
    # it comes back: active again
    shop.listings["men-topwear"].append(gone)
    assert run(config, shop, ["men-topwear"], driver).products_updated == 1
    assert Catalog(config.catalog_path).get(f"myntra:{gone['productId']}")["active"] == 1


def test_page_cap_never_deactivates(tmp_path, shop, driver):
    """A crawl cut short by --max-pages is incomplete: it updates, but marks nothing inactive."""
    config = config_for(tmp_path)
    assert run(config, shop, ["men-topwear"], driver).status == "ok"
    summary = run(config, shop, ["men-topwear"], driver, max_pages=1)
    assert summary.status == "ok" and summary.listings[0].status == "truncated"
    assert summary.products_inactive == 0
    assert sum(r["active"] for r in rows(config)) == 7


def test_failed_images_keep_the_product_and_are_retried(tmp_path, shop, driver):
    config = config_for(tmp_path, crawl_image_max_bytes=5000)  # 2130.jpg and 2140.jpg are bigger
    big = {f"myntra:{p['productId']}" for p in shop.products("men-topwear")
           if (SHOP_DIR / "images" / p["image"]).stat().st_size > 5000}
    assert big
    summary = run(config, shop, ["men-topwear"], driver)
    assert summary.status == "ok" and summary.images_failed == len(big)
    got = {r["id"]: r for r in rows(config)}
    assert len(got) == 7
    for pid in big:
        assert got[pid]["image_path"] is None and "too large" in got[pid]["image_error"]
        assert got[pid]["active"] == 1
    # next run, with a cap that fits: exactly the failed ones are fetched
    config.crawl_image_max_bytes = 5_000_000
    again = run(config, shop, ["men-topwear"], driver)
    assert again.images_fetched == len(big) and again.images_failed == 0
    assert all(r["image_path"] and r["image_error"] is None for r in rows(config))


def test_missing_image_or_wrong_content_type_is_a_recorded_failure(tmp_path, shop, driver):
    config = config_for(tmp_path)
    shop.products("women-footwear")[0]["image"] = "no-such-file.jpg"  # the shop answers 404
    summary = run(config, shop, ["women-footwear"], driver)
    assert summary.status == "ok"
    assert summary.images_failed == 1 and summary.products_new == 3
    failed = [r for r in rows(config) if r["image_error"]]
    assert len(failed) == 1 and "HTTP 404" in failed[0]["image_error"]
    from scraper.images import ImageError, fetch_image
    with pytest.raises(ImageError, match="not an image"):
        fetch_image(shop.base + "women-footwear", frozenset({"127.0.0.1"}), 10**6, "t", 10)


def test_only_allowed_hosts_are_fetched(tmp_path, shop, driver):
    config = config_for(tmp_path)  # allows 127.0.0.1 only
    url = f"http://localhost:{shop.host.split(':')[1]}/men-topwear"
    summary = crawl(config, [url], 2, True, driver=driver, progress=False)
    assert summary.status == "failed" and "host not allowed" in summary.error
    assert shop.requests == []
    assert rows(config) == []


def test_two_crawls_never_overlap(tmp_path, shop, driver):
    config = config_for(tmp_path)
    with crawl_lock(config.data_dir):
        summary = run(config, shop, ["men-topwear"], driver)
    assert summary.status == "busy"
    assert shop.requests == []


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from core.config import Config
    from scraper.crawl import crawl
    summary = crawl(Config.from_env(), sys.argv[1:], 5, True, progress=False)
    print(summary.format())
""")


def test_crawl_killed_half_way_leaves_catalog_consistent(tmp_path, shop):
    config = config_for(tmp_path)
    env = {**os.environ, "LOOKBOT_DATA_DIR": str(config.data_dir), "LOOKBOT_CRAWL_DELAY": "0",
           "LOOKBOT_CRAWL_HOSTS": "127.0.0.1"}
    urls = [shop.url("women-footwear"), shop.url("men-topwear")]
    first = subprocess.run([sys.executable, "-c", KILL_SCRIPT, *urls], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and "crawl ok" in first.stdout, first.stdout + first.stderr
    before = {r["id"]: r for r in rows(config)}
    assert len(before) == 10

    # Second run: prices change in both listings; the crawl is killed while it loads
    # men-topwear page 2, after women-footwear was committed.
    for listing in ("women-footwear", "men-topwear"):
        for p in shop.products(listing):
            p["price"] += 1
    shop.slow_pages[("men-topwear", 2)] = 30
    shop.requests.clear()
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, *urls], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "/men-topwear?p=2" not in shop.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "/men-topwear?p=2" in shop.requests, proc.stderr.read1().decode()[-2000:]
        os.killpg(proc.pid, signal.SIGKILL)  # the crawler, its chromedriver and Chromium
    finally:
        proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    after = {r["id"]: r for r in rows(config)}
    assert set(after) == set(before)
    for pid, r in after.items():
        assert r["active"] == 1
        if r["category"] == "footwear":  # that listing completed: its new prices are in
            assert r["price"] == before[pid]["price"] + 1
        else:  # killed half-way: untouched, not half-updated
            assert r == before[pid]
    assert runs(config)[-1]["status"] == "running"  # the killed run could not record itself

    # The next crawl marks the killed run failed and completes normally.
    shop.slow_pages.clear()
    third = subprocess.run([sys.executable, "-c", KILL_SCRIPT, *urls], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert third.returncode == 0 and "crawl ok" in third.stdout, third.stdout + third.stderr
    statuses = [r["status"] for r in runs(config)]
    assert statuses == ["ok", "failed", "ok"]
    assert "interrupted" in runs(config)[1]["error"]
    assert all(r["price"] == before[r["id"]]["price"] + 1 for r in rows(config))



def test_sigterm_records_the_run_failed_and_changes_nothing(tmp_path, shop):
    """The bot stopping a refresh (SIGTERM) unwinds cleanly: run recorded, catalog untouched."""
    config = config_for(tmp_path)
    env = {**os.environ, "LOOKBOT_DATA_DIR": str(config.data_dir), "LOOKBOT_CRAWL_DELAY": "0",
           "LOOKBOT_CRAWL_HOSTS": "127.0.0.1"}
    shop.slow_pages[("men-topwear", 2)] = 8
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, shop.url("men-topwear")],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "/men-topwear?p=2" not in shop.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "/men-topwear?p=2" in shop.requests
        proc.send_signal(signal.SIGTERM)  # the crawler only, as the bot would
        proc.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert rows(config) == []
    (run_row,) = runs(config)
    assert run_row["status"] == "failed" and "terminated" in run_row["error"]
    assert run_row["finished"] and run_row["pages"] == 1
