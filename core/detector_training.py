"""Train the YOLO fashion detector on the Clothing Co-Parsing (CCP) street photos.

Steps, all in `train_detector()` (what `lookbot train-detector` calls):
1. read `boxes.csv` (+ the pixel masks for dresses) into boxes for the five lookbot categories;
2. split the photos into train and validation with a fixed seed, saved as `detector_split.json`;
3. write a YOLO-format dataset (symlinked photos + label files) into a work dir outside ../shared;
4. train from the architecture YAML (never from downloaded weights), offline;
5. validate the best weights on the validation photos and write `detector.pt` + `detector_report.json`.

Label decisions (also written into the report's "notes"):
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
import platform
import random
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from core.config import SHARED_DATA
from core.records import CATEGORIES
from core.yolo import DETECTOR_FILE, load_ultralytics

log = logging.getLogger(__name__)

DEFAULT_CCP_DIR = SHARED_DATA / "ccp"
SPLIT_FILE = "detector_split.json"
REPORT_FILE = "detector_report.json"
DRESS_LABELS = ("dress", "suit", "romper")
WAIST_FRACTION = 0.44  # of person height from the top of the head (median bottomwear top edge in CCP)
MERGE_CATEGORIES = ("topwear", "bottomwear")
MIN_PART_PIXELS = 150  # same floor as boxes.csv uses for mask components

NOTES = (
    "dress/suit/romper is split at the waist (44% of person height from the head, the median top edge "
    "of real CCP bottomwear boxes) into a topwear box over the upper mask pixels and a bottomwear box "
    "over the lower ones: the catalog has no dress category, a top plus a skirt that resemble the "
    "dress is the closest shopping list, and the detector keeps exactly the five searched classes. "
    "Overlapping topwear (or bottomwear) boxes in one photo (intersection >= half the smaller box, "
    "e.g. an open coat over a blouse) are merged into their union, so each garment region has one box. "
    "Split is by photo with a fixed seed; metrics are on the validation photos only."
)

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


def load_ccp_labels(ccp_dir: Path = DEFAULT_CCP_DIR) -> dict[str, LabelledPhoto]:
    """Every CCP photo with its boxes in the five lookbot categories (dresses split, layers merged)."""
    import scipy.io as sio

    ccp_dir = Path(ccp_dir)
    boxes_csv = ccp_dir / "boxes.csv"
    if not boxes_csv.is_file():
        raise FileNotFoundError(f"CCP boxes not found: {boxes_csv}")
    shots = {r["image"]: r for r in csv.DictReader(open(ccp_dir / "shot_heuristic.csv"))}
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
            s = shots[name]
            top, bottom = float(s["person_top"]), float(s["person_bottom"])
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


def load_split(models_dir: Path) -> dict[str, Any]:
    return json.loads((Path(models_dir) / SPLIT_FILE).read_text())


def write_yolo_dataset(photos: dict[str, LabelledPhoto], split: dict[str, Any], ccp_dir: Path,
                       work_dir: Path) -> Path:
    """YOLO dataset (symlinked photos, normalised xywh labels) under `work_dir`; returns data.yaml."""
    work_dir = Path(work_dir)
    for part in ("train", "val"):
        for sub in ("images", "labels"):
            d = work_dir / sub / part
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
        for name in split[part]:
            photo = photos[name]
            src = (Path(ccp_dir) / "photos" / name).resolve()
            (work_dir / "images" / part / name).symlink_to(src)
            lines = []
            for cat, (x1, y1, x2, y2) in photo.boxes:
                x1, x2 = max(0.0, x1), min(photo.width, x2)
                y1, y2 = max(0.0, y1), min(photo.height, y2)
                if x2 - x1 < 2 or y2 - y1 < 2:
                    continue
                cx, cy = (x1 + x2) / 2 / photo.width, (y1 + y2) / 2 / photo.height
                bw, bh = (x2 - x1) / photo.width, (y2 - y1) / photo.height
                lines.append(f"{CATEGORIES.index(cat)} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
            (work_dir / "labels" / part / (Path(name).stem + ".txt")).write_text("\n".join(lines) + ("\n" if lines else ""))
    data_yaml = work_dir / "data.yaml"
    names = "\n".join(f"  {i}: {c}" for i, c in enumerate(CATEGORIES))
    data_yaml.write_text(f"path: {work_dir.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    for cache in work_dir.glob("labels/*.cache"):
        cache.unlink()
    return data_yaml


# ---------------------------------------------------------------- training

def validate_weights(weights: Path, data_yaml: Path, imgsz: int, device: str = "cpu",
                     batch: int = 16, workers: int = 2, project: Optional[Path] = None) -> dict[str, Any]:
    """Per-class mAP50 and mAP50-95 of `weights` on the dataset's val split."""
    yolo = load_ultralytics()
    model = yolo.YOLO(str(weights), task="detect")
    kwargs = dict(data=str(data_yaml), imgsz=imgsz, device=device, batch=batch, workers=workers,
                  plots=False, verbose=False, split="val")
    if project is not None:
        kwargs.update(project=str(project), name="val", exist_ok=True)
    metrics = model.val(**kwargs)
    box = metrics.box
    per_class: dict[str, dict[str, float]] = {}
    ap50, ap = box.ap50, box.ap
    for k, ci in enumerate(box.ap_class_index):
        p, r, _, _ = box.class_result(k)
        per_class[CATEGORIES[int(ci)]] = {"mAP50": round(float(ap50[k]), 4), "mAP50-95": round(float(ap[k]), 4),
                                          "precision": round(float(p), 4), "recall": round(float(r), 4)}
    return {"per_class": per_class, "mAP50": round(float(box.map50), 4), "mAP50-95": round(float(box.map), 4)}


def measure_latency(weights: Path, photos: list[Path], imgsz: Optional[int] = None,
                    threads: Optional[int] = None) -> dict[str, Any]:
    """Per-photo detector time on CPU (decode excluded): median and p90 in ms, after one warm-up."""
    from PIL import Image

    from core.yolo import YoloDetector

    if not photos:
        return {}
    det = YoloDetector(weights, imgsz=imgsz, threads=threads)
    images = [np.asarray(Image.open(p).convert("RGB")) for p in photos]
    det.detect(images[0])
    times = []
    for img in images:
        t = time.perf_counter()
        det.detect(img)
        times.append((time.perf_counter() - t) * 1000)
    import torch

    return {"median": round(float(np.median(times)), 1), "p90": round(float(np.percentile(times, 90)), 1),
            "photos": len(times), "imgsz": det.imgsz, "torch_threads": torch.get_num_threads(),
            "note": "CPU, photo already decoded; measured right after training, on a possibly busy machine"}


def _init_summary(init: Optional[Path]) -> Optional[dict[str, Any]]:
    """Where a fine-tuning run started: the weights file and the report that made it, if beside it."""
    if not init:
        return None
    init = Path(init)
    summary: dict[str, Any] = {"weights": init.name}
    report = init.with_name(REPORT_FILE)
    if report.is_file():
        before = json.loads(report.read_text())
        summary["report"] = {k: before.get(k) for k in ("command", "epochs", "imgsz", "seconds", "mAP50", "init")}
    return summary


def _command(epochs: int, imgsz: int, device: str, model: str, init: Optional[Path],
             extra: Optional[dict[str, Any]]) -> str:
    """The `lookbot train-detector` line that reproduces a run."""
    parts = [f"lookbot train-detector --epochs {epochs} --imgsz {imgsz} --device {device}"]
    if model != "yolov8n.yaml":
        parts.append(f"--model {model}")
    if init:
        parts.append(f"--init {init}")
    if extra and "lr0" in extra:
        parts.append(f"--lr0 {extra['lr0']}")
    return " ".join(parts)


def train_detector(epochs: int = 60, imgsz: int = 384, device: str = "cpu", model: str = "yolov8n.yaml",
                   out_dir: Optional[Path] = None, *, ccp_dir: Optional[Path] = None,
                   work_dir: Optional[Path] = None, n_val: int = 160, seed: int = 0,
                   limit: Optional[int] = None, batch: int = 16, workers: int = 2,
                   cache: Any = "ram", hours: Optional[float] = None, init: Optional[Path] = None,
                   extra: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Convert CCP, train from `model` (an architecture YAML), validate, write weights + report.

    `out_dir` (default data/models) receives detector.pt, detector_report.json, detector_split.json.
    `work_dir` (default out_dir/datasets/ccp-yolo, gitignored) holds the YOLO dataset and the run.
    `limit` keeps only that many train photos and a quarter as many val photos (smoke tests).
    `hours`, when given, lets ultralytics fit the epoch count to that much wall time (its `time` mode);
    the report then gives the epochs actually run, which `--epochs` reproduces.
    `init`, when given, is an earlier lookbot detector whose weights start this run (a second,
    fine-tuning stage with a fresh schedule); the architecture still comes from `model`.
    `extra` is passed on to ultralytics' train() (augmentation and schedule overrides).
    Returns the report dict.
    """
    from core.config import MODELS_DIR

    if not str(model).endswith((".yaml", ".yml")):
        raise ValueError(f"train from an architecture YAML such as yolov8n.yaml, not {model!r}: "
                         "weights cannot be downloaded here")
    if init and not Path(init).is_file():
        raise FileNotFoundError(f"--init weights not found: {init}")
    out_dir = Path(out_dir or MODELS_DIR)
    ccp_dir = Path(ccp_dir or DEFAULT_CCP_DIR)
    work_dir = Path(work_dir or out_dir / "datasets" / "ccp-yolo")
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    photos = load_ccp_labels(ccp_dir)
    split = split_photos(photos, n_val=n_val, seed=seed)
    (out_dir / SPLIT_FILE).write_text(json.dumps(split, indent=1))
    used = split
    if limit:
        used = {**split, "train": split["train"][:limit], "val": split["val"][:max(2, limit // 4)]}
    data_yaml = write_yolo_dataset(photos, used, ccp_dir, work_dir)
    log.info("YOLO dataset: %d train / %d val photos in %s (%.1fs)", len(used["train"]), len(used["val"]),
             work_dir, time.time() - t0)

    yolo = load_ultralytics()
    net = yolo.YOLO(model, task="detect")
    args: dict[str, Any] = dict(
        data=str(data_yaml), epochs=epochs, imgsz=imgsz, device=device, batch=batch, workers=workers,
        project=str((work_dir / "runs").resolve()), name="train", exist_ok=True,
        pretrained=str(Path(init).resolve()) if init else False, amp=False, plots=False, val=True, seed=seed, deterministic=False,
        cache=cache, patience=0, cos_lr=True, close_mosaic=max(1, min(10, epochs // 5)),
        fliplr=0.5, mosaic=1.0, scale=0.5, translate=0.1, hsv_h=0.015, hsv_s=0.5, hsv_v=0.4,
        verbose=True,
    )
    if hours:
        args["time"] = float(hours)
    args.update(extra or {})
    t1 = time.time()
    net.train(**args)
    seconds = time.time() - t1
    run_dir = Path(net.trainer.save_dir)
    best = run_dir / "weights" / "best.pt"
    if not best.is_file():
        best = run_dir / "weights" / "last.pt"
    target = out_dir / DETECTOR_FILE
    shutil.copyfile(best, target)

    metrics = validate_weights(target, data_yaml, imgsz, device=device, batch=batch, workers=workers,
                               project=work_dir / "runs")
    import torch
    import ultralytics

    epochs_run = int(net.trainer.epoch + 1 - net.trainer.start_epoch) if hours else epochs
    latency = measure_latency(target, [ccp_dir / "photos" / n for n in used["val"][:20]])
    report = {
        "model": model,
        "weights": DETECTOR_FILE,
        "classes": list(CATEGORIES),
        "epochs": epochs_run,
        "imgsz": imgsz,
        "seconds": round(seconds, 1),
        "device": device,
        "batch": batch,
        "train_photos": len(used["train"]),
        "val_photos": len(used["val"]),
        "split": {"file": SPLIT_FILE, "seed": seed, "n_train": split["n_train"], "n_val": split["n_val"],
                  "limited": bool(limit)},
        "mAP50": metrics["mAP50"],
        "mAP50-95": metrics["mAP50-95"],
        "per_class": metrics["per_class"],
        "train_args": {k: v for k, v in args.items() if k not in ("data", "project", "name", "exist_ok")},
        "data": str(ccp_dir),
        "ultralytics": ultralytics.__version__,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "latency_ms": latency,
        "notes": NOTES + (f" Trained in ultralytics time mode ({hours} h budget), which fitted {epochs_run} "
                          "epochs; --epochs with that count reproduces the schedule up to the "
                          "re-estimation of epochs during the first epochs." if hours else ""),
        "init": _init_summary(init),
        "command": _command(epochs_run, imgsz, device, model, init, extra),
    }
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=1))
    log.info("detector written to %s: mAP50 %.3f, mAP50-95 %.3f", target, report["mAP50"], report["mAP50-95"])
    return report
