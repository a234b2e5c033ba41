"""What a crawl produces: catalog rows from parsed items, and the summary of the run."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from .items import Item, map_category
from .site import Listing, product_url, strip_page

log = logging.getLogger(__name__)


@dataclass
class ListingResult:
    url: str
    status: str  # complete | truncated | failed
    pages: int = 0
    products: int = 0
    error: Optional[str] = None


@dataclass
class CrawlSummary:
    """What one crawl did; also what `crawl_runs` records."""

    run_id: Optional[int] = None
    status: str = "running"  # ok | failed | busy
    pages: int = 0
    products_new: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    products_inactive: int = 0
    images_fetched: int = 0
    images_failed: int = 0
    listings: list[ListingResult] = field(default_factory=list)
    error: Optional[str] = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def exit_code(self) -> int:
        """For the CLI: 0 ok, 1 failed, 3 another crawl is running."""
        return {"ok": 0, "busy": 3}.get(self.status, 1)

    @property
    def committed(self) -> list[str]:
        """Listing URLs whose products were written."""
        return [r.url for r in self.listings if r.status in ("complete", "truncated")]

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in (
            "pages", "products_new", "products_updated", "products_unchanged",
            "products_inactive", "images_fetched", "images_failed")}

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "committed": self.committed}

    def format(self) -> str:
        lines = [f"crawl {self.status} in {self.seconds:.1f}s: {self.pages} pages, "
                 f"products {self.products_new} new, {self.products_updated} updated, "
                 f"{self.products_unchanged} unchanged, {self.products_inactive} now inactive; "
                 f"images {self.images_fetched} fetched, {self.images_failed} failed"]
        for r in self.listings:
            line = f"  {r.status:9} {r.url}  ({r.pages} pages, {r.products} products)"
            lines.append(line + (f": {r.error}" if r.error else ""))
        if self.error and not self.listings:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


def to_record(item: Item, listing: Listing, now: str) -> Optional[dict[str, Any]]:
    """A catalog row for `item` (without image fields), or None if its category is unknown."""
    category = map_category(item.category) or listing.category
    if category is None:
        log.warning("skipping %s: unknown category %r", item.product_id, item.category)
        return None
    if not item.name:
        log.warning("skipping %s: no title", item.product_id)
        return None
    return {
        "id": f"myntra:{item.product_id}", "source": "myntra", "product_id": item.product_id,
        "url": product_url(item.landing_url) if item.landing_url else None,
        "brand": item.brand or None, "title": item.name, "price": item.price,
        "mrp": item.mrp if item.mrp is not None else item.price, "category": category,
        "article_type": item.category, "gender": item.gender or listing.gender,
        "colour": item.colour, "image_url": item.image_url, "image_path": None,
        "image_sha1": None, "first_seen": now, "last_seen": now, "active": 1,
        "listing": listing_key(listing.url), "image_error": None,
    }


def normalise_url(url: str) -> str:
    """`www.myntra.com/men-topwear` -> `https://www.myntra.com/men-topwear` (stripped)."""
    url = url.strip()
    return url if "://" in url or not url else "https://" + url


def listing_key(url: str) -> str:
    """What `products.listing` holds: the listing URL without its page parameter."""
    return strip_page(url)
