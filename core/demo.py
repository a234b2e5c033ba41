"""The embedded demo catalog, built from the Kaggle "Fashion Product Images" (Myntra) set."""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Optional

from PIL import Image
from tqdm import tqdm

from .catalog import Catalog, larger_copy, now_iso, sha1_file
from .records import CATEGORIES, GENDERS

log = logging.getLogger(__name__)

GENDER_WORDS = {"men", "men's", "mens", "women", "women's", "womens", "boys", "boy's", "boy",
                "girls", "girl's", "girl", "unisex", "kids", "kid's"}


def brand_from_title(title: str) -> Optional[str]:
    """Myntra titles start with the brand and then the gender: "Puma Men Blue T-shirt"."""
    words = title.split()
    for i, word in enumerate(words[:5]):
        if word.lower() in GENDER_WORDS:
            return " ".join(words[:i]) or None
    return None


def strip_metadata(src: Path, dst: Path) -> None:
    """Re-save without EXIF, XMP and ICC blocks, which are most of these thumbnails' bytes."""
    with Image.open(src) as im:
        im.convert("RGB").save(dst, format="JPEG", quality=95)


LARGE_SIZE = (240, 320)  # the bot's largest collage tile: bigger copies would only cost space


def copy_larger_pictures(source: Path, images: Path) -> int:
    """Larger copies (from `source/products_hires.csv`, up to 480x640) of the demo pictures
    that have one, fitted to LARGE_SIZE, where `core.catalog.larger_copy` looks for them."""
    listing = source / "products_hires.csv"
    if not listing.exists():
        return 0
    n = 0
    with open(listing, newline="") as fh:
        for row in csv.DictReader(fh):
            picture = images / f"{row['id']}.jpg"
            dst = larger_copy(picture)
            if not picture.exists() or dst.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(source / row["file"]) as im:
                im = im.convert("RGB")
                im.thumbnail(LARGE_SIZE, Image.LANCZOS)
                im.save(dst, format="JPEG", quality=90)
            n += 1
    return n


def build_demo_catalog(source: Path, data_dir: Path, progress: bool = True) -> int:
    """Copy images and rows of `source/products.csv` into a catalog under `data_dir`."""
    catalog = Catalog(data_dir / "catalog.db", data_dir)
    images = data_dir / "images" / "demo"
    images.mkdir(parents=True, exist_ok=True)
    with open(source / "products.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    stamp = now_iso()
    records = []
    for row in tqdm(rows, desc="demo catalog", disable=not progress):
        if row["category"] not in CATEGORIES or row["gender"] not in GENDERS:
            log.warning("skipping %s: unknown category or gender", row["id"])
            continue
        src = source / row["file"]
        dst = images / f"{row['id']}.jpg"
        if not dst.exists():
            strip_metadata(src, dst)
        records.append({
            "id": f"demo:{row['id']}", "source": "demo", "product_id": row["id"],
            "url": f"https://www.myntra.com/{row['id']}", "brand": brand_from_title(row["title"]),
            "title": row["title"], "price": None, "mrp": None, "category": row["category"],
            "article_type": row["article_type"], "gender": row["gender"],
            "colour": row["colour"] or None, "image_url": None,
            "image_path": str(dst.relative_to(data_dir)), "image_sha1": sha1_file(dst),
            "first_seen": stamp, "last_seen": stamp, "active": 1,
        })
    catalog.upsert_products(records)
    catalog.checkpoint()
    log.info("%d larger pictures copied", copy_larger_pictures(source, images))
    return len(records)
