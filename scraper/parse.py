"""Pure parsers for Myntra pages: listing pages and product pages.

A listing page carries its data in `<script>window.__myx = {...}</script>` (no trailing
semicolon, so it is read with `json.JSONDecoder().raw_decode`), at
`searchData.results.products[]`. When that JSON is missing or unreadable, the products are read
from the rendered DOM cards (`li.product-base`) instead. Nothing here touches the network.
"""
from __future__ import annotations

import html as htmllib
import json
import logging
import re
from typing import Any, Optional
from urllib.parse import urlsplit

from core.records import GENDERS

from .dom import Node, parse_dom
from .items import Item, ListingPage

log = logging.getLogger(__name__)

MYX_MARKER = "window.__myx"

# --- window.__myx ---------------------------------------------------------------------------
def extract_myx(page: str) -> Optional[dict[str, Any]]:
    """The `window.__myx` object of a page, or None when there is none or it does not parse."""
    start = 0
    while True:
        i = page.find(MYX_MARKER, start)
        if i < 0:
            return None
        j = page.find("=", i + len(MYX_MARKER))
        if j < 0:
            return None
        k = j + 1
        while k < len(page) and page[k].isspace():
            k += 1
        try:
            value, _ = json.JSONDecoder().raw_decode(page, k)
        except ValueError:
            start = i + len(MYX_MARKER)
            continue
        if isinstance(value, dict):
            return value
        start = i + len(MYX_MARKER)


def _int(value: Any) -> Optional[int]:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(round(value))
    m = re.search(r"\d[\d,]*(?:\.\d+)?", str(value))
    if not m:
        return None
    return int(round(float(m.group(0).replace(",", ""))))


def _gender(value: Any) -> Optional[str]:
    if not value:
        return None
    v = str(value).strip().capitalize()
    return v if v in GENDERS else None


def items_from_json(myx: dict[str, Any]) -> Optional[list[Item]]:
    """Products of `searchData.results.products`, or None when the path is not there."""
    try:
        products = myx["searchData"]["results"]["products"]
    except (KeyError, TypeError):
        return None
    if not isinstance(products, list):
        return None
    items = []
    for p in products:
        if not isinstance(p, dict) or p.get("productId") in (None, ""):
            continue
        price = _int(p.get("price"))
        mrp = _int(p.get("mrp")) or price
        items.append(Item(
            product_id=str(p["productId"]), name=str(p.get("productName") or p.get("product") or ""),
            brand=str(p.get("brand") or ""), price=price, mrp=mrp,
            landing_url=str(p.get("landingPageUrl") or ""), image_url=p.get("searchImage") or None,
            gender=_gender(p.get("gender")),
            category=p.get("category") or p.get("articleType") or None,
            colour=p.get("primaryColour") or None, source="json"))
    return items


def canonical_image_url(url: Optional[str]) -> Optional[str]:
    """Myntra image URL without the CDN transform segment, over https.

    `https://assets.myntassets.com/dpr_2,q_60,w_210,c_limit/assets/images/1/a.jpg` and
    `http://assets.myntassets.com/assets/images/1/a.jpg` both become
    `https://assets.myntassets.com/assets/images/1/a.jpg`. Other URLs are returned unchanged.
    """
    if not url:
        return None
    parts = urlsplit(url)
    i = parts.path.find("/assets/images/")
    if parts.netloc.endswith("myntassets.com") and i >= 0:
        return f"https://{parts.netloc}{parts.path[i:]}"
    return url


_PID_RE = re.compile(r"/(\d+)/buy/?(?:[?#].*)?$")
_GENDER_WORDS = {"men": "Men", "women": "Women", "unisex": "Unisex", "boys": "Boys",
                 "girls": "Girls", "man": "Men", "woman": "Women", "boy": "Boys", "girl": "Girls"}


def gender_from_title(title: str) -> Optional[str]:
    """Myntra titles name the gender ("ALIGATORR Unisex Black ..."); the first such word wins."""
    for word in re.findall(r"[A-Za-z]+", title):
        g = _GENDER_WORDS.get(word.lower())
        if g:
            return g
    return None


def _digits(node: Optional[Node]) -> Optional[int]:
    return _int(node.text()) if node is not None else None


def item_from_card(card: Node) -> Optional[Item]:
    """One `li.product-base` card, or None when it lacks a product link."""
    link = next((a for a in card.find_all("a") if _PID_RE.search(a.attrs.get("href", ""))), None)
    if link is None:
        return None
    href = link.attrs["href"]
    pid = _PID_RE.search(href).group(1)
    parts = urlsplit(href)
    landing = parts.path.lstrip("/") if parts.netloc else href.lstrip("/")
    brand_node = card.find("h3", "product-brand")
    img = None
    # A card being hovered shows a slick slider whose data-index="-1" slide is a clone of the
    # last image; its data-index="0" slide is the product's search image.
    first_slide = next((d for d in card.find_all("div", "slick-slide")
                        if d.attrs.get("data-index") == "0"), None)
    picture = (first_slide or card).find("picture")
    if picture is not None:
        img = picture.find("img")
    if img is None:
        img = card.find("img", "img-responsive")
    name = ""
    image_url = None
    if img is not None:
        name = img.attrs.get("alt") or img.attrs.get("title") or ""
        src = img.attrs.get("src", "")
        if src and not src.startswith("data:"):
            image_url = canonical_image_url(src)
    if not name:
        additional = card.find("h4", "product-product")
        name = additional.text().strip() if additional is not None else ""
    price_box = card.find("div", "product-price")
    discounted = card.find("span", "product-discountedPrice")
    strike = card.find("span", "product-strike")
    if discounted is not None:
        price = _digits(discounted)
    elif price_box is not None:
        span = price_box.find("span")
        price = _digits(span if span is not None else price_box)
    else:
        price = None
    mrp = _digits(strike) if strike is not None else price
    return Item(product_id=pid, name=htmllib.unescape(name.strip()),
                brand=brand_node.text().strip() if brand_node is not None else "",
                price=price, mrp=mrp, landing_url=landing, image_url=image_url,
                gender=gender_from_title(name), category=None, colour=None, source="dom")


def items_from_dom(root: Node) -> list[Item]:
    items = []
    for card in root.find_all("li", "product-base"):
        item = item_from_card(card)
        if item is not None:
            items.append(item)
    return items


def next_href(root: Node) -> Optional[str]:
    li = root.find("li", "pagination-next")
    if li is None:
        return None
    a = li.find("a")
    return a.attrs.get("href") if a is not None and a.attrs.get("href") else None


# --- pages ----------------------------------------------------------------------------------
def parse_listing(page: str, myx: Optional[dict[str, Any]] = None) -> ListingPage:
    """Products of a listing page: from `window.__myx` when present, else from the DOM cards.

    `myx` may be passed in when the browser read `window.__myx` directly.
    """
    myx = myx if myx is not None else extract_myx(page)
    root = parse_dom(page)
    nxt = next_href(root)
    if myx is not None:
        items = items_from_json(myx)
        if items:
            results = myx["searchData"]["results"]
            has_next = results.get("hasNextPage")
            return ListingPage(items=items, source="json",
                               total_count=_int(results.get("totalCount")),
                               has_next=bool(has_next) if has_next is not None else nxt is not None,
                               next_href=nxt)
    items = items_from_dom(root)
    if items:
        return ListingPage(items=items, source="dom", has_next=nxt is not None, next_href=nxt)
    return ListingPage(items=[], source="none", has_next=False, next_href=nxt,
                       error="no products in window.__myx or li.product-base cards")


def parse_product_page(page: str) -> Optional[Item]:
    """A product page (`window.__myx.pdpData`), or its DOM (h1.pdp-title / h1.pdp-name)."""
    myx = extract_myx(page)
    pdp = (myx or {}).get("pdpData") if isinstance(myx, dict) else None
    if isinstance(pdp, dict) and pdp.get("id") is not None:
        price = pdp.get("price") or {}
        analytics = pdp.get("analytics") or {}
        brand = analytics.get("brand") or (pdp.get("brand") or {}).get("name") or ""
        image = None
        for album in (pdp.get("media") or {}).get("albums") or []:
            for im in album.get("images") or []:
                image = im.get("imageURL") or im.get("src")
                break
            if image:
                break
        discounted = _int(price.get("discounted"))
        mrp = _int(price.get("mrp")) or _int(pdp.get("mrp"))
        return Item(product_id=str(pdp["id"]), name=str(pdp.get("name") or ""), brand=str(brand),
                    price=discounted or mrp, mrp=mrp or discounted,
                    landing_url=str(pdp.get("landingPageUrl") or ""), image_url=image,
                    gender=_gender(analytics.get("gender")),
                    category=analytics.get("articleType") or None,
                    colour=pdp.get("baseColour") or None, source="json")
    root = parse_dom(page)
    title, name = root.find("h1", "pdp-title"), root.find("h1", "pdp-name")
    if title is None or name is None:
        return None
    price = _digits(root.find("span", "pdp-price"))
    mrp = _digits(root.find("span", "pdp-mrp-verbiage-amt")) or price
    pid = None
    for link in root.find_all("link"):
        m = _PID_RE.search(link.attrs.get("href", ""))
        if m:
            pid = m.group(1)
            break
    if pid is None:
        return None
    return Item(product_id=pid, name=name.text().strip(), brand=title.text().strip(), price=price,
                mrp=mrp, landing_url="", image_url=None, gender=gender_from_title(name.text()),
                source="dom")
