"""`lookbot eval`: how good the gate, the detector and the retrieval are, on real labelled data.

The top half holds pure functions with known answers (confusion matrix, all-point AP, P@k, colour
naming and families, article-type plausibility); `run_eval` at the bottom runs them on
../shared/data and returns figures under stable JSON keys; `format_eval` prints them as tables.

Definitions written down here, once:

- Gate: photos under `people/fullshot` must pass, photos under `people/not_fullshot` must be refused
  (labels from `manifest.csv`, else from the folder names). `ambiguous/` and `multi_person/` have no
  right answer; their pass counts are reported for information only.
- Detector: per-class AP at IoU 0.50 and mean AP over IoU 0.50:0.05:0.95, with all-point
  interpolation of the precision envelope (VOC 2010+). Detections are matched to ground truth
  greedily by descending score, each to the unmatched ground-truth box of its class with the highest
  IoU in the same photo (COCO rule). Ground truth is the detector's own label conversion of CCP
  (`core.detector_training.load_ccp_labels`: dresses split at the waist, layered tops merged) on the
  photos of `data/models/detector_split.json`'s `val` list; without that file, the same fixed-seed
  split (`split_photos(n_val=160, seed=0)`) is recomputed.
- Catalog to catalog: the engine's catalog (the demo catalog by default; products.csv when the
  database is empty). Each held-out item (`embedding_split.json`'s `heldout`, else every item)
  queries the exact nearest neighbours of its own category among all catalog items, excluding
  itself, with each embedding in turn: `backbone` (ImageNet features alone, the baseline) and
  `head` (the trained head, what `look` uses) when one is installed. Exact search isolates the
  embedding; Annoy's own recall is measured by `lookbot bench`.
  P@5 counts results with the same `article_type`, the same `colour`, and the same gender group
  (GENDER_GROUPS below; Unisex agrees with everyone).
- Street to shop: each CCP garment (one ccp_label in one validation photo; both shoes together)
  is cut from the photo by its box and queries its category. Its colour is the majority colour
  family of its mask pixels (each pixel named by the nearest catalog colour in CIE Lab, COLOUR_RGB);
  colour-family agreement@5 is the share of the top 5 whose catalog colour is in that family, and
  article-type plausibility@5 the share whose article type is in PLAUSIBLE_TYPES[ccp_label].
  Dresses, suits and rompers are skipped: the catalog has no such category.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import platform
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw

from .config import REPO_ROOT, Config
from .fusion import box_iou
from .records import CATEGORIES, Box

log = logging.getLogger(__name__)

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_PEOPLE_DIR = SHARED_DATA / "people"
DEFAULT_CCP_DIR = SHARED_DATA / "ccp"
DEFAULT_CATALOG_DIR = SHARED_DATA / "catalog"
FIGURES_DIR = REPO_ROOT / "docs" / "figures"

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))

# Goals from the issues, so every report says met / not met next to the figure.
GOALS: dict[str, float] = {
    "gate_fullshot_pass": 0.95, "gate_not_fullshot_reject": 0.95,
    "map50_topwear": 0.80, "map50_bottomwear": 0.80, "map50_footwear": 0.80,
    "map50_eyewear": 0.60, "map50_handbag": 0.60,
    "p5_article_type": 0.80, "p5_colour": 0.65, "p5_gender": 0.92,
    "street_colour_family_at5": 0.60,
}

# ------------------------------------------------------------------------------- gate figures

GATE_CLASSES = ("fullshot", "not_fullshot")


def confusion_matrix(truth: Sequence[str], predicted: Sequence[str],
                     labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """{true label: {predicted label: count}} over `labels` (others are ignored)."""
    out = {t: {p: 0 for p in labels} for t in labels}
    for t, p in zip(truth, predicted):
        if t in out and p in out[t]:
            out[t][p] += 1
    return out


def accuracy(matrix: dict[str, dict[str, int]]) -> Optional[float]:
    total = sum(sum(row.values()) for row in matrix.values())
    right = sum(matrix[c].get(c, 0) for c in matrix)
    return right / total if total else None


def class_recall(matrix: dict[str, dict[str, int]], label: str) -> Optional[float]:
    row = matrix.get(label, {})
    n = sum(row.values())
    return row.get(label, 0) / n if n else None


# ------------------------------------------------------------------------------- detector figures

iou = box_iou  # the fusion's IoU; matching and NMS must agree on overlap


def average_precision(recall: Sequence[float], precision: Sequence[float]) -> float:
    """Area under the precision envelope, all-point interpolation (VOC 2010 and later)."""
    mrec = np.concatenate(([0.0], np.asarray(recall, float), [1.0]))
    mpre = np.concatenate(([0.0], np.asarray(precision, float), [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


@dataclass
class Scored:
    """A predicted box of one class in one photo."""

    image: str
    box: Box
    score: float


def class_ap(predictions: Sequence[Scored], truth: dict[str, list[Box]], iou_thr: float
             ) -> Optional[float]:
    """AP of one class: `truth` maps photo -> its ground-truth boxes. None when there are none."""
    n_true = sum(len(b) for b in truth.values())
    if n_true == 0:
        return None
    order = sorted(predictions, key=lambda p: -p.score)
    used = {img: [False] * len(b) for img, b in truth.items()}
    tp = np.zeros(len(order))
    for k, p in enumerate(order):
        gts = truth.get(p.image, [])
        best, best_j = iou_thr, -1
        for j, g in enumerate(gts):
            if used[p.image][j]:
                continue
            v = iou(p.box, g)
            if v >= best:
                best, best_j = v, j
        if best_j >= 0:
            used[p.image][best_j] = True
            tp[k] = 1
    if len(order) == 0:
        return 0.0
    ctp = np.cumsum(tp)
    recall = ctp / n_true
    precision = ctp / np.arange(1, len(order) + 1)
    return average_precision(recall, precision)


def detection_map(predictions: dict[str, list[tuple[str, Box, float]]],
                  truth: dict[str, list[tuple[str, Box]]],
                  classes: Sequence[str] = CATEGORIES) -> dict[str, dict[str, Optional[float]]]:
    """Per-class mAP50 and mAP50-95. `predictions`/`truth` map photo -> (class, box[, score])."""
    out: dict[str, dict[str, Optional[float]]] = {"map50": {}, "map50_95": {}, "n_true": {}}
    for cls in classes:
        preds = [Scored(img, tuple(b), float(s)) for img, dets in predictions.items()
                 for c, b, s in dets if c == cls]
        gts = {img: [tuple(b) for c, b in boxes if c == cls] for img, boxes in truth.items()}
        aps = [class_ap(preds, gts, t) for t in IOU_THRESHOLDS]
        out["n_true"][cls] = sum(len(v) for v in gts.values())
        if aps[0] is None:
            out["map50"][cls] = out["map50_95"][cls] = None
            continue
        out["map50"][cls] = round(aps[0], 4)
        out["map50_95"][cls] = round(float(np.mean(aps)), 4)
    vals50 = [v for v in out["map50"].values() if v is not None]
    vals = [v for v in out["map50_95"].values() if v is not None]
    out["mean"] = {"map50": round(float(np.mean(vals50)), 4) if vals50 else None,
                   "map50_95": round(float(np.mean(vals)), 4) if vals else None}
    return out


# ------------------------------------------------------------------------------- retrieval figures

GENDER_GROUPS: dict[str, str] = {"Men": "men", "Boys": "men", "Women": "women", "Girls": "women",
                                 "Unisex": "unisex"}


def same_gender_group(a: Optional[str], b: Optional[str]) -> bool:
    ga, gb = GENDER_GROUPS.get(a or "", "unisex"), GENDER_GROUPS.get(b or "", "unisex")
    return ga == gb or "unisex" in (ga, gb)


def exact_knn(gallery: np.ndarray, queries: np.ndarray, k: int,
              exclude: Optional[Sequence[int]] = None) -> list[list[int]]:
    """Row numbers of the k nearest gallery rows (Euclidean), nearest first, per query.

    `exclude[i]` (a gallery row, or -1/None) is never returned for query i: a catalog item
    must not find itself.
    """
    gallery = np.asarray(gallery, np.float64)
    queries = np.asarray(queries, np.float64)
    d = (np.sum(queries ** 2, 1, keepdims=True) - 2 * queries @ gallery.T
         + np.sum(gallery ** 2, 1)[None, :])
    if exclude is not None:
        for i, j in enumerate(exclude):
            if j is not None and j >= 0:
                d[i, j] = np.inf
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return [[int(j) for j in row if np.isfinite(d[i, j])] for i, row in enumerate(order)]


def precision_at_k(query_labels: Sequence[Any], result_labels: Sequence[Sequence[Any]], k: int,
                   agree: Callable[[Any, Any], bool] = lambda a, b: a == b) -> Optional[float]:
    """Mean over queries of (results among the first k that agree with the query) / k."""
    scores = []
    for q, results in zip(query_labels, result_labels):
        top = list(results)[:k]
        scores.append(sum(1 for r in top if agree(q, r)) / k)
    return float(np.mean(scores)) if scores else None


# ------------------------------------------------------------------------------- colours

# A reference sRGB value for each catalog colour name (the Myntra names in products.csv).
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "Black": (25, 25, 27), "Charcoal": (60, 62, 66), "White": (245, 245, 245),
    "Off White": (238, 234, 222), "Cream": (243, 233, 205), "Grey": (128, 128, 130),
    "Grey Melange": (165, 165, 165), "Silver": (192, 192, 196), "Steel": (110, 120, 128),
    "Blue": (45, 95, 180), "Navy Blue": (28, 36, 70), "Turquoise Blue": (60, 190, 205),
    "Teal": (0, 120, 125), "Red": (200, 30, 40), "Maroon": (110, 22, 38),
    "Burgundy": (120, 10, 40), "Rust": (175, 70, 30), "Pink": (240, 145, 175),
    "Magenta": (200, 35, 140), "Peach": (250, 195, 165), "Mauve": (185, 140, 165),
    "Purple": (105, 50, 140), "Lavender": (185, 170, 220), "Green": (40, 140, 65),
    "Olive": (105, 105, 50), "Sea Green": (46, 139, 87), "Yellow": (240, 210, 45),
    "Mustard": (205, 160, 35), "Gold": (200, 165, 75), "Orange": (240, 120, 30),
    "Copper": (184, 115, 51), "Bronze": (150, 110, 50), "Brown": (105, 68, 40),
    "Coffee Brown": (80, 55, 38), "Mushroom Brown": (150, 130, 112), "Taupe": (135, 120, 105),
    "Tan": (205, 170, 125), "Khaki": (190, 175, 140), "Beige": (222, 203, 172),
}

# Catalog colour name -> colour family. Names not listed (Multi, Metallic, NA) have no family and
# never agree with a query.
COLOUR_FAMILIES: dict[str, str] = {
    "Black": "black", "Charcoal": "black",
    "White": "white", "Off White": "white", "Cream": "white",
    "Grey": "grey", "Grey Melange": "grey", "Silver": "grey", "Steel": "grey",
    "Blue": "blue", "Navy Blue": "blue", "Turquoise Blue": "blue", "Teal": "blue",
    "Red": "red", "Maroon": "red", "Burgundy": "red",
    "Pink": "pink", "Magenta": "pink", "Peach": "pink", "Mauve": "pink",
    "Purple": "purple", "Lavender": "purple",
    "Green": "green", "Olive": "green", "Sea Green": "green",
    "Yellow": "yellow", "Mustard": "yellow", "Gold": "yellow",
    "Orange": "orange", "Rust": "orange", "Copper": "orange",
    "Brown": "brown", "Coffee Brown": "brown", "Mushroom Brown": "brown", "Taupe": "brown",
    "Bronze": "brown",
    "Beige": "beige", "Tan": "beige", "Khaki": "beige",
}


def colour_family(name: Optional[str]) -> Optional[str]:
    return COLOUR_FAMILIES.get((name or "").strip())


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """N x 3 uint8 (or 0-255 float) sRGB -> N x 3 CIE Lab (D65)."""
    c = np.asarray(rgb, dtype=np.float64).reshape(-1, 3) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]),
                     200 * (f[:, 1] - f[:, 2])], axis=1)


_NAMES = list(COLOUR_RGB)
_CENTROIDS = srgb_to_lab(np.array([COLOUR_RGB[n] for n in _NAMES]))


def nearest_colour_names(rgb: np.ndarray) -> list[str]:
    """Each pixel's nearest catalog colour name (CIE76 distance to the Lab centroids)."""
    lab = srgb_to_lab(rgb)
    d = ((lab[:, None, :] - _CENTROIDS[None, :, :]) ** 2).sum(-1)
    return [_NAMES[i] for i in d.argmin(1)]


def dominant_colour(pixels: np.ndarray, max_pixels: int = 4000, seed: int = 0
                    ) -> tuple[Optional[str], Optional[str]]:
    """(majority family, most common name within that family) of N x 3 RGB mask pixels."""
    pixels = np.asarray(pixels).reshape(-1, 3)
    if len(pixels) == 0:
        return None, None
    if len(pixels) > max_pixels:
        pixels = pixels[np.random.default_rng(seed).choice(len(pixels), max_pixels, replace=False)]
    names = nearest_colour_names(pixels)
    families = Counter(COLOUR_FAMILIES[n] for n in names)
    family = families.most_common(1)[0][0]
    name = Counter(n for n in names if COLOUR_FAMILIES[n] == family).most_common(1)[0][0]
    return family, name


# ------------------------------------------------------------------------------- article types

# CCP garment label -> catalog article types a shopper would accept for it.
PLAUSIBLE_TYPES: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
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
}.items()}
SKIPPED_CCP_LABELS = ("dress", "suit", "romper")


def plausible(ccp_label: str, article_type: Optional[str]) -> bool:
    return (article_type or "") in PLAUSIBLE_TYPES.get(ccp_label, frozenset())


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
    for image in _progress(sorted(by_photo), "street garments"):
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


# ------------------------------------------------------------------------------- contact sheet

def contact_sheet(rows: Sequence[tuple[Image.Image, str, Sequence[tuple[Image.Image, str]]]],
                  path: Path, cell: tuple[int, int] = (96, 128)) -> Path:
    """One row per query: the query crop, then its results, each with a caption below."""
    cw, ch = cell
    cap = 26
    ncols = 1 + max((len(r[2]) for r in rows), default=0)
    sheet = Image.new("RGB", (ncols * (cw + 6) + 6, max(1, len(rows)) * (ch + cap + 6) + 6),
                      (255, 255, 255))
    draw = ImageDraw.Draw(sheet)

    def put(im: Image.Image, text: str, col: int, row: int, frame: tuple[int, int, int]):
        x, y = 6 + col * (cw + 6), 6 + row * (ch + cap + 6)
        im = im.convert("RGB").copy()
        im.thumbnail((cw, ch))
        sheet.paste(im, (x + (cw - im.width) // 2, y + (ch - im.height) // 2))
        draw.rectangle((x - 1, y - 1, x + cw, y + ch), outline=frame)
        for i, line in enumerate(text.split("\n")[:2]):
            draw.text((x, y + ch + 2 + i * 12), line[:17], fill=(0, 0, 0))

    for r, (query, caption, results) in enumerate(rows):
        put(query, caption, 0, r, (220, 40, 40))
        for c, (im, text) in enumerate(results):
            put(im, text, c + 1, r, (160, 160, 160))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


# ------------------------------------------------------------------------------- data loading

@dataclass
class CatalogItem:
    id: str  # products.csv id, without any "demo:" prefix
    category: str
    article_type: str
    colour: str
    gender: str
    file: Path
    sha1: Optional[str] = None  # image hash, the key of stored backbone features


def catalog_items_from_db(catalog) -> list[CatalogItem]:
    """Labelled products of the engine's own catalog (the demo catalog by default)."""
    out = []
    for row in catalog.products(active_only=True):
        path = catalog.image_file(row)
        if path is None or row.get("category") not in CATEGORIES or not row.get("article_type"):
            continue
        out.append(CatalogItem(bare_id(row["id"]), row["category"], row["article_type"],
                               row.get("colour") or "", row.get("gender") or "", path,
                               row.get("image_sha1")))
    return out


def load_catalog_items(catalog_dir: Path) -> list[CatalogItem]:
    catalog_dir = Path(catalog_dir)
    out = []
    with open(catalog_dir / "products.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["category"] not in CATEGORIES:
                continue
            path = catalog_dir / r["file"]
            if path.exists():
                out.append(CatalogItem(r["id"], r["category"], r["article_type"],
                                       r["colour"], r["gender"], path))
    return out


def bare_id(pid: Any) -> str:
    return str(pid).split(":")[-1]


def held_out_ids(models_dir: Path) -> tuple[Optional[set[str]], str]:
    """Catalog ids the embedding head never trained on, and where that list came from."""
    path = Path(models_dir) / "embedding_split.json"
    if not path.exists():
        return None, "none (no embedding_split.json: every catalog item queries)"
    data = json.loads(path.read_text())
    for key in ("heldout", "held_out", "test", "val", "eval"):
        if isinstance(data.get(key), list):
            return {bare_id(x) for x in data[key]}, f"{path.name}:{key}"
    log.warning("%s has no held-out list (keys %s): every catalog item queries", path,
                sorted(data))
    return None, f"none ({path.name} has no held-out list)"


def detector_val_photos(models_dir: Path, ccp_dir: Path) -> tuple[list[str], str]:
    path = Path(models_dir) / "detector_split.json"
    if path.exists():
        data = json.loads(path.read_text())
        if isinstance(data.get("val"), list):
            return sorted(data["val"]), f"{path.name}:val (seed {data.get('seed')})"
    from .detector_training import split_photos

    names = sorted(p.name for p in (Path(ccp_dir) / "photos").glob("*.jpg"))
    return split_photos(names, n_val=160, seed=0)["val"], \
        "fixed-seed fallback: split_photos(n_val=160, seed=0), no detector_split.json"


def gate_labels(people_dir: Path) -> list[tuple[Path, str]]:
    """(photo, label) from manifest.csv, else from the folder names."""
    people_dir = Path(people_dir)
    manifest = people_dir / "manifest.csv"
    out = []
    if manifest.exists():
        with open(manifest, newline="") as fh:
            for r in csv.DictReader(fh):
                p = people_dir / r["file"]
                if p.exists():
                    out.append((p, r["label"]))
    else:
        for folder in sorted(p for p in people_dir.iterdir() if p.is_dir()):
            out += [(f, folder.name) for f in sorted(folder.iterdir()) if f.is_file()]
    return sorted(out)


# ------------------------------------------------------------------------------- the evaluation

def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": cores, "cpu": cpu, "python": platform.python_version(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _progress(items: list, desc: str) -> Any:
    """A progress bar on stderr for the long loops (quiet for a handful of items)."""
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="it", disable=len(items) < 20, mininterval=5)


def _limit(items: list, limit: Optional[int]) -> list:
    return items if limit is None else items[:limit]


def eval_gate(engine, people_dir: Path, limit: Optional[int]) -> dict[str, Any]:
    from .imageio import BadImage

    labelled = gate_labels(people_dir)
    per_label: dict[str, list[Path]] = defaultdict(list)
    for p, label in labelled:
        per_label[label].append(p)
    truth, pred, reasons = [], [], {}
    false_rej: Counter = Counter()
    rejected_files, accepted_files = [], []
    info: dict[str, dict[str, int]] = {}
    todo = [(label, path) for label in sorted(per_label) for path in _limit(per_label[label], limit)]
    for label, path in _progress(todo, "gate"):
        try:
            verdict = engine.gate.check(engine.decode(path.read_bytes()).rgb)
            ok, reason = verdict.full_shot, verdict.reason
        except BadImage as exc:
            ok, reason = False, exc.reason
        reasons[str(path)] = reason
        if label not in GATE_CLASSES:
            info.setdefault(label, {"pass": 0, "reject": 0})["pass" if ok else "reject"] += 1
            continue
        truth.append(label)
        pred.append("fullshot" if ok else "not_fullshot")
        if label == "fullshot" and not ok:
            false_rej[reason] += 1
            rejected_files.append(f"{path.relative_to(people_dir)}: {reason}")
        if label == "not_fullshot" and ok:
            accepted_files.append(str(path.relative_to(people_dir)))
    m = confusion_matrix(truth, pred, GATE_CLASSES)
    full, notfull = class_recall(m, "fullshot"), class_recall(m, "not_fullshot")
    return {
        "n": len(truth),
        "confusion": {"fullshot": {"pass": m["fullshot"]["fullshot"],
                                   "reject": m["fullshot"]["not_fullshot"]},
                      "not_fullshot": {"pass": m["not_fullshot"]["fullshot"],
                                       "reject": m["not_fullshot"]["not_fullshot"]}},
        "accuracy": _r(accuracy(m)), "fullshot_pass_rate": _r(full),
        "not_fullshot_reject_rate": _r(notfull),
        "false_rejection_reasons": dict(false_rej.most_common()),
        "false_rejections": rejected_files, "false_acceptances": accepted_files,
        "unlabelled_folders": info,
        "goal_met": bool(full is not None and notfull is not None
                         and full >= GOALS["gate_fullshot_pass"]
                         and notfull >= GOALS["gate_not_fullshot_reject"]),
    }


def _r(v: Optional[float], nd: int = 4) -> Optional[float]:
    return None if v is None else round(float(v), nd)


def detector_variants(engine, config: Config) -> dict[str, Any]:
    """The pose fallback alone, the YOLO model alone, and what the engine uses (fused)."""
    from .regions import PoseRegionFinder

    variants: dict[str, Any] = {"pose": PoseRegionFinder(score=config.pose_score)}
    weights = config.models_dir / "detector.pt"
    if weights.exists():
        try:
            from .yolo import YoloDetector

            variants["yolo"] = YoloDetector(weights)
        except Exception as exc:  # report, do not crash the whole evaluation
            log.warning("YOLO detector not usable: %s", exc)
    if getattr(engine.detector, "name", "pose") != "pose" or \
            type(engine.detector).__name__ != "PoseRegionFinder":
        variants["fused"] = _AtScore(engine.detector, 0.01)  # what `lookbot detect` reports
        variants["fused_shipped"] = engine.detector  # at the configured score threshold
    return variants


class _AtScore:
    """A detector called with a fixed `min_score` override (the raw output used for mAP)."""

    def __init__(self, detector, min_score: float):
        self.detector, self.min_score = detector, min_score
        self.name = getattr(detector, "name", type(detector).__name__)

    def detect(self, image, verdict=None):
        try:
            return self.detector.detect(image, verdict, min_score=self.min_score)
        except TypeError:  # a detector without the override: its own threshold
            return self.detector.detect(image, verdict)


def eval_detector(engine, config: Config, ccp_dir: Path, limit: Optional[int]) -> dict[str, Any]:
    from .detect import scale_detections
    from .detector_training import load_ccp_labels

    photos, split = detector_val_photos(config.models_dir, ccp_dir)
    photos = _limit(photos, limit)
    labels = load_ccp_labels(ccp_dir)
    truth = {p: labels[p].boxes for p in photos if p in labels}
    variants = detector_variants(engine, config)
    preds: dict[str, dict[str, list]] = {name: {} for name in variants}
    seconds: dict[str, float] = defaultdict(float)
    if truth:  # warm-up, so the first photo's model set-up is not timed
        first = engine.decode((Path(ccp_dir) / "photos" / next(iter(truth))).read_bytes())
        first_verdict = engine.gate.check(first.rgb)
        for det in variants.values():
            det.detect(first.rgb, first_verdict)
    for name in _progress(list(truth), "detector"):
        image = engine.decode((Path(ccp_dir) / "photos" / name).read_bytes())
        verdict = engine.gate.check(image.rgb)
        for vname, det in variants.items():
            t = time.perf_counter()
            dets = det.detect(image.rgb, verdict)
            seconds[vname] += time.perf_counter() - t
            dets = scale_detections(dets, image.scale, image.width, image.height)
            preds[vname][name] = [(d.category, d.box, d.score) for d in dets if d.score >= 0.01]
    out: dict[str, Any] = {"split": split, "n_photos": len(truth),
                           "note": "pose: fixed score, boxes from the gate's landmarks; yolo: raw "
                                   "boxes from score 0.01; fused: the fusion rules on YOLO boxes "
                                   "from 0.01, as `lookbot detect` reports them; fused_shipped: "
                                   f"as `look` uses it, YOLO boxes at or above detector_score "
                                   f"{config.detector_score} plus pose fill-ins, so its "
                                   "precision-recall curve stops at that threshold; ms: detector "
                                   "time per photo, gate excluded",
                           "n_boxes": {c: sum(1 for b in truth.values() for k, _ in b if k == c)
                                       for c in CATEGORIES},
                           "variants": {}}
    for vname in variants:
        m = detection_map(preds[vname], truth)
        m["ms_per_photo"] = round(1000 * seconds[vname] / max(1, len(truth)), 1)
        m["goal_met"] = {c: (None if m["map50"][c] is None else m["map50"][c] >= GOALS[f"map50_{c}"])
                         for c in CATEGORIES}
        out["variants"][vname] = m
    return out


def load_rgb_file(path: Path) -> Optional[Image.Image]:
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except Exception as exc:
        log.warning("unreadable image %s: %s", path, exc)
        return None


def catalog_features(embedder, items: Sequence[CatalogItem], cache_dir: Optional[Path],
                     batch: int = 64, catalog=None) -> tuple[np.ndarray, list[Image.Image]]:
    """Backbone features of catalog images, and the images.

    Features come from the catalog's store (what `lookbot index` kept), then from an .npz cache
    in `cache_dir`, and only then from the CNN.
    """
    images = [load_rgb_file(it.file) or Image.new("RGB", (60, 80), "white") for it in items]
    key = embedder.backbone_version
    cache = Path(cache_dir) / f"catalog-features-{key}.npz" if cache_dir else None
    known: dict[str, np.ndarray] = {}
    if cache and cache.exists():
        with np.load(cache) as z:
            known = dict(zip(z["ids"].tolist(), z["feats"]))
    store_version = getattr(embedder, "features_version", None)
    if catalog is not None and store_version:
        shas = sorted({it.sha1 for it in items if it.sha1 and it.id not in known})
        stored = catalog.get_embeddings(shas, store_version) if shas else {}
        known.update({it.id: stored[it.sha1] for it in items if it.sha1 in stored})
        log.info("eval: %d of %d catalog features from the store", len(stored), len(items))
    todo = [i for i, it in enumerate(items) if it.id not in known]
    if todo:
        from tqdm import tqdm

        for s in tqdm(range(0, len(todo), batch), desc="catalog features", unit="batch",
                      disable=len(todo) < 2 * batch):
            idx = todo[s:s + batch]
            feats = embedder.backbone_features([images[i] for i in idx])
            known.update({items[i].id: f for i, f in zip(idx, feats)})
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            ids = sorted(known)
            np.savez(cache, ids=np.array(ids), feats=np.stack([known[i] for i in ids]))
    return np.stack([known[it.id] for it in items]).astype(np.float32), images


def embedding_variants(embedder) -> dict[str, Callable]:
    """'backbone' (ImageNet features only) and, when a head is loaded, 'head' (what look uses)."""
    from .embed import l2_normalise

    out: dict[str, Callable] = {"backbone": lambda feats, crops: l2_normalise(feats)}
    if embedder.head is not None:
        out["head"] = lambda feats, crops: embedder.from_features(feats, crops)
    return out


# figure name -> (query label, result label, agreement); see precision_at_k
Score = tuple[Callable[[Any], Any], Callable[[Any], Any], Callable[[Any, Any], bool]]
_same: Callable[[Any, Any], bool] = lambda a, b: a == b
CATALOG_SCORES: dict[str, Score] = {
    "p5_article_type": (lambda x: x.article_type, lambda y: y.article_type, _same),
    "p5_colour": (lambda x: x.colour, lambda y: y.colour, _same),
    "p5_gender": (lambda x: x.gender, lambda y: y.gender, same_gender_group),
}
STREET_SCORES: dict[str, Score] = {
    "colour_family_at5": (lambda g: g.family, lambda y: colour_family(y.colour), _same),
    "article_plausible_at5": (lambda g: g.ccp_label, lambda y: y.article_type, plausible),
}


def _scores_at_k(queries: Sequence[Any], results: Sequence[Sequence[Any]], k: int,
                 scores: dict[str, Score]) -> dict[str, Optional[float]]:
    """Each named agreement@k of queries with their ranked results, rounded."""
    return {name: _r(precision_at_k([query(x) for x in queries],
                                    [[result(y) for y in row] for row in results], k, agree))
            for name, (query, result, agree) in scores.items()}


def _category_knn(vectors: np.ndarray, cats: Sequence[str], qvec: np.ndarray,
                  qcats: Sequence[str], k: int, qself: Optional[Sequence[int]] = None,
                  items: Optional[Sequence["CatalogItem"]] = None, rerank_weight: float = 0.0
                  ) -> list[list[int]]:
    """Nearest gallery rows of each query's own category (global row numbers).

    With `rerank_weight` > 0 the nearest 50 are re-ordered by their labels' vote, as
    `Engine.search` does (core/rerank.py), before the first `k` are kept.
    """
    if rerank_weight > 0 and items is not None:
        from .pipeline import RERANK_WINDOW
        from .rerank import Candidate, rerank

        wide = _category_knn(vectors, cats, qvec, qcats, max(k, RERANK_WINDOW), qself)
        out = []
        for q, row in zip(qvec, wide):
            dists = np.linalg.norm(vectors[row] - q, axis=1) if row else []
            cands = [Candidate(str(j), float(d), {"article_type": items[j].article_type,
                                                  "colour": items[j].colour,
                                                  "gender": items[j].gender})
                     for j, d in zip(row, dists)]
            out.append([int(c.key) for c in rerank(cands, weight=rerank_weight,
                                                   window=RERANK_WINDOW)[:k]])
        return out
    cats = np.asarray(cats)
    out: list[list[int]] = [[] for _ in range(len(qvec))]
    for c in sorted(set(qcats)):
        rows = np.where(cats == c)[0]
        qi = [i for i, qc in enumerate(qcats) if qc == c]
        if len(rows) == 0 or not qi:
            continue
        pos = {int(r): j for j, r in enumerate(rows)}
        excl = [pos.get(qself[i], -1) if qself is not None else -1 for i in qi]
        nn = exact_knn(vectors[rows], qvec[qi], k, exclude=excl)
        for i, r in zip(qi, nn):
            out[i] = [int(rows[j]) for j in r]
    return out


def run_eval(config: Optional[Config] = None, out_dir: Optional[Path] = None,
             people_dir: Path = DEFAULT_PEOPLE_DIR, ccp_dir: Path = DEFAULT_CCP_DIR,
             limit: Optional[int] = None, catalog_dir: Path = DEFAULT_CATALOG_DIR,
             parts: Sequence[str] = ("gate", "detector", "catalog", "street"), k: int = 5,
             engine=None) -> dict[str, Any]:
    """Every quality figure, under stable keys. `limit` caps each set for a quick run.

    The work runs in one worker thread, as the bot runs the engine: on a busy 2-core machine
    torch in the main thread can be several times slower (its thread team spins for cores).
    """
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookbot-eval") as pool:
        return pool.submit(_run_eval, config, out_dir, people_dir, ccp_dir, limit, catalog_dir,
                           parts, k, engine).result()


def _run_eval(config, out_dir, people_dir, ccp_dir, limit, catalog_dir, parts, k, engine
              ) -> dict[str, Any]:
    from .pipeline import Engine

    config = config or Config.from_env()
    out_dir = Path(out_dir or REPO_ROOT / "runs" / "eval")
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    engine = engine or Engine(config, load_index=False)
    report: dict[str, Any] = {
        "meta": {**machine(), "limit": limit, "embedding": engine.embedder.version,
                 "detector": getattr(engine.detector, "name", type(engine.detector).__name__),
                 "goals": GOALS},
    }
    if "gate" in parts:
        log.info("eval: gate on %s", people_dir)
        report["gate"] = eval_gate(engine, Path(people_dir), limit)
    if "detector" in parts:
        log.info("eval: detector on CCP validation photos")
        report["detector"] = eval_detector(engine, config, Path(ccp_dir), limit)
    if "catalog" in parts or "street" in parts:
        report.update(eval_retrieval(engine, config, out_dir, Path(ccp_dir), Path(catalog_dir),
                                     limit, parts, k))
    report["meta"]["seconds"] = round(time.perf_counter() - start, 1)
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1))
    return report


def eval_retrieval(engine, config: Config, out_dir: Path, ccp_dir: Path, catalog_dir: Path,
                   limit: Optional[int], parts: Sequence[str], k: int) -> dict[str, Any]:
    from .pipeline import crop

    items = catalog_items_from_db(engine.catalog)
    source = str(config.catalog_path)
    if not items:
        items, source = load_catalog_items(catalog_dir), str(catalog_dir / "products.csv")
    held, split = held_out_ids(config.models_dir)
    if limit is not None:  # a small gallery: `limit` queries and 20 * limit items a category
        per_cat: dict[str, int] = Counter()
        per_query: dict[str, int] = Counter()
        small = []
        for it in items:
            if (held is None or it.id in held) and per_query[it.category] < limit:
                per_query[it.category] += 1
                small.append(it)
            elif per_cat[it.category] < 20 * limit:
                small.append(it)
                per_cat[it.category] += 1
        items = small
    log.info("eval: %d catalog images", len(items))
    feats, images = catalog_features(engine.embedder, items,
                                     None if limit is not None else out_dir / "cache",
                                     catalog=engine.catalog)
    variants = embedding_variants(engine.embedder)
    gallery = {v: fn(feats, images) for v, fn in variants.items()}
    cats = [it.category for it in items]
    out: dict[str, Any] = {}
    sheet_rows: list = []
    runs = {v: (v, 0.0) for v in variants}
    if config.rerank_weight > 0:
        base = "head" if "head" in variants else "backbone"
        runs[f"{base}+rerank"] = (base, config.rerank_weight)
    # the variant `look` uses: the head, re-ranked when re-ranking is on
    best = list(runs)[-1]

    if "catalog" in parts:
        qidx = [i for i, it in enumerate(items) if held is None or it.id in held]
        if limit is not None:
            by_cat: dict[str, list[int]] = defaultdict(list)
            for i in qidx:
                by_cat[items[i].category].append(i)
            qidx = [i for c in CATEGORIES for i in by_cat[c][:limit]]
        res: dict[str, Any] = {"split": split, "catalog": source, "n_queries": len(qidx),
                               "n_gallery": len(items),
                               "k": k, "variants": {}}
        for v, (gkey, weight) in runs.items():
            vecs = gallery[gkey]
            nn = _category_knn(vecs, cats, vecs[qidx], [cats[i] for i in qidx], k, qself=qidx,
                               items=items, rerank_weight=weight)
            q = [items[i] for i in qidx]
            r = [[items[j] for j in row] for row in nn]
            fig = {**_scores_at_k(q, r, k, CATALOG_SCORES), "per_category": {}}
            per_category = {m: CATALOG_SCORES[m] for m in ("p5_article_type", "p5_colour")}
            for c in CATEGORIES:
                sel = [j for j, x in enumerate(q) if x.category == c]
                if sel:
                    fig["per_category"][c] = {"n": len(sel), **_scores_at_k(
                        [q[j] for j in sel], [r[j] for j in sel], k, per_category)}
            fig["goal_met"] = {m: None if fig[m] is None else fig[m] >= GOALS[m]
                               for m in ("p5_article_type", "p5_colour", "p5_gender")}
            res["variants"][v] = fig
            if v == best:
                for j in range(0, len(q), max(1, len(q) // 4))[:4]:
                    sheet_rows.append((images[qidx[j]], f"{q[j].article_type}\n{q[j].colour}",
                                       [(images[items.index(y)], f"{y.article_type}\n{y.colour}")
                                        for y in r[j]]))
        res["default_variant"] = best
        out["catalog"] = res

    if "street" in parts:
        photos, street_split = detector_val_photos(config.models_dir, ccp_dir)
        garments = street_garments(ccp_dir, _limit(photos, limit))
        crops: list[Image.Image] = []
        owner: list[int] = []
        for gi, g in enumerate(_progress(garments, "street crops")):
            photo = engine.decode((ccp_dir / "photos" / g.image).read_bytes())
            for b in g.boxes:
                crops.append(crop(photo, tuple(v / photo.scale for v in b)))
                owner.append(gi)
        qfeats = np.concatenate([engine.embedder.backbone_features(crops[s:s + 32])
                                 for s in range(0, len(crops), 32)]) if crops else \
            np.zeros((0, feats.shape[1]), np.float32)
        res = {"photos": street_split, "n_photos": len({g.image for g in garments}),
               "n_queries": len(garments), "k": k,
               "query_families": dict(Counter(g.family for g in garments).most_common()),
               "variants": {}}
        owner_arr = np.array(owner)
        for v, (gkey, weight) in runs.items():
            per_crop = variants[gkey](qfeats, crops) if len(crops) else qfeats
            qvec = np.stack([per_crop[owner_arr == gi].mean(0) for gi in range(len(garments))]) \
                if garments else np.zeros((0, gallery[gkey].shape[1]), np.float32)
            qvec = qvec / np.maximum(np.linalg.norm(qvec, axis=1, keepdims=True), 1e-12)
            nn = _category_knn(gallery[gkey], cats, qvec, [g.category for g in garments], k,
                               items=items, rerank_weight=weight)
            r = [[items[j] for j in row] for row in nn]
            fig = {**_scores_at_k(garments, r, k, STREET_SCORES), "per_category": {}}
            for c in CATEGORIES:
                sel = [j for j, g in enumerate(garments) if g.category == c]
                if sel:
                    fig["per_category"][c] = {"n": len(sel), **_scores_at_k(
                        [garments[j] for j in sel], [r[j] for j in sel], k, STREET_SCORES)}
            cf5 = fig["colour_family_at5"]
            fig["goal_met"] = {"street_colour_family_at5": None if cf5 is None
                               else cf5 >= GOALS["street_colour_family_at5"]}
            res["variants"][v] = fig
            if v == best:
                first_crop = {gi: crops[owner.index(gi)] for gi in range(len(garments))}
                step = max(1, len(garments) // 10)
                for j in range(0, len(garments), step)[:10]:
                    g = garments[j]
                    sheet_rows.append((first_crop[j], f"{g.ccp_label}\n{g.family}/{g.colour}",
                                       [(images[items.index(y)], f"{y.article_type}\n{y.colour}")
                                        for y in r[j]]))
        res["default_variant"] = best
        out["street"] = res

    if sheet_rows:
        path = contact_sheet(sheet_rows, out_dir / "contact_sheet.png")
        out["contact_sheet"] = str(path)
    return out


# ------------------------------------------------------------------------------- readable output

def _f(v: Any) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _goal(met: Optional[bool]) -> str:
    return "" if met is None else ("met" if met else "NOT met")


def format_eval(report: dict[str, Any]) -> str:
    """The evaluation as plain-text tables."""
    lines = []
    m = report.get("meta", {})
    lines.append(f"lookbot eval  {m.get('date')}  {m.get('cores')} cores {m.get('cpu')}  "
                 f"embedding {m.get('embedding')}  detector {m.get('detector')}"
                 + (f"  limit {m['limit']}" if m.get("limit") else ""))
    g = report.get("gate")
    if g:
        c = g["confusion"]
        lines += ["", f"Gate ({g['n']} labelled photos)",
                  f"  {'truth':<14}{'pass':>6}{'reject':>8}",
                  f"  {'fullshot':<14}{c['fullshot']['pass']:>6}{c['fullshot']['reject']:>8}",
                  f"  {'not_fullshot':<14}{c['not_fullshot']['pass']:>6}"
                  f"{c['not_fullshot']['reject']:>8}",
                  f"  accuracy {_f(g['accuracy'])}  full shots passed {_f(g['fullshot_pass_rate'])}"
                  f"  others refused {_f(g['not_fullshot_reject_rate'])}  (goal 0.95 both: "
                  f"{_goal(g['goal_met'])})"]
        if g["false_rejection_reasons"]:
            lines.append("  false rejections by reason: " + ", ".join(
                f"{k} {v}" for k, v in g["false_rejection_reasons"].items()))
        for k, v in g.get("unlabelled_folders", {}).items():
            lines.append(f"  {k} (no right answer): pass {v['pass']}, reject {v['reject']}")
    d = report.get("detector")
    if d:
        lines += ["", f"Detector ({d['n_photos']} photos, {d['split']})", f"  {d.get('note', '')}",
                  f"  {'variant':<14}{'metric':<10}" + "".join(f"{c:>11}" for c in CATEGORIES)
                  + f"{'mean':>8}{'ms':>8}"]
        for v, fig in d["variants"].items():
            for metric in ("map50", "map50_95"):
                lines.append(f"  {v:<14}{metric:<10}" + "".join(
                    f"{_f(fig[metric][c]):>11}" for c in CATEGORIES)
                    + f"{_f(fig['mean'][metric]):>8}"
                    + (f"{fig['ms_per_photo']:>8}" if metric == "map50" else ""))
            lines.append(f"  {'':<14}{'goal':<10}" + "".join(
                f"{_goal(fig['goal_met'][c]):>11}" for c in CATEGORIES))
    cat = report.get("catalog")
    if cat:
        lines += ["", f"Catalog to catalog P@{cat['k']} ({cat['n_queries']} queries, gallery "
                      f"{cat['n_gallery']}, split {cat['split']})",
                  f"  {'embedding':<10}{'article_type':>14}{'colour':>14}{'gender':>14}"]
        for v, fig in cat["variants"].items():
            lines.append(f"  {v:<10}{_f(fig['p5_article_type']):>14}{_f(fig['p5_colour']):>14}"
                         f"{_f(fig['p5_gender']):>14}")
        fig = cat["variants"][cat["default_variant"]]
        lines.append(f"  {'goal':<10}" + "".join(
            f"{str(GOALS[m]) + ' ' + _goal(fig['goal_met'][m]):>{w}}"
            for m, w in (("p5_article_type", 14), ("p5_colour", 14), ("p5_gender", 14))))
    st = report.get("street")
    if st:
        lines += ["", f"Street to shop @{st['k']} ({st['n_queries']} CCP garments in "
                      f"{st['n_photos']} photos)",
                  f"  {'embedding':<10}{'colour family':>15}{'article type':>14}"]
        for v, fig in st["variants"].items():
            lines.append(f"  {v:<10}{_f(fig['colour_family_at5']):>15}"
                         f"{_f(fig['article_plausible_at5']):>14}")
        fig = st["variants"][st["default_variant"]]
        lines.append(f"  {'goal':<10}{'0.6 ' + _goal(fig['goal_met']['street_colour_family_at5']):>15}")
    if report.get("contact_sheet"):
        lines += ["", f"contact sheet: {report['contact_sheet']}"]
    return "\n".join(lines)
