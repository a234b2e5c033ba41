"""The Myntra site profile: category listing URLs, pagination and the host allow-list."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

BASE_URL = "https://www.myntra.com/"


@dataclass(frozen=True)
class Listing:
    """One category listing: its URL and what every product on it is, when the page omits it."""

    url: str
    category: Optional[str] = None  # our category: topwear | bottomwear | ...
    gender: Optional[str] = None  # Men | Women


LISTINGS: tuple[Listing, ...] = tuple(
    Listing(BASE_URL + path, category, gender)
    for path, category, gender in [
        ("men-topwear", "topwear", "Men"), ("women-topwear", "topwear", "Women"),
        ("men-bottomwear", "bottomwear", "Men"), ("women-bottomwear", "bottomwear", "Women"),
        ("men-footwear", "footwear", "Men"), ("women-footwear", "footwear", "Women"),
        ("men-sunglasses", "eyewear", "Men"), ("women-sunglasses", "eyewear", "Women"),
        ("women-handbags", "handbag", "Women"),
    ])

_HINT_WORDS = {"topwear": "topwear", "tshirts": "topwear", "shirts": "topwear",
               "bottomwear": "bottomwear", "jeans": "bottomwear", "trousers": "bottomwear",
               "footwear": "footwear", "shoes": "footwear", "sunglasses": "eyewear",
               "eyewear": "eyewear", "handbags": "handbag", "handbag": "handbag"}


def listing_for(url: str) -> Listing:
    """The profile entry for `url`, or one whose hints are guessed from its path (men-jeans)."""
    for listing in LISTINGS:
        if strip_page(listing.url) == strip_page(url):
            return listing
    words = urlsplit(url).path.strip("/").lower().replace("_", "-").split("-")
    gender = "Women" if "women" in words else "Men" if "men" in words else None
    category = next((_HINT_WORDS[w] for w in words if w in _HINT_WORDS), None)
    return Listing(url, category, gender)


def strip_page(url: str) -> str:
    """`url` without its `p` query parameter (and without a trailing slash)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "p"]
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), urlencode(query), ""))


def page_url(url: str, page: int) -> str:
    """Listing page `page` (1-based) of `url`: Myntra pages are `?p=N`; page 1 has none."""
    base = strip_page(url)
    if page <= 1:
        return base
    parts = urlsplit(base)
    query = parse_qsl(parts.query, keep_blank_values=True) + [("p", str(page))]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def product_url(landing_url: str, base: str = BASE_URL) -> str:
    """Absolute product link: `https://www.myntra.com/` plus `landingPageUrl`."""
    return base + landing_url.lstrip("/")


def allowed_hosts(spec: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in spec.split(",") if h.strip())


def host_allowed(url: str, hosts: frozenset[str]) -> bool:
    """Whether `url` is http(s) on one of `hosts` (`host` or `host:port`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    return host in hosts or (parts.port is not None and f"{host}:{parts.port}" in hosts)
