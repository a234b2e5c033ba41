"""Kids' products labelled for adults: a title that names kids sets the gender, in the catalog
store and so in the index's gender groups (issue 14: adults get no kids' items unless asked)."""
from __future__ import annotations

import csv

import pytest

from core.catalog import Catalog
from core.records import catalog_gender
from tests.helpers import shared


@pytest.mark.parametrize("label, title, gender", [
    ("Unisex", "Gini and Jony Kids Unisex Blue Jeans", "Kids"),
    ("Women", "Palm Tree Girl's Benita Blue Kidswear", "Girls"),
    ("Women", "Doodle Kids Girl Printed Grey Skirt", "Girls"),
    ("Men", "Gini and Jony Boys Karnel Jeans", "Boys"),
    ("Men", "Timberland Men Toddler Grey Casual Shoes", "Kids"),
    ("Boys", "Disney Kids Navy Blue Casual Shoes", "Boys"),  # the label already says which kid
    ("Women", "Fastrack Women FT Girl Sunglasses", "Women"),  # "FT Girl" is a product line
    ("Women", "Roadster Women Boyfriend Jeans", "Women"),
    ("Men", "Puma Men Blue T-shirt", "Men"),
    (None, "", None),
])
def test_catalog_gender(label, title, gender):
    assert catalog_gender(label, title) == gender


def test_the_store_corrects_a_kids_product_and_leaves_partial_updates_alone(tmp_path):
    catalog = Catalog(tmp_path / "catalog.db", tmp_path)
    base = {"source": "test", "category": "bottomwear", "active": 1}
    catalog.upsert_products([
        {**base, "id": "a", "title": "Gini and Jony Kids Unisex Blue Jeans", "gender": "Unisex"},
        {**base, "id": "b", "title": "Roadster Women Blue Jeans", "gender": "Women"}])
    # an update without a gender (a price from the crawl) keeps the stored one
    catalog.upsert_products([{**base, "id": "a", "title": "Gini and Jony Kids Unisex Blue Jeans",
                              "price": 799}])
    assert catalog.get("a")["gender"] == "Kids" and catalog.get("a")["price"] == 799
    assert catalog.get("b")["gender"] == "Women"


def test_real_catalog_labels_it_corrects():
    """The shared catalog's labels: 120 of 4,915 products are kids' products labelled for adults
    (or unisex); no product the title calls men's or women's is moved but for a kids' word."""
    with open(shared("catalog", "products.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    moved = [(r["gender"], catalog_gender(r["gender"], r["title"]), r["title"]) for r in rows
             if catalog_gender(r["gender"], r["title"]) != r["gender"]]
    assert len(moved) == 120
    assert all(new in ("Boys", "Girls", "Kids") for _, new, _ in moved)
    assert {old for old, _, _ in moved} <= {"Men", "Women", "Unisex"}
