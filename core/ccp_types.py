"""The one mapping from CCP's street garment labels to the catalog's article types.

A CCP label maps to the catalog article types a shopper would accept for it (coat, jacket and
blazer -> Jackets; sneakers -> Sports or Casual Shoes; bag and purse -> Handbags or Clutches).
`lookbot eval` scores results with it, the street model (core/street.py) turns its predicted
labels into catalog types with it (and picks the likeliest type to filter by), and
training/street_training.py learns the labels.
"""
from __future__ import annotations

from typing import Mapping, Optional

# CCP garment label -> catalog article types a shopper would accept for it, the likeliest first.
ACCEPTED_TYPES: dict[str, tuple[str, ...]] = {
    "blouse": ("Tops", "Shirts", "Tunics", "Kurtis"), "shirt": ("Shirts", "Tops"),
    "t-shirt": ("Tshirts", "Tops"), "top": ("Tops", "Tshirts", "Tunics", "Kurtis"),
    "bodysuit": ("Tops", "Tshirts"), "vest": ("Tops", "Tshirts", "Jackets"),
    "sweater": ("Sweaters", "Sweatshirts"), "sweatshirt": ("Sweatshirts", "Sweaters"),
    "jumper": ("Sweaters", "Sweatshirts"), "cardigan": ("Sweaters", "Jackets"),
    "hoodie": ("Sweatshirts", "Jackets"), "coat": ("Jackets",), "jacket": ("Jackets",),
    "blazer": ("Jackets",), "cape": ("Jackets", "Sweaters"),
    "pants": ("Trousers", "Track Pants", "Jeans", "Capris", "Leggings"),
    "jeans": ("Jeans", "Trousers"), "skirt": ("Skirts",), "shorts": ("Shorts",),
    "leggings": ("Leggings", "Track Pants", "Capris"),
    "shoes": ("Casual Shoes", "Sports Shoes", "Formal Shoes", "Heels", "Flats"),
    "boots": ("Casual Shoes", "Formal Shoes", "Heels"),
    "sandals": ("Sandals", "Sports Sandals", "Flats", "Heels", "Flip Flops"),
    "loafers": ("Casual Shoes", "Formal Shoes", "Flats"), "heels": ("Heels",),
    "pumps": ("Heels",), "wedges": ("Heels", "Sandals"),
    "sneakers": ("Sports Shoes", "Casual Shoes"), "flats": ("Flats", "Casual Shoes"),
    "clogs": ("Casual Shoes", "Sandals"),
    "bag": ("Handbags", "Clutches"), "purse": ("Handbags", "Clutches"), "wallet": ("Clutches",),
    "sunglasses": ("Sunglasses",), "glasses": ("Sunglasses",),
}
PLAUSIBLE_TYPES: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in ACCEPTED_TYPES.items()}
SKIPPED_CCP_LABELS = ("dress", "suit", "romper")


def plausible(ccp_label: str, article_type: Optional[str]) -> bool:
    return (article_type or "") in PLAUSIBLE_TYPES.get(ccp_label, frozenset())


def type_plausibility(label_probs: Mapping[str, float]) -> dict[str, float]:
    """Catalog article type -> probability that a shopper accepts it, given label probabilities.

    Types come in ACCEPTED_TYPES' order, not a frozenset's: tied types (pants gives Jeans and
    Trousers the same probability) then resolve alike in every process, whatever its hash seed."""
    out: dict[str, float] = {}
    for label, p in label_probs.items():
        for t in ACCEPTED_TYPES.get(label, ()):
            out[t] = out.get(t, 0.0) + float(p)
    return out


def likeliest(types: dict[str, float], floor: float) -> frozenset[str]:
    """The most plausible type (all tied at the top) when at least `floor`: the type a street
    hint filters to (core/street.py). Five products of the likeliest type are right more often,
    on average, than any mix (out of fold on the train photos, topwear type@5 0.694 against 0.671
    for every type from 0.5; docs/MEASUREMENTS.md, "Street picks")."""
    if not types:
        return frozenset()
    top = max(types.values())
    return frozenset(t for t, q in types.items() if q >= top - 1e-9 and q >= floor)
