"""The one CCP label -> catalog article type mapping (core/ccp_types.py), on the real label lists."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from core.ccp_types import PLAUSIBLE_TYPES, SKIPPED_CCP_LABELS, plausible, type_plausibility
from tests.helpers import SHARED, shared

REPO = Path(__file__).resolve().parents[2]

CCP = SHARED / "ccp"
needs_shared = pytest.mark.skipif(not (CCP / "boxes.csv").exists(), reason="no ../shared/data")

# The catalog's article types per category (../shared/README.md).
CATALOG_TYPES = {
    "topwear": {"Tshirts", "Shirts", "Tops", "Sweatshirts", "Jackets", "Kurtas", "Kurtis",
                "Tunics", "Sweaters"},
    "bottomwear": {"Jeans", "Trousers", "Shorts", "Skirts", "Track Pants", "Capris", "Leggings"},
    "footwear": {"Casual Shoes", "Sports Shoes", "Formal Shoes", "Heels", "Flats", "Sandals",
                 "Sports Sandals", "Flip Flops"},
    "eyewear": {"Sunglasses"}, "handbag": {"Handbags", "Clutches"},
}


def test_the_issue_s_examples():
    for label in ("coat", "jacket", "blazer"):
        assert PLAUSIBLE_TYPES[label] == {"Jackets"}
    assert "Jeans" in PLAUSIBLE_TYPES["jeans"] and not plausible("jeans", "Skirts")
    for label in ("heels", "pumps", "wedges"):
        assert "Heels" in PLAUSIBLE_TYPES[label]
    assert PLAUSIBLE_TYPES["sneakers"] == {"Casual Shoes", "Sports Shoes"}
    assert PLAUSIBLE_TYPES["bag"] == PLAUSIBLE_TYPES["purse"] == {"Handbags", "Clutches"}
    assert not plausible("blazer", "Shirts") and not plausible("coat", "Kurtas")
    assert not plausible("dress", "Tops") and "dress" in SKIPPED_CCP_LABELS


@needs_shared
def test_every_ccp_label_maps_into_its_own_catalog_category():
    rows = list(csv.DictReader(open(CCP / "boxes.csv")))
    category = {r["ccp_label"]: r["category"] for r in rows}
    for label, cat in category.items():
        if label in SKIPPED_CCP_LABELS:
            continue
        assert PLAUSIBLE_TYPES[label], label
        assert PLAUSIBLE_TYPES[label] <= CATALOG_TYPES[cat], label
    catalog = {r["article_type"] for r in csv.DictReader(open(shared("catalog", "products.csv")))}
    assert set().union(*PLAUSIBLE_TYPES.values()) <= catalog


def test_type_plausibility_adds_the_labels_that_accept_a_type():
    p = type_plausibility({"coat": 0.5, "blazer": 0.2, "sweater": 0.3})
    assert p["Jackets"] == pytest.approx(0.7)
    assert p["Sweaters"] == pytest.approx(0.3) and p["Sweatshirts"] == pytest.approx(0.3)
    assert "Shirts" not in p
    assert type_plausibility({"not-a-label": 1.0}) == {}


def test_type_plausibility_orders_types_alike_whatever_the_hash_seed():
    """Pants tie Jeans and Trousers; the look JSON's top type must not hang on the process's
    string hash seed (a Ray Serve replica named Trousers where the engine named Jeans)."""
    code = ("from core.ccp_types import type_plausibility as t; "
            "print(list(t({'pants': 0.6, 'jeans': 0.3, 'leggings': 0.1})))")
    orders = {subprocess.run([sys.executable, "-c", code], env={"PYTHONHASHSEED": seed},
                             capture_output=True, text=True, check=True, cwd=REPO).stdout
              for seed in ("0", "1", "2", "3", "4", "5")}
    assert len(orders) == 1, orders
    p = type_plausibility({"pants": 0.6, "jeans": 0.3, "leggings": 0.1})
    assert p["Jeans"] == p["Trousers"] and max(p, key=p.get) == "Trousers"  # listed first
