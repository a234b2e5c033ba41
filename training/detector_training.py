"""Train the YOLO fashion detector on the Clothing Co-Parsing (CCP) street photos.

Steps, all in `train_detector()` (what `lookbot train-detector` calls):
1. read `boxes.csv` (+ the pixel masks for dresses) into boxes for the five lookbot categories;
2. split the photos into train and validation with a fixed seed, saved as `detector_split.json`;
3. write a YOLO-format dataset (symlinked photos + label files) into a work dir outside ../shared;
4. train from the architecture YAML (never from downloaded weights), offline;
5. validate the best weights on the validation photos and write `detector.pt` + `detector_report.json`.

The CCP label conversion and the split (steps 1-3) are training/ccp_dataset.py, which also explains
the label decisions; NOTES repeats them in the report.
"""
from __future__ import annotations

import json
import logging
import platform
import shutil
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from training.ccp_dataset import DEFAULT_CCP_DIR, SPLIT_FILE, prepare_dataset
from core.records import CATEGORIES
from core.ultralytics_offline import load_ultralytics
from core.yolo import DETECTOR_FILE

log = logging.getLogger(__name__)

REPORT_FILE = "detector_report.json"

NOTES = (
    "dress/suit/romper is split at the waist (44% of person height from the head, the median top edge "
    "of real CCP bottomwear boxes) into a topwear box over the upper mask pixels and a bottomwear box "
    "over the lower ones: the catalog has no dress category, a top plus a skirt that resemble the "
    "dress is the closest shopping list, and the detector keeps exactly the five searched classes. "
    "Overlapping topwear (or bottomwear) boxes in one photo (intersection >= half the smaller box, "
    "e.g. an open coat over a blouse) are merged into their union, so each garment region has one box. "
    "Split is by photo with a fixed seed; metrics are on the validation photos only."
)


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
                    threads: Optional[int] = None, after: str = "training") -> dict[str, Any]:
    """Per-photo detector time on CPU (decode excluded): median and p90 in ms, after one warm-up.

    `after` names the work that ran just before it, for the note.
    """
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
            "note": f"CPU, photo already decoded; measured right after {after}, on a possibly busy machine"}


def stage_summary(init: Optional[Path]) -> Optional[dict[str, Any]]:
    """A detector stage for a later report: its weights file and the report that made it, if beside it.

    A fine-tuning run records where it started (`init`); an averaged detector records its inputs.
    """
    if not init:
        return None
    init = Path(init)
    summary: dict[str, Any] = {"weights": init.name}
    report = init.with_name(REPORT_FILE)
    if report.is_file():
        before = json.loads(report.read_text())
        summary["report"] = {k: before.get(k) for k in ("command", "epochs", "imgsz", "seconds", "mAP50", "init", "averaged")}
    return summary


def _command(epochs: int, imgsz: int, device: str, model: str, init: Optional[Path],
             extra: Optional[dict[str, Any]], batch: int = 16) -> str:
    """The `lookbot train-detector` line that reproduces a run."""
    parts = [f"lookbot train-detector --epochs {epochs} --imgsz {imgsz} --device {device}"]
    if batch != 16:
        parts.append(f"--batch {batch}")
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
                   lr0: Optional[float] = None,
                   extra: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Convert CCP, train from `model` (an architecture YAML), validate, write weights + report.

    `out_dir` (default data/models) receives detector.pt, detector_report.json, detector_split.json.
    `work_dir` (default out_dir/datasets/ccp-yolo, gitignored) holds the YOLO dataset and the run.
    `limit` keeps only that many train photos and a quarter as many val photos (smoke tests).
    `hours`, when given, lets ultralytics fit the epoch count to that much wall time (its `time` mode);
    the report then gives the epochs actually run, which `--epochs` reproduces.
    `init`, when given, is an earlier lookbot detector whose weights start this run (a second,
    fine-tuning stage with a fresh schedule); the architecture still comes from `model`.
    `lr0`, when given, replaces ultralytics' initial learning rate (0.01) and shortens the warm-up
    to one epoch, for a fine-tuning stage from `init`.
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

    t0 = time.time()
    split, used, data_yaml = prepare_dataset(ccp_dir, out_dir, work_dir, n_val=n_val, seed=seed,
                                             limit=limit)
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
    if lr0 is not None:
        extra = {**(extra or {}), "lr0": lr0, "warmup_epochs": 1}
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
        "init": stage_summary(init),
        "command": _command(epochs_run, imgsz, device, model, init, extra, batch),
    }
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=1))
    log.info("detector written to %s: mAP50 %.3f, mAP50-95 %.3f", target, report["mAP50"], report["mAP50-95"])
    return report
