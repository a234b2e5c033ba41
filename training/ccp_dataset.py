"""The detector's training data: the Clothing Co-Parsing (CCP) street photos as a YOLO dataset.

Reads `boxes.csv` (+ the pixel masks for dresses) into boxes for the five lookbot categories, splits
the photos into train and validation with a fixed seed (`detector_split.json`), and writes a
YOLO-format dataset (symlinked photos + label files). training/detector_training.py trains on it; the
detector evaluation scores against the same labels and split.

Label decisions (also written into the detector report's "notes"):
- `dress` (CCP dress, suit, romper) is split at the waist into a topwear box over the upper part and a
  bottomwear box over the lower part, each the tight box of the dress mask pixels on that side. The
  catalog has no dress category; a top plus a skirt that look like the dress is the closest
  shopping list, and it keeps the detector's classes the same five that the pipeline searches.
  The waist is put at 44% of the person's height from the head, the median top edge of real
  bottomwear boxes in CCP, so dress halves look like the other labels.
- Same-category topwear/bottomwear boxes that overlap (intersection >= half the smaller box, e.g. an
  open coat over a blouse, or a dress top under a coat) are merged into their union: one box per
  visible garment region, the outer layer's extent. Footwear keeps one box per shoe.
"""
from __future__ import annotations

import csv
import json
import logging
import random
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import numpy as np

from core.config import SHARED_CCP
from core.records import CATEGORIES

log = logging.getLogger(__name__)

DEFAULT_CCP_DIR = SHARED_CCP
SPLIT_FILE = "detector_split.json"
DRESS_LABELS = ("dress", "suit", "romper")
WAIST_FRACTION = 0.44  # of person height from the top of the head (median bottomwear top edge in CCP)
MERGE_CATEGORIES = ("topwear", "bottomwear")
MIN_PART_PIXELS = 150  # same floor as boxes.csv uses for mask components

Box = tuple[float, float, float, float]


@dataclass
class LabelledPhoto:
    image: str  # file name in photos/
    width: int
    height: int
    boxes: list[tuple[str, Box]]


# ---------------------------------------------------------------- labels from CCP

def _intersection(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def _area(a: Box) -> float:
    return max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])


def merge_overlapping(boxes: list[Box], min_cover: float = 0.5) -> list[Box]:
    """Union boxes whose intersection is at least `min_cover` of the smaller one, until none do."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                small = min(_area(a), _area(b))
                if small > 0 and _intersection(a, b) >= min_cover * small:
                    boxes[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _label_ids(ccp_dir: Path, names: Iterable[str]) -> list[int]:
    import scipy.io as sio

    labels = [str(x[0]) for x in sio.loadmat(str(ccp_dir / "label_list.mat"))["label_list"][0]]
    return [labels.index(n) for n in names]


def split_dress(mask: np.ndarray, dress_ids: list[int], waist_y: float) -> list[tuple[str, Box]]:
    """Topwear box over the dress pixels above the waist, bottomwear box over those below."""
    ys, xs = np.nonzero(np.isin(mask, dress_ids))
    out: list[tuple[str, Box]] = []
    for category, sel in (("topwear", ys < waist_y), ("bottomwear", ys >= waist_y)):
        if int(sel.sum()) < MIN_PART_PIXELS:
            continue
        px, py = xs[sel], ys[sel]
        out.append((category, (float(px.min()), float(py.min()), float(px.max() + 1), float(py.max() + 1))))
    return out


def same_folder(a: Path, b: Path) -> bool:
    """Whether two paths name one folder (a missing one is no folder): the CCP photos the models
    trained on, or another set in CCP's layout."""
    try:
        return Path(a).resolve() == Path(b).resolve() or Path(a).samefile(b)
    except OSError:
        return False


def read_shots(ccp_dir: Path) -> dict[str, dict[str, str]]:
    """shot_heuristic.csv by photo (each photo's person span and whether it is a full shot);
    empty for a folder without one, such as a set of new photos in CCP's layout."""
    path = Path(ccp_dir) / "shot_heuristic.csv"
    if not path.is_file():
        log.warning("%s is missing: person spans come from the masks, no photo counts as a full "
                    "shot for the gate's CCP check", path)
        return {}
    with open(path, newline="") as fh:
        return {r["image"]: r for r in csv.DictReader(fh)}


def person_span(shot: Optional[dict[str, str]], mask: np.ndarray) -> tuple[float, float]:
    """The person's top and bottom row: from shot_heuristic.csv, else the mask's labelled rows."""
    if shot is not None:
        return float(shot["person_top"]), float(shot["person_bottom"])
    rows = np.flatnonzero((np.asarray(mask) > 0).any(axis=1))
    return (float(rows[0]), float(rows[-1])) if len(rows) else (0.0, float(len(mask)))


def load_ccp_labels(ccp_dir: Path = DEFAULT_CCP_DIR) -> dict[str, LabelledPhoto]:
    """Every CCP photo with its boxes in the five lookbot categories (dresses split, layers merged)."""
    import scipy.io as sio

    ccp_dir = Path(ccp_dir)
    boxes_csv = ccp_dir / "boxes.csv"
    if not boxes_csv.is_file():
        raise FileNotFoundError(f"CCP boxes not found: {boxes_csv}")
    shots = read_shots(ccp_dir)
    photos: dict[str, LabelledPhoto] = {}
    raw: dict[str, list[tuple[str, Box]]] = defaultdict(list)
    for r in csv.DictReader(open(boxes_csv)):
        name = r["image"]
        photos.setdefault(name, LabelledPhoto(name, int(r["width"]), int(r["height"]), []))
        raw[name].append((r["category"], (float(r["x1"]), float(r["y1"]), float(r["x2"]), float(r["y2"]))))
    for p in sorted((ccp_dir / "photos").glob("*.jpg")):  # photos without any article: background
        if p.name not in photos and p.name in shots:
            s = shots[p.name]
            photos[p.name] = LabelledPhoto(p.name, int(s["width"]), int(s["height"]), [])
    dress_ids = _label_ids(ccp_dir, DRESS_LABELS)
    for name, items in raw.items():
        boxes: list[tuple[str, Box]] = [(c, b) for c, b in items if c != "dress"]
        if any(c == "dress" for c, _ in items):
            mask = sio.loadmat(str(ccp_dir / "pixel-level" / (Path(name).stem + ".mat")))["groundtruth"]
            top, bottom = person_span(shots.get(name), mask)
            boxes += split_dress(mask, dress_ids, top + WAIST_FRACTION * (bottom - top))
        final: list[tuple[str, Box]] = []
        for cat in CATEGORIES:
            cat_boxes = [b for c, b in boxes if c == cat]
            if cat in MERGE_CATEGORIES:
                cat_boxes = merge_overlapping(cat_boxes)
            final += [(cat, b) for b in cat_boxes]
        photos[name].boxes = final
    return photos


def split_photos(names: Iterable[str], n_val: int = 160, seed: int = 0) -> dict[str, Any]:
    """Fixed-seed, photo-level train/validation split."""
    names = sorted(names)
    order = list(names)
    random.Random(seed).shuffle(order)
    val = sorted(order[:n_val])
    train = sorted(order[n_val:])
    return {"seed": seed, "n_train": len(train), "n_val": len(val), "train": train, "val": val}


def limited_split(split: dict[str, Any], limit: Optional[int]) -> dict[str, Any]:
    """`split` with only `limit` train photos and a quarter as many val photos (smoke runs)."""
    if not limit:
        return split
    return {**split, "train": split["train"][:limit], "val": split["val"][:max(2, limit // 4)]}


def prepare_dataset(ccp_dir: Path, out_dir: Path, work_dir: Path, *, n_val: int = 160, seed: int = 0,
                    limit: Optional[int] = None) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """CCP labels, the fixed-seed split (saved as `out_dir`/detector_split.json) and the YOLO
    dataset of the photos `limit` keeps (`work_dir`). Returns (split, used split, data.yaml)."""
    photos = load_ccp_labels(ccp_dir)
    split = split_photos(photos, n_val=n_val, seed=seed)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / SPLIT_FILE).write_text(json.dumps(split, indent=1))
    used = limited_split(split, limit)
    return split, used, write_yolo_dataset(photos, used, ccp_dir, work_dir)


def load_split(models_dir: Path) -> dict[str, Any]:
    return json.loads((Path(models_dir) / SPLIT_FILE).read_text())


def write_yolo_tree(split: dict[str, Any], ccp_dir: Path, work_dir: Path,
                    label_lines: Callable[[str], list[str]], desc: str = "labels") -> Path:
    """A YOLO dataset under `work_dir`: symlinked photos of each split part, one label file per photo
    from `label_lines(name)`, and data.yaml, which it returns (the detector's and the segmenter's)."""
    from tqdm import tqdm

    ccp_dir, work_dir = Path(ccp_dir), Path(work_dir)
    for part in ("train", "val"):
        for sub in ("images", "labels"):
            d = work_dir / sub / part
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
        for name in tqdm(split[part], desc=f"{desc} ({part})"):
            (work_dir / "images" / part / name).symlink_to((ccp_dir / "photos" / name).resolve())
            lines = label_lines(name)
            (work_dir / "labels" / part / (Path(name).stem + ".txt")).write_text("\n".join(lines) + ("\n" if lines else ""))
    data_yaml = work_dir / "data.yaml"
    names = "\n".join(f"  {i}: {c}" for i, c in enumerate(CATEGORIES))
    data_yaml.write_text(f"path: {work_dir.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    for cache in work_dir.glob("labels/*.cache"):
        cache.unlink()
    return data_yaml


def write_yolo_dataset(photos: dict[str, LabelledPhoto], split: dict[str, Any], ccp_dir: Path,
                       work_dir: Path) -> Path:
    """YOLO detection dataset (normalised xywh labels) under `work_dir`; returns data.yaml."""
    def box_lines(name: str) -> list[str]:
        photo = photos[name]
        lines = []
        for cat, (x1, y1, x2, y2) in photo.boxes:
            x1, x2 = max(0.0, x1), min(photo.width, x2)
            y1, y2 = max(0.0, y1), min(photo.height, y2)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            cx, cy = (x1 + x2) / 2 / photo.width, (y1 + y2) / 2 / photo.height
            bw, bh = (x2 - x1) / photo.width, (y2 - y1) / photo.height
            lines.append(f"{CATEGORIES.index(cat)} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
        return lines

    return write_yolo_tree(split, ccp_dir, work_dir, box_lines, desc="detector labels")
