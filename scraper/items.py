"""What the page parsers yield: Myntra's products before they become catalog rows, and the
mapping of Myntra's categories onto the catalog's five."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# Myntra's category / article type -> our catalog category. Keys are lower-cased.
CATEGORY_MAP: dict[str, str] = {}
for _ours, _theirs in {
    "topwear": ["tshirts", "lounge tshirts", "shirts", "tops", "sweatshirts", "jackets", "kurtas",
                "kurtis", "tunics", "sweaters", "blazers", "coats", "waistcoat", "shrug",
                "nehru jackets", "rain jacket", "topwear"],
    "bottomwear": ["jeans", "trousers", "shorts", "skirts", "track pants", "capris", "leggings",
                   "jeggings", "joggers", "lounge pants", "lounge shorts", "palazzos",
                   "churidar", "salwar", "patiala", "tights", "bottomwear"],
    "footwear": ["casual shoes", "sports shoes", "formal shoes", "heels", "flats", "sandals",
                 "sports sandals", "flip flops", "boots", "sneakers", "loafers", "mules",
                 "footwear"],
    "eyewear": ["sunglasses", "eyewear", "frames"],
    "handbag": ["handbags", "clutches", "handbag", "hand bags", "sling bag", "tote bags",
                "shoulder bags"],
}.items():
    for _t in _theirs:
        CATEGORY_MAP[_t] = _ours


def map_category(*names: Optional[str]) -> Optional[str]:
    """Our category for the first of `names` (Myntra category, article type, ...) we know."""
    for name in names:
        if name:
            ours = CATEGORY_MAP.get(name.strip().lower())
            if ours:
                return ours
    return None


@dataclass
class Item:
    """One product as a Myntra page shows it, before it is mapped to the catalog schema."""

    product_id: str
    name: str
    brand: str
    price: Optional[int]
    mrp: Optional[int]
    landing_url: str  # relative to https://www.myntra.com/, as in `landingPageUrl`
    image_url: Optional[str]
    gender: Optional[str] = None
    category: Optional[str] = None  # Myntra's own category / article type, e.g. "Tshirts"
    colour: Optional[str] = None
    source: str = "json"  # "json" or "dom"


@dataclass
class ListingPage:
    """What one listing page yielded."""

    items: list[Item] = field(default_factory=list)
    source: str = "none"  # "json", "dom" or "none"
    total_count: Optional[int] = None
    has_next: Optional[bool] = None  # from JSON `hasNextPage`, else from li.pagination-next
    next_href: Optional[str] = None  # href of li.pagination-next a, if any
    error: Optional[str] = None
