"""The street crops the street models learn from: CCP garments cut as `look` cuts them.

Each garment of a CCP photo (one CCP label; both shoes together) gets the backbone features and
colour features of its box crops, its colour family from its pixel mask (measure.eval_street, the
same garments `lookbot eval` queries with), and the photo's wearer (wearer.csv). Each photo also
gets the features of its person box (the union of all its labelled boxes, dresses included).
Features are cached per backbone version, so a second training does not embed again.
"""
from __future__ import annotations

import csv
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from core.colour import COLOUR_FEATURE_DIM, colour_features
from core.config import SHARED_CCP, Config
from core.garment_geometry import GEOMETRY_DIM, garment_geometry, outfit_box
from core.imageio import decode
from core.crops import crop
from training.ccp_dataset import same_folder

log = logging.getLogger(__name__)

CCP_DIR = SHARED_CCP
CACHE_VERSION = "street-v1"  # bump when the crops or their features change


@dataclass
class StreetSet:
    """Arrays for the garments of some CCP photos (row i of each array is garment i)."""

    images: list[str]  # photo of each garment
    labels: list[str]  # its CCP label
    categories: list[str]
    families: list[str]  # colour family of its mask pixels ("" when unknown)
    feats: np.ndarray  # (n, dim) mean of the raw backbone features of its crops
    colour: np.ndarray  # (n, COLOUR_FEATURE_DIM) mean colour features of its crops
    person_images: list[str]  # one row per photo
    person_feats: np.ndarray  # (m, dim) raw backbone features of the person box
    geometry: Optional[np.ndarray] = None  # (n, GEOMETRY_DIM) its box's place on the person

    def rows(self, photos: Sequence[str]) -> np.ndarray:
        keep = set(photos)
        return np.array([i for i, im in enumerate(self.images) if im in keep], dtype=np.int64)

    def person_rows(self, photos: Sequence[str]) -> np.ndarray:
        keep = set(photos)
        return np.array([i for i, im in enumerate(self.person_images) if im in keep],
                        dtype=np.int64)


def read_wearers(ccp_dir: Path = CCP_DIR) -> dict[str, str]:
    """photo -> women | men | unsure, from wearer.csv (empty when the file is missing)."""
    path = Path(ccp_dir) / "wearer.csv"
    if not path.exists():
        return {}
    with open(path, newline="") as fh:
        return {r["image"]: r["wearer"].strip().lower() for r in csv.DictReader(fh)}


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def labelled_boxes(ccp_dir: Path, photos: Sequence[str]) -> dict[tuple[str, str], list[tuple]]:
    """(photo, CCP label) -> its boxes in boxes.csv."""
    wanted, boxes = set(photos), defaultdict(list)
    with open(Path(ccp_dir) / "boxes.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["image"] in wanted:
                boxes[(r["image"], r["ccp_label"])].append(
                    tuple(float(r[k]) for k in ("x1", "y1", "x2", "y2")))
    return boxes


def person_boxes(ccp_dir: Path, photos: Sequence[str]) -> dict[str, tuple]:
    """photo -> the union of all its labelled boxes (every label, dresses included)."""
    return _outfits(labelled_boxes(ccp_dir, photos))


def _outfits(boxes: dict[tuple[str, str], list[tuple]]) -> dict[str, tuple]:
    per_photo = defaultdict(list)
    for (image, _), label_boxes in boxes.items():
        per_photo[image] += label_boxes
    return {im: outfit_box(b) for im, b in per_photo.items()}


def garment_geometries(ccp_dir: Path, images: Sequence[str], labels: Sequence[str]
                       ) -> np.ndarray:
    """Each garment's place on its person (core/garment_geometry.py), from its labelled boxes."""
    boxes = labelled_boxes(ccp_dir, sorted(set(images)))
    people = _outfits(boxes)  # boxes.csv read once for both
    rows = [garment_geometry(boxes[(im, lab)], people[im]) for im, lab in zip(images, labels)]
    return np.stack(rows) if rows else np.zeros((0, GEOMETRY_DIM), np.float32)


def chunk_digest(photos: Sequence[str], ccp_dir: Path) -> str:
    """A cache file's name for these photos of `ccp_dir`. Another folder's photos may have the
    same names (a set of new photos in CCP's layout), so its path is part of the name; CCP's own
    folder keeps the names it always had."""
    key = "\n".join(photos)
    if not same_folder(ccp_dir, CCP_DIR):
        key += f"\n@{Path(ccp_dir).resolve()}"
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def _load(cache: Path) -> Optional[StreetSet]:
    if not cache.exists():
        return None
    with np.load(cache, allow_pickle=False) as z:
        return StreetSet(z["images"].tolist(), z["labels"].tolist(), z["categories"].tolist(),
                         z["families"].tolist(), z["feats"], z["colour"],
                         z["person_images"].tolist(), z["person_feats"])


def build_street_set(embedder, config: Config, photos: Sequence[str], ccp_dir: Path = CCP_DIR,
                     cache_dir: Optional[Path] = None, chunk: int = 40,
                     segmenter=None) -> StreetSet:
    """Features of every garment and person box in `photos`, `chunk` photos per cache file;
    with a `segmenter` each garment is its white cut-out, as `look` embeds it (core/segment.py)."""
    from tqdm import tqdm

    photos = sorted(photos)
    parts = []
    for s in tqdm(range(0, len(photos), chunk), desc="street crops", unit="chunk",
                  disable=len(photos) <= chunk):
        part = photos[s:s + chunk]
        cache = None
        if cache_dir is not None:
            digest = chunk_digest(part, ccp_dir)
            cut = "-cut" if segmenter is not None else ""
            cache = Path(cache_dir) / f"{CACHE_VERSION}{cut}-{embedder.features_key}-{digest}.npz"
            found = _load(cache)
            if found is not None:
                parts.append(found)
                continue
        parts.append(_street_chunk(embedder, config, part, ccp_dir, segmenter))
        if cache is not None:
            _save(parts[-1], cache)
    out = _concat(parts)
    out.geometry = garment_geometries(ccp_dir, out.images, out.labels)
    return out


def _save(out: StreetSet, cache: Path) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, images=np.array(out.images), labels=np.array(out.labels),
             categories=np.array(out.categories), families=np.array(out.families),
             feats=out.feats, colour=out.colour, person_images=np.array(out.person_images),
             person_feats=out.person_feats)
    tmp.replace(cache)


def _concat(parts: Sequence[StreetSet]) -> StreetSet:
    return StreetSet(sum((p.images for p in parts), []), sum((p.labels for p in parts), []),
                     sum((p.categories for p in parts), []), sum((p.families for p in parts), []),
                     np.concatenate([p.feats for p in parts]),
                     np.concatenate([p.colour for p in parts]),
                     sum((p.person_images for p in parts), []),
                     np.concatenate([p.person_feats for p in parts]))


def _street_chunk(embedder, config: Config, photos: Sequence[str], ccp_dir: Path,
                  segmenter=None) -> StreetSet:
    from core.segment import mask_for
    from measure.eval_street import street_garments

    garments = street_garments(ccp_dir, photos)
    people = person_boxes(ccp_dir, photos)
    by_photo = defaultdict(list)
    for g in garments:
        by_photo[g.image].append(g)
    rows, feats, colour, p_images, p_feats = [], [], [], [], []
    for image in photos:
        if image not in people:
            continue
        photo = decode((Path(ccp_dir) / "photos" / image).read_bytes(),
                       max_bytes=config.max_image_bytes, max_pixels=config.max_image_pixels,
                       work_side=config.work_side)
        crops, owner = [crop(photo, tuple(v / photo.scale for v in people[image]))], [-1]
        segments = segmenter.segment(photo.rgb) if segmenter is not None else []
        for gi, g in enumerate(by_photo[image]):
            for b in g.boxes:
                box = tuple(v / photo.scale for v in b)
                crops.append(crop(photo, box, mask=mask_for(segments, g.category, box)))
                owner.append(gi)
        f = embedder.backbone_features(crops)
        c = colour_features(crops[1:])
        owner_arr = np.array(owner[1:])
        p_images.append(image)
        p_feats.append(f[0])
        for gi, g in enumerate(by_photo[image]):
            sel = owner_arr == gi
            rows.append(g)
            feats.append(f[1:][sel].mean(0))
            colour.append(c[sel].mean(0))
    dim = embedder.backbone.dim
    return StreetSet([g.image for g in rows], [g.ccp_label for g in rows],
                     [g.category for g in rows], [g.family or "" for g in rows],
                     np.stack(feats).astype(np.float32) if feats else np.zeros((0, dim), np.float32),
                     np.stack(colour).astype(np.float32) if colour else np.zeros((0, COLOUR_FEATURE_DIM), np.float32),
                     p_images, np.stack(p_feats).astype(np.float32) if p_feats else np.zeros((0, dim), np.float32))


@dataclass
class HeadSet:
    """Per photo: the backbone features of the head box and the body shape, from the gate's pose."""

    images: list[str]
    feats: np.ndarray  # (m, dim); zeros where the pose was not found
    shape: np.ndarray  # (m, SHAPE_DIM)
    found: np.ndarray  # (m,) bool


def build_head_set(gate, embedder, config: Config, photos: Sequence[str], ccp_dir: Path = CCP_DIR,
                   cache_dir: Optional[Path] = None, chunk: int = 40) -> HeadSet:
    """Head-box features and body shapes of `photos`, `chunk` photos per cache file."""
    from tqdm import tqdm

    from core.regions import SHAPE_DIM, body_shape, head_region

    pose = getattr(gate, "runtime", "mediapipe")  # which pose placed the head boxes: the cache's name
    photos = sorted(photos)
    images, feats, shapes, found = [], [], [], []
    for s in tqdm(range(0, len(photos), chunk), desc="head crops", unit="chunk",
                  disable=len(photos) <= chunk):
        part = photos[s:s + chunk]
        digest = chunk_digest(part, ccp_dir)
        cache = Path(cache_dir) / f"head-{CACHE_VERSION}-{pose}-{embedder.features_key}-{digest}.npz" \
            if cache_dir is not None else None
        if cache is not None and cache.exists():
            with np.load(cache) as z:
                images += z["images"].tolist()
                feats.append(z["feats"]), shapes.append(z["shape"]), found.append(z["found"])
            continue
        crops, f_shape, f_found = [], [], []
        for image in part:
            photo = decode((Path(ccp_dir) / "photos" / image).read_bytes(),
                           max_bytes=config.max_image_bytes, max_pixels=config.max_image_pixels,
                           work_side=config.work_side)
            lms = gate.landmarks(photo.rgb)
            box = head_region(lms, photo.rgb.shape[1], photo.rgb.shape[0])
            f_found.append(box is not None)
            f_shape.append(body_shape(lms))
            crops.append(crop(photo, box, margin=0.0) if box is not None else None)
        f = np.zeros((len(part), embedder.backbone.dim), np.float32)
        ok = [i for i, c in enumerate(crops) if c is not None]
        if ok:
            f[ok] = embedder.backbone_features([crops[i] for i in ok])
        shape = np.stack(f_shape) if f_shape else np.zeros((0, SHAPE_DIM), np.float32)
        images += list(part)
        feats.append(f), shapes.append(shape), found.append(np.array(f_found, bool))
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp.npz")
            np.savez(tmp, images=np.array(part), feats=f, shape=shape, found=found[-1])
            tmp.replace(cache)
    return HeadSet(images, np.concatenate(feats), np.concatenate(shapes), np.concatenate(found))
