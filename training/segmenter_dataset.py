"""The segmenter's training data: CCP's pixel masks as a YOLO segmentation dataset.

Same photos, split and instances as the detector (training/ccp_dataset.py): every detector label box
becomes one instance whose mask is the pixels of its category inside that box. A CCP label belongs to
the category that boxes.csv gives it; dress/suit/romper pixels are topwear above the waist and
bottomwear below it, as the detector's dress boxes are. An instance whose pixels fall apart into
several pieces (a bag strap, an open coat) becomes one polygon joined the way ultralytics joins COCO's
multi-part masks.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np

from core.records import CATEGORIES
from training.ccp_dataset import (DRESS_LABELS, WAIST_FRACTION, LabelledPhoto, person_span,
                                   read_shots, write_yolo_tree)

log = logging.getLogger(__name__)

MIN_CONTOUR_PIXELS = 20  # contour pieces smaller than this are annotation specks, not garment parts


def label_categories(ccp_dir: Path) -> dict[int, str]:
    """CCP label id -> lookbot category ('dress' for the labels split at the waist), as boxes.csv maps them."""
    import scipy.io as sio

    names = [str(x[0]) for x in sio.loadmat(str(Path(ccp_dir) / "label_list.mat"))["label_list"][0]]
    pairs = {(r["ccp_label"], r["category"]) for r in csv.DictReader(open(Path(ccp_dir) / "boxes.csv"))}
    out = {names.index(label): cat for label, cat in pairs}
    for label in DRESS_LABELS:
        out[names.index(label)] = "dress"
    return out


def read_mask(ccp_dir: Path, image: str) -> np.ndarray:
    """CCP's label-id mask of `image` (h x w ints)."""
    import scipy.io as sio

    return sio.loadmat(str(Path(ccp_dir) / "pixel-level" / (Path(image).stem + ".mat")))["groundtruth"]


def category_masks(label_mask: np.ndarray, label_cats: dict[int, str], waist_y: float) -> dict[str, np.ndarray]:
    """One bool mask per lookbot category, dress pixels split at `waist_y`."""
    cat_of = np.full(int(label_mask.max()) + 1, "", dtype=object)
    for lid, cat in label_cats.items():
        if lid < len(cat_of):
            cat_of[lid] = cat
    cats = cat_of[label_mask]
    rows = np.arange(label_mask.shape[0])[:, None]
    dress = cats == "dress"
    out = {c: cats == c for c in CATEGORIES}
    out["topwear"] |= dress & (rows < waist_y)
    out["bottomwear"] |= dress & (rows >= waist_y)
    return out


def instance_masks(photo: LabelledPhoto, cat_masks: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """Each detector box of `photo` with the pixels of its category inside it."""
    out = []
    h, w = next(iter(cat_masks.values())).shape
    for cat, (x1, y1, x2, y2) in photo.boxes:
        inst = np.zeros((h, w), bool)
        xa, ya, xb, yb = max(0, int(x1)), max(0, int(y1)), min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
        inst[ya:yb, xa:xb] = cat_masks[cat][ya:yb, xa:xb]
        if inst.any():
            out.append((cat, inst))
    return out


def mask_polygon(mask: np.ndarray) -> np.ndarray | None:
    """One closed polygon (n x 2, pixels) for `mask`, its pieces joined; None when nothing is left."""
    import cv2
    from ultralytics.data.converter import merge_multi_segment

    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    parts = [c.reshape(-1, 2) for c in contours if cv2.contourArea(c) >= MIN_CONTOUR_PIXELS and len(c) >= 3]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0].astype(np.float32)
    joined = merge_multi_segment([p.reshape(-1).tolist() for p in parts])
    return np.concatenate(joined, axis=0).astype(np.float32)


def write_seg_dataset(photos: dict[str, LabelledPhoto], split: dict[str, Any], ccp_dir: Path,
                      work_dir: Path) -> Path:
    """YOLO segmentation dataset (normalised polygons) under `work_dir`; returns data.yaml."""
    ccp_dir = Path(ccp_dir)
    label_cats = label_categories(ccp_dir)
    shots = read_shots(ccp_dir)

    def polygon_lines(name: str) -> list[str]:
        mask = read_mask(ccp_dir, name)
        top, bottom = person_span(shots.get(name), mask)
        masks = category_masks(mask, label_cats, top + WAIST_FRACTION * (bottom - top))
        lines = []
        for cat, inst in instance_masks(photos[name], masks):
            poly = mask_polygon(inst)
            if poly is None:
                continue
            h, w = inst.shape
            xy = np.clip(poly / np.array([w, h], np.float32), 0, 1).reshape(-1)
            lines.append(f"{CATEGORIES.index(cat)} " + " ".join(f"{v:.5f}" for v in xy))
        return lines

    return write_yolo_tree(split, ccp_dir, work_dir, polygon_lines, desc="segmentation labels")
