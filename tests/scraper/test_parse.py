"""The Myntra parser against the real saved pages in /work/shared/data/myntra."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scraper.items import map_category
from scraper.parse import (canonical_image_url, extract_myx, items_from_dom, parse_dom,
                           parse_listing, parse_product_page)
from scraper.site import (LISTINGS, allowed_hosts, host_allowed, listing_for, page_url,
                          product_url)

MYNTRA = Path("/work/shared/data/myntra")
LISTING_PAGES = ["men-sunglasses.html", "men_tshirts_page_1.html"]
PRODUCT_PAGES = ["product_12222036.html", "product_7546900.html"]

pytestmark = pytest.mark.skipif(not MYNTRA.exists(), reason="shared Myntra pages not mounted")


def raw_products(name: str) -> list[dict]:
    """The page's own JSON, decoded independently of the parser under test."""
    text = (MYNTRA / name).read_text()
    start = text.index("window.__myx = ") + len("window.__myx = ")
    myx, _ = json.JSONDecoder().raw_decode(text, start)
    return myx["searchData"]["results"]["products"]


def card_count(name: str) -> int:
    return len(re.findall(r'<li class="product-base"', (MYNTRA / name).read_text()))


@pytest.mark.parametrize("name", LISTING_PAGES)
def test_listing_json_reads_every_card_exactly(name):
    page = parse_listing((MYNTRA / name).read_text())
    raw = raw_products(name)
    assert page.source == "json"
    assert len(page.items) == len(raw) == card_count(name) == 50
    for item, p in zip(page.items, raw):
        assert item.product_id == str(p["productId"])
        assert item.brand == p["brand"]
        assert item.name == p["productName"]
        assert item.price == p["price"]
        assert item.mrp == p["mrp"]
        assert item.gender == p["gender"]
        assert item.image_url == p["searchImage"]
        assert item.landing_url == p["landingPageUrl"]
        assert item.colour == p["primaryColour"]
        assert item.category == p["category"]
    assert page.has_next is True and page.total_count and page.total_count > 50
    assert page.next_href and page.next_href.endswith("?p=2")


@pytest.mark.parametrize("name", LISTING_PAGES)
def test_dom_fallback_agrees_with_json(name):
    text = (MYNTRA / name).read_text()
    dom = items_from_dom(parse_dom(text))
    raw = raw_products(name)
    assert len(dom) == len(raw)
    full_price = 0
    gendered = 0
    for item, p in zip(dom, raw):
        assert item.source == "dom"
        assert item.product_id == str(p["productId"])
        assert item.brand == p["brand"]
        assert item.name == p["productName"]
        assert item.price == p["price"], item.product_id
        assert item.mrp == p["mrp"], item.product_id
        assert item.landing_url == p["landingPageUrl"]
        assert item.image_url == canonical_image_url(p["searchImage"])
        # The card shows no gender; the title usually names it, and then it must agree.
        if item.gender is not None:
            gendered += 1
            assert item.gender == p["gender"], item.name
        full_price += p["price"] == p["mrp"]
    assert full_price >= 5  # the pages do contain full-price cards (no strike price)
    assert gendered >= 30


def test_full_price_cards_have_price_as_mrp():
    for name in LISTING_PAGES:
        page = parse_listing((MYNTRA / name).read_text())
        dom = {i.product_id: i for i in items_from_dom(parse_dom((MYNTRA / name).read_text()))}
        full = [i for i in page.items if i.price == i.mrp]
        assert full
        for item in full:
            assert dom[item.product_id].mrp == dom[item.product_id].price == item.price


def test_dom_fallback_used_when_json_missing():
    text = (MYNTRA / "men-sunglasses.html").read_text()
    stripped = text.replace("window.__myx", "window.__other")
    page = parse_listing(stripped)
    assert page.source == "dom" and len(page.items) == 50
    assert page.has_next is True


def test_changed_markup_yields_zero_products_and_an_error():
    text = (MYNTRA / "men_tshirts_page_1.html").read_text()
    changed = text.replace("window.__myx", "window.__other").replace("product-base",
                                                                      "productCard-base")
    page = parse_listing(changed)
    assert page.items == [] and page.source == "none" and page.error


def test_garbage_input_is_not_a_crash():
    for junk in ["", "<html>", "window.__myx = {broken", "window.__myx = [1,2]", "\x00\xff"]:
        assert parse_listing(junk).items == []
    assert parse_product_page("<html></html>") is None


@pytest.mark.parametrize("name", PRODUCT_PAGES)
def test_product_pages(name):
    text = (MYNTRA / name).read_text()
    pdp = extract_myx(text)["pdpData"]
    item = parse_product_page(text)
    assert item.product_id == str(pdp["id"])
    assert item.name == pdp["name"]
    assert item.price == pdp["price"]["discounted"]
    assert item.mrp == pdp["price"]["mrp"]
    assert item.gender == pdp["analytics"]["gender"]
    assert item.brand == pdp["analytics"]["brand"]
    assert map_category(item.category) == "topwear"
    assert item.image_url and f"/{pdp['id']}/" in item.image_url


def test_categories_of_the_real_pages_map_to_ours():
    assert {map_category(i.category) for i in
            parse_listing((MYNTRA / "men-sunglasses.html").read_text()).items} == {"eyewear"}
    assert {map_category(i.category) for i in
            parse_listing((MYNTRA / "men_tshirts_page_1.html").read_text()).items} == {"topwear"}
    assert map_category("Heels") == "footwear" and map_category("Clutches") == "handbag"
    assert map_category("Jeans") == "bottomwear" and map_category("Perfume") is None


def test_site_profile_and_urls():
    cats = {l.category for l in LISTINGS}
    assert cats == {"topwear", "bottomwear", "footwear", "eyewear", "handbag"}
    assert {l.gender for l in LISTINGS} == {"Men", "Women"}
    assert page_url("https://www.myntra.com/men-topwear", 1) == "https://www.myntra.com/men-topwear"
    assert page_url("https://www.myntra.com/men-topwear?p=4", 3) == \
        "https://www.myntra.com/men-topwear?p=3"
    assert listing_for("https://www.myntra.com/men-sunglasses?p=2").category == "eyewear"
    assert listing_for("https://www.myntra.com/women-jeans").category == "bottomwear"
    assert listing_for("https://www.myntra.com/women-jeans").gender == "Women"
    assert product_url("tshirts/x/y/1/buy") == "https://www.myntra.com/tshirts/x/y/1/buy"
    hosts = allowed_hosts("www.myntra.com, assets.myntassets.com")
    assert host_allowed("https://www.myntra.com/men-topwear", hosts)
    assert host_allowed("http://assets.myntassets.com/assets/images/1/a.jpg", hosts)
    assert not host_allowed("https://evil.example/x.jpg", hosts)
    assert not host_allowed("file:///etc/passwd", hosts)
    assert not host_allowed("javascript:alert(1)", hosts)
    assert not host_allowed("https://www.myntra.com.evil.example/", hosts)
