"""Average detectors of one lineage into one ("model soup", Wortsman et al., ICML 2022).

Training stages that start from each other (`lookbot train-detector --init`) end in nearby
minima; the element-wise mean of their weights is often better than either, at no cost at run
time. `average_detectors()` (what `lookbot average-detectors` calls) loads two or more lookbot
detector.pt files of the same architecture, averages their float weights, validates the result on
the CCP validation photos exactly as training does, and writes detector.pt + detector_report.json;
the report keeps each input's own report under `averaged`.
"""
from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from training.ccp_dataset import DEFAULT_CCP_DIR, SPLIT_FILE, prepare_dataset
from training.detector_training import NOTES, REPORT_FILE, stage_summary, measure_latency, validate_weights
from core.records import CATEGORIES
from core.yolo import DETECTOR_FILE

log = logging.getLogger(__name__)


def average_checkpoints(checkpoints: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One ultralytics checkpoint whose model holds the mean of the given models' float weights.

    Integer buffers (such as BatchNorm's batch counter) come from the first model; the given
    checkpoints are left as they are. Raises ValueError when the models' layers differ.
    """
    states = [{k: v.float() if v.is_floating_point() else v for k, v in ck["model"].state_dict().items()}
              for ck in checkpoints]
    first = states[0]
    for i, s in enumerate(states[1:], 2):
        if s.keys() != first.keys() or any(s[k].shape != first[k].shape for k in first):
            raise ValueError(f"detector {i} has other layers than detector 1: "
                             "only stages of one architecture can be averaged")
    mean = {k: (sum(s[k] for s in states) / len(states)) if first[k].is_floating_point() else first[k]
            for k in first}
    out = {k: v for k, v in checkpoints[0].items() if k not in ("model", "ema", "optimizer")}
    model = copy.deepcopy(checkpoints[0]["model"]).float()
    model.load_state_dict(mean)
    out.update(model=model.half(), ema=None, optimizer=None)  # stored as ultralytics stores best.pt
    return out


def average_detectors(weights: Sequence[Path], out_dir: Optional[Path] = None, *,
                      imgsz: Optional[int] = None, ccp_dir: Optional[Path] = None,
                      work_dir: Optional[Path] = None, limit: Optional[int] = None,
                      batch: int = 16, workers: int = 2) -> dict[str, Any]:
    """Average `weights` (lookbot detector.pt files), validate, write detector.pt + report to `out_dir`.

    `imgsz` defaults to the first detector's training size; `limit` keeps a quarter as many
    validation photos as `train_detector` would keep train photos (smoke tests).
    Returns the report dict.
    """
    import torch

    from core.config import MODELS_DIR

    weights = [Path(w) for w in weights]
    if len(weights) < 2:
        raise ValueError("give two or more detector.pt files to average")
    for w in weights:
        if not w.is_file():
            raise FileNotFoundError(f"detector weights not found: {w}")
    out_dir = Path(out_dir or MODELS_DIR)
    ccp_dir = Path(ccp_dir or DEFAULT_CCP_DIR)
    work_dir = Path(work_dir or out_dir / "datasets" / "ccp-yolo")
    # everything is read before anything is written: an input may be out_dir's own detector.pt
    sources = [stage_summary(w) | {"path": str(w)} for w in weights]
    checkpoints = [torch.load(w, map_location="cpu", weights_only=False) for w in weights]
    soup = average_checkpoints(checkpoints)
    trained_at = soup.get("train_args", {}).get("imgsz")
    imgsz = int(imgsz or trained_at or 512)
    soup["train_args"] = {**soup.get("train_args", {}), "imgsz": imgsz}  # the size it runs at

    t0 = time.time()
    split, used, data_yaml = prepare_dataset(ccp_dir, out_dir, work_dir, limit=limit)
    target = out_dir / DETECTOR_FILE
    tmp = target.with_suffix(".tmp")
    torch.save(soup, tmp)
    tmp.replace(target)
    metrics = validate_weights(target, data_yaml, imgsz, batch=batch, workers=workers,
                               project=work_dir / "runs")
    report = {
        "model": soup.get("train_args", {}).get("model", "yolov8n.yaml"),
        "weights": DETECTOR_FILE,
        "classes": list(CATEGORIES),
        "imgsz": imgsz,
        "averaged": sources,
        "seconds": round(time.time() - t0, 1),
        "val_photos": len(used["val"]),
        "split": {"file": SPLIT_FILE, "seed": split["seed"], "n_train": split["n_train"],
                  "n_val": split["n_val"], "limited": bool(limit)},
        "mAP50": metrics["mAP50"],
        "mAP50-95": metrics["mAP50-95"],
        "per_class": metrics["per_class"],
        "data": str(ccp_dir),
        "latency_ms": measure_latency(target, [ccp_dir / "photos" / n for n in used["val"][:20]],
                                      imgsz=imgsz, after="averaging"),
        "notes": NOTES + f" The weights are the element-wise mean of {len(weights)} training "
                         "stages' weights (a model soup); `averaged` holds each one's report.",
        "command": "lookbot average-detectors " + " ".join(str(w) for w in weights)
                   + (f" --out {out_dir}" if out_dir != MODELS_DIR else "")
                   + (f" --imgsz {imgsz}" if imgsz != trained_at else ""),
    }
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=1))
    log.info("averaged detector written to %s: mAP50 %.3f, mAP50-95 %.3f", target,
             report["mAP50"], report["mAP50-95"])
    return report
