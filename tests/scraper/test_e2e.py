"""Crawl -> `lookbot index` -> `lookbot similar`, through the real commands, against the
local fixture shop: new products become findable; a failed crawl leaves the served index as it
was; a product that disappears from the shop drops out of the next index.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, REPO

from core.config import Config
from core.index import current_version
from scraper.refresh import run_refresh

ROOT = REPO
SHOP_DIR = FIXTURES / "shop"
sys.path.insert(0, str(SHOP_DIR))
from shop import Shop  # noqa: E402

LOOKBOT = Path(sys.executable).parent / "lookbot"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()),
    reason="needs Debian chromium + chromium-driver")]


def similar(config: Config, images: list[Path], category: str) -> list[list[dict]]:
    """`lookbot similar IMAGE... --category C --json`: the products found for each image."""
    env = {**os.environ, "LOOKBOT_DATA_DIR": str(config.data_dir)}
    cmd = [str(LOOKBOT), "similar", *map(str, images), "--category", category, "--json",
           "--k", "5"]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    assert len(lines) == len(images)
    return [line["products"] for line in lines]


def test_crawl_index_similar_and_faults(tmp_path, monkeypatch):
    if not LOOKBOT.exists():
        pytest.skip("the lookbot console script is not installed in this environment")
    shop = Shop().start()
    try:
        config = Config(data_dir=tmp_path / "data", crawl_delay=0, crawl_hosts="127.0.0.1",
                        crawl_page_timeout=20)
        monkeypatch.setenv("LOOKBOT_DATA_DIR", str(config.data_dir))
        urls = [shop.url("men-topwear"), shop.url("women-footwear")]

        first = run_refresh(config, urls, max_pages=5)
        assert first.status == "ok", (first.message, first.index_output)
        v1 = current_version(config.index_root)
        assert v1
        # every crawled product is found by a photo of it, as the nearest match
        for listing, category in [("men-topwear", "topwear"), ("women-footwear", "footwear")]:
            products = shop.products(listing)
            results = similar(config, [SHOP_DIR / "images" / p["image"] for p in products],
                              category)
            for p, found in zip(products, results):
                assert found[0]["id"] == f"myntra:{p['productId']}"
                assert found[0]["price"] == p["price"]
                assert found[0]["url"] == "https://www.myntra.com/" + p["landingPageUrl"]

        # a crawl that fails (500 on page 2) rebuilds nothing: the served version stays
        shop.fail_pages.add(("men-topwear", 2))
        failed = run_refresh(config, [shop.url("men-topwear")], max_pages=5)
        assert failed.status == "crawl_failed" and failed.index_rc is None
        assert current_version(config.index_root) == v1
        shop.fail_pages.clear()

        # a product disappears: the next refresh publishes a version without it
        gone = shop.remove("men-topwear", shop.products("men-topwear")[0]["productId"])
        third = run_refresh(config, urls, max_pages=5)
        assert third.status == "ok", (third.message, third.index_output)
        v3 = current_version(config.index_root)
        assert v3 and v3 != v1
        (found,) = similar(config, [SHOP_DIR / "images" / gone["image"]], "topwear")
        assert f"myntra:{gone['productId']}" not in {p["id"] for p in found}
        assert found  # the rest of the listing is still served

        # an index build that fails keeps the previous version serving
        shop.products("men-topwear")[0]["price"] += 1
        broken = run_refresh(config, urls, max_pages=5,
                             index_cmd=[sys.executable, "-c", "raise SystemExit(4)"])
        assert broken.status == "index_failed" and broken.index_rc == 4
        assert current_version(config.index_root) == v3
    finally:
        shop.stop()
