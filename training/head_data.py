"""The labelled catalog the embedding head learns from, its fixed-seed holdout, and the CCP
street crops the head is checked on (cut exactly as `lookbot eval` cuts them)."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from core.catalog_items import CatalogItem
from core.config import SHARED_CATALOG, SHARED_CCP, Config

CATALOG_CSV = SHARED_CATALOG / "products.csv"
HIRES_CSV = SHARED_CATALOG / "products_hires.csv"
CCP_DIR = SHARED_CCP
SPLIT_NAME = "embedding_split.json"


def make_split(items: Sequence[CatalogItem], holdout_fraction: float = 0.3, seed: int = 7
               ) -> dict:
    """Fixed-seed holdout, stratified by article type so every type is measured."""
    rng = random.Random(seed)
    by_type: dict[str, list[str]] = {}
    for it in items:
        by_type.setdefault(it.article_type, []).append(it.id)
    train, holdout = [], []
    for t in sorted(by_type):
        ids = sorted(by_type[t])
        rng.shuffle(ids)
        n = int(round(len(ids) * holdout_fraction))
        holdout += ids[:n]
        train += ids[n:]
    return {"seed": seed, "holdout_fraction": holdout_fraction, "source": str(CATALOG_CSV),
            "note": "catalog ids the embedding head was trained on (train) and kept out of "
                    "training for measurement (holdout)",
            "train": sorted(train, key=int), "heldout": sorted(holdout, key=int)}


def load_or_make_split(path: Path, items: Sequence[CatalogItem], **kwargs) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    split = make_split(items, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(split, indent=1))
    return split


# --- street crops from CCP, for the street-to-shop check ------------------------------------
def street_photos(config: Optional[Config] = None) -> list[str]:
    """The CCP photos `lookbot eval` queries with: the detector's validation split."""
    models_dir = config.models_dir if config is not None else Config().models_dir
    path = models_dir / "detector_split.json"
    if path.exists():
        data = json.loads(path.read_text())
        if isinstance(data.get("val"), list):
            return sorted(data["val"])
    from .ccp_dataset import split_photos

    names = sorted(p.name for p in (CCP_DIR / "photos").glob("*.jpg"))
    return split_photos(names, n_val=160, seed=0)["val"]


def street_tuning_photos(config: Optional[Config] = None, n: int = 160, seed: int = 1
                         ) -> list[str]:
    """CCP photos outside the evaluation photos, for choosing the colour weights."""
    val = set(street_photos(config))
    names = sorted(p.name for p in (CCP_DIR / "photos").glob("*.jpg") if p.name not in val)
    random.Random(seed).shuffle(names)
    return sorted(names[:n])


def street_queries(config: Config, limit: Optional[int] = None,
                   photos: Optional[Sequence[str]] = None):
    """(garments, crops, owner) exactly as `lookbot eval` cuts them (measure.eval_retrieval).

    `photos` defaults to the evaluation photos (`street_photos`).
    """
    from measure.eval_street import street_garments
    from core.imageio import decode
    from core.crops import crop

    photos = list(photos) if photos is not None else street_photos(config)
    if limit is not None:
        photos = photos[:limit]
    garments = street_garments(CCP_DIR, photos)
    crops, owner = [], []
    for gi, g in enumerate(garments):
        photo = decode((CCP_DIR / "photos" / g.image).read_bytes(),
                       max_bytes=config.max_image_bytes, max_pixels=config.max_image_pixels,
                       work_side=config.work_side)
        for box in g.boxes:
            crops.append(crop(photo, tuple(v / photo.scale for v in box)))
            owner.append(gi)
    return garments, crops, np.array(owner, dtype=np.int64)
