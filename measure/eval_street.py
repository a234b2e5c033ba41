"""The street garments of `lookbot eval`'s street-to-shop check, from the CCP photos.

One garment per photo and CCP label, with its boxes from `boxes.csv` and its colour named from
the pixels of its mask. measure/eval_retrieval.py queries the catalog with their crops, and
training/head_data.py cuts the same crops for the head's street figures.
"""
from __future__ import annotations

import csv
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
from PIL import Image

from .eval_data import progress
from .eval_labels import SKIPPED_CCP_LABELS, dominant_colour
from core.records import CATEGORIES, Box

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------- street crops

@dataclass
class StreetGarment:
    """One garment in one CCP photo: its category, label, boxes and mask colour."""

    image: str
    ccp_label: str
    category: str
    boxes: list[Box]
    family: Optional[str] = None
    colour: Optional[str] = None


def ccp_label_names(ccp_dir: Path) -> list[str]:
    import scipy.io as sio

    return [str(x[0]) for x in sio.loadmat(str(Path(ccp_dir) / "label_list.mat"))["label_list"][0]]


def street_garments(ccp_dir: Path, photos: Iterable[str]) -> list[StreetGarment]:
    """Garments of the given CCP photos from boxes.csv, each coloured from its pixel mask."""
    import scipy.io as sio

    ccp_dir = Path(ccp_dir)
    wanted = set(photos)
    labels = ccp_label_names(ccp_dir)
    grouped: dict[tuple[str, str], StreetGarment] = {}
    with open(ccp_dir / "boxes.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["image"] not in wanted or r["ccp_label"] in SKIPPED_CCP_LABELS \
                    or r["category"] not in CATEGORIES:
                continue
            key = (r["image"], r["ccp_label"])
            g = grouped.setdefault(key, StreetGarment(r["image"], r["ccp_label"], r["category"], []))
            g.boxes.append(tuple(float(r[k]) for k in ("x1", "y1", "x2", "y2")))
    by_photo: dict[str, list[StreetGarment]] = defaultdict(list)
    for g in grouped.values():
        by_photo[g.image].append(g)
    out = []
    for image in progress(sorted(by_photo), "street garments"):
        mat = ccp_dir / "pixel-level" / (Path(image).stem + ".mat")
        try:
            mask = sio.loadmat(str(mat))["groundtruth"]
            rgb = np.asarray(Image.open(ccp_dir / "photos" / image).convert("RGB"))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("skipping CCP photo %s: %s", image, exc)
            continue
        if mask.shape[:2] != rgb.shape[:2]:
            log.warning("skipping CCP photo %s: mask %s vs photo %s", image, mask.shape,
                        rgb.shape)
            continue
        for g in sorted(by_photo[image], key=lambda g: g.ccp_label):
            label_id = labels.index(g.ccp_label)
            pix = []
            for x1, y1, x2, y2 in g.boxes:
                sub = mask[int(y1):int(y2) + 1, int(x1):int(x2) + 1] == label_id
                pix.append(rgb[int(y1):int(y2) + 1, int(x1):int(x2) + 1][sub])
            g.family, g.colour = dominant_colour(np.concatenate(pix) if pix else np.zeros((0, 3)))
            out.append(g)
    return out
