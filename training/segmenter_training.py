"""Train the garment segmenter (YOLOv8n-seg) on CCP's pixel masks: what `lookbot train-segmenter` runs.

Steps, all in `train_segmenter()`:
1. the detector's CCP labels and its saved split (`detector_split.json`, the same validation photos);
2. a YOLO segmentation dataset from the pixel masks (training/segmenter_dataset.py);
3. train `yolov8n-seg.yaml` offline, warm-started from the shipped detector (`--init`), whose backbone,
   neck and box head fit the seg model, so mostly the mask prototypes are learnt;
4. validate on the validation photos and write `segmenter.pt` + `segmenter_report.json`.

`finish_segmenter()` is step 4 alone, for a run stopped early (its last or best checkpoint).
"""
from __future__ import annotations

import json
import logging
import platform
import shutil
import time
from pathlib import Path
from typing import Any, Optional

from core.records import CATEGORIES
from core.ultralytics_offline import load_ultralytics
from training.ccp_dataset import DEFAULT_CCP_DIR, SPLIT_FILE, limited_split, load_ccp_labels, load_split
from training.segmenter_dataset import write_seg_dataset

log = logging.getLogger(__name__)

SEGMENTER_FILE = "segmenter.pt"
REPORT_FILE = "segmenter_report.json"
NOTES = (
    "Instances are the detector's label boxes (training/ccp_dataset.py: dresses split at the waist, "
    "overlapping topwear or bottomwear merged); each instance's mask is the pixels of its category inside "
    "its box, the CCP labels mapped to categories as boxes.csv maps them. Split: detector_split.json, so "
    "no validation photo was trained on by the detector or the segmenter. Metrics are on those photos."
)


def _per_class(result: Any) -> dict[str, dict[str, float]]:
    out = {}
    for k, ci in enumerate(result.ap_class_index):
        out[CATEGORIES[int(ci)]] = {"mAP50": round(float(result.ap50[k]), 4), "mAP50-95": round(float(result.ap[k]), 4)}
    return out


def validate_segmenter(weights: Path, data_yaml: Path, imgsz: int, batch: int = 16, workers: int = 1,
                       project: Optional[Path] = None) -> dict[str, Any]:
    """Mask and box mAP (per class and overall) of `weights` on the dataset's val split, on CPU."""
    yolo = load_ultralytics()
    model = yolo.YOLO(str(weights), task="segment")
    kwargs = dict(data=str(data_yaml), imgsz=imgsz, device="cpu", batch=batch, workers=workers,
                  plots=False, verbose=False, split="val")
    if project is not None:
        kwargs.update(project=str(project), name="val", exist_ok=True)
    m = model.val(**kwargs)
    return {"mask": {"mAP50": round(float(m.seg.map50), 4), "mAP50-95": round(float(m.seg.map), 4),
                     "per_class": _per_class(m.seg)},
            "box": {"mAP50": round(float(m.box.map50), 4), "mAP50-95": round(float(m.box.map), 4),
                    "per_class": _per_class(m.box)}}


def segmenter_dataset(ccp_dir: Path, models_dir: Path, work_dir: Path, limit: Optional[int] = None) -> Path:
    """The segmentation dataset of the detector's saved split (fewer photos with `limit`); its data.yaml."""
    split = limited_split(load_split(models_dir), limit)
    return write_seg_dataset(load_ccp_labels(ccp_dir), split, ccp_dir, work_dir)


def finish_segmenter(weights: Path, data_yaml: Path, out_dir: Path, run: dict[str, Any]) -> dict[str, Any]:
    """Copy `weights` to out_dir/segmenter.pt, validate it, and write the report (`run` says how it was made)."""
    import torch
    import ultralytics

    target = Path(out_dir) / SEGMENTER_FILE
    if Path(weights).resolve() != target.resolve():
        shutil.copyfile(weights, target)
    _strip_optimizer(target)
    metrics = validate_segmenter(target, data_yaml, run["imgsz"], project=Path(data_yaml).parent / "runs")
    report = {"model": run.get("model", "yolov8n-seg.yaml"), "weights": SEGMENTER_FILE, "classes": list(CATEGORIES),
              **run, "split": {"file": SPLIT_FILE, "val_photos": run.get("val_photos")},
              "mask": metrics["mask"], "box": metrics["box"],
              "ultralytics": ultralytics.__version__, "torch": torch.__version__,
              "cpu": platform.processor() or platform.machine(), "notes": NOTES}
    (Path(out_dir) / REPORT_FILE).write_text(json.dumps(report, indent=1))
    log.info("segmenter written to %s: mask mAP50 %.3f, box mAP50 %.3f", target,
             report["mask"]["mAP50"], report["box"]["mAP50"])
    return report


def _strip_optimizer(weights: Path) -> None:
    """Keep only the fp16 model in the checkpoint (a few MB), as ultralytics does at the end of training."""
    from ultralytics.utils.torch_utils import strip_optimizer

    strip_optimizer(str(weights))


def train_segmenter(epochs: int = 30, imgsz: int = 384, init: Optional[Path] = None,
                    out_dir: Optional[Path] = None, *, ccp_dir: Optional[Path] = None,
                    work_dir: Optional[Path] = None, batch: int = 16, workers: int = 1,
                    hours: Optional[float] = None, limit: Optional[int] = None,
                    seed: int = 0) -> dict[str, Any]:
    """Train yolov8n-seg on the CCP masks (warm-started from `init`, a lookbot detector), validate, write.

    `out_dir` (default data/models) receives segmenter.pt and segmenter_report.json; it must hold
    detector_split.json. `hours` lets ultralytics fit the epoch count to that much wall time.
    Every epoch's weights stay in `work_dir`/runs/train/weights (last.pt, best.pt) for an early stop.
    """
    from core.config import MODELS_DIR

    out_dir = Path(out_dir or MODELS_DIR)
    ccp_dir = Path(ccp_dir or DEFAULT_CCP_DIR)
    work_dir = Path(work_dir or out_dir / "datasets" / "ccp-seg")
    if init and not Path(init).is_file():
        raise FileNotFoundError(f"--init weights not found: {init}")
    data_yaml = segmenter_dataset(ccp_dir, out_dir, work_dir, limit)
    yolo = load_ultralytics()
    net = yolo.YOLO("yolov8n-seg.yaml", task="segment")
    args: dict[str, Any] = dict(
        data=str(data_yaml), epochs=epochs, imgsz=imgsz, device="cpu", batch=batch, workers=workers,
        project=str((work_dir / "runs").resolve()), name="train", exist_ok=True,
        pretrained=str(Path(init).resolve()) if init else False, amp=False, plots=False, val=True,
        seed=seed, deterministic=False, cache="ram", patience=0, cos_lr=True,
        close_mosaic=max(1, min(5, epochs // 5)), fliplr=0.5, mosaic=1.0, scale=0.5, translate=0.1,
        hsv_h=0.015, hsv_s=0.5, hsv_v=0.4, verbose=True)
    if hours:
        args["time"] = float(hours)
    t0 = time.time()
    net.train(**args)
    seconds = time.time() - t0
    weights_dir = Path(net.trainer.save_dir) / "weights"
    best = weights_dir / "best.pt" if (weights_dir / "best.pt").is_file() else weights_dir / "last.pt"
    epochs_run = int(net.trainer.epoch + 1 - net.trainer.start_epoch) if hours else epochs
    split = load_split(out_dir)
    run = {"epochs": epochs_run, "imgsz": imgsz, "batch": batch, "seconds": round(seconds, 1), "hours": hours,
           "init": str(init) if init else None, "train_photos": len(limited_split(split, limit)["train"]),
           "val_photos": len(limited_split(split, limit)["val"]),
           "command": command_line(epochs_run, imgsz, init, batch)}
    return finish_segmenter(best, data_yaml, out_dir, run)


def command_line(epochs: int, imgsz: int, init: Optional[Path], batch: int = 16) -> str:
    """The `lookbot train-segmenter` line that reproduces a run."""
    line = f"lookbot train-segmenter --epochs {epochs} --imgsz {imgsz}"
    if batch != 16:
        line += f" --batch {batch}"
    return line + (f" --init {init}" if init else "")
