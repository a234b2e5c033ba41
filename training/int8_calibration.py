"""The calibration crops of the int8 embedding backbone (data/models/int8_calibration/), and the
calibration photos of the int8 detectors (data/models/detector_calibration/).

Static int8 needs real activations to choose each tensor's range. The crops are committed, so the
engine quantizes offline and deterministically on a fresh machine (core/embed_int8.py): catalog
product shots and CCP street crops (garment boxes and the whole person) of the detector's TRAIN
photos only, never its validation photos, each already padded to the backbone's square input.
"""
from __future__ import annotations

import csv
import logging
import random
import shutil
from pathlib import Path

from PIL import Image

from core.config import SHARED_CATALOG, SHARED_CCP
from core.embed import pad_to_square
from core.detector_int8 import CALIBRATION_DIR as DETECTOR_CALIBRATION_DIR
from core.embed_int8 import CALIBRATION_DIR

from .ccp_dataset import load_split

log = logging.getLogger(__name__)

MIN_BOX_AREA = 1500  # px: smaller boxes are slivers the engine does not embed


def street_crops(ccp_dir: Path, photos: list[str], per_photo: int = 3) -> list[Image.Image]:
    """Up to `per_photo` labelled garment boxes of each photo, and the whole photo (the person)."""
    boxes: dict[str, list[dict]] = {}
    with open(ccp_dir / "boxes.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            boxes.setdefault(row["image"], []).append(row)
    out = []
    for name in photos:
        with Image.open(ccp_dir / "photos" / name) as im:
            im = im.convert("RGB")
            rows = [b for b in boxes.get(name, []) if int(b["area_px"]) > MIN_BOX_AREA][:per_photo]
            out += [im.crop(tuple(int(b[k]) for k in ("x1", "y1", "x2", "y2"))) for b in rows]
            out.append(im)
    return out


def write_calibration_set(models_dir: Path, out_dir: Path = CALIBRATION_DIR, n_catalog: int = 64,
                          n_street_photos: int = 16, seed: int = 0, size: int = 224) -> int:
    """Writes the calibration crops as JPEGs into `out_dir` (replacing any there); returns their number."""
    rng = random.Random(seed)
    with open(SHARED_CATALOG / "products.csv", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["id"])
    with open(SHARED_CATALOG / "products_hires.csv", newline="") as fh:
        hires = sorted(csv.DictReader(fh), key=lambda r: r["id"])
    chosen = rng.sample(rows, n_catalog * 2 // 3) + rng.sample(hires, n_catalog - n_catalog * 2 // 3)
    crops = []
    for row in chosen:
        with Image.open(SHARED_CATALOG / row["file"]) as im:
            crops.append(im.convert("RGB"))
    train = sorted(load_split(models_dir)["train"])
    crops += street_crops(SHARED_CCP, rng.sample(train, n_street_photos))
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.jpg"):
        old.unlink()
    for i, crop in enumerate(crops):
        pad_to_square(crop, size).save(out_dir / f"{i:03d}.jpg", format="JPEG", quality=92)
    log.info("wrote %d calibration crops into %s", len(crops), out_dir)
    return len(crops)


def write_detector_calibration_set(models_dir: Path, out_dir: Path = DETECTOR_CALIBRATION_DIR,
                                   n_photos: int = 32) -> int:
    """Copies every 20th of the detector's TRAIN photos (in name order, up to `n_photos`) as they
    are into `out_dir`, replacing any there; returns their number. core/detector_int8.py
    letterboxes them as `look` does."""
    train = sorted(load_split(models_dir)["train"])
    chosen = train[::max(1, len(train) // n_photos)][:n_photos]
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.jpg"):
        old.unlink()
    for name in chosen:
        shutil.copyfile(SHARED_CCP / "photos" / name, out_dir / name)
    log.info("copied %d detector calibration photos into %s", len(chosen), out_dir)
    return len(chosen)
