"""The detector's evaluation: per-class mAP of each detector variant on CCP validation photos."""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

from core.config import Config
from .eval_data import detector_val_photos, limited, progress
from .eval_metrics import GOALS, detection_map, shown_precision_recall
from core.records import CATEGORIES

log = logging.getLogger(__name__)


def detector_variants(engine, config: Config) -> dict[str, Any]:
    """The pose fallback alone, the YOLO model alone, and what the engine uses (fused)."""
    from core.regions import PoseRegionFinder

    variants: dict[str, Any] = {"pose": PoseRegionFinder(score=config.pose_score)}
    fused_model = getattr(engine.detector, "yolo", None)  # the engine's own: not loaded twice
    if fused_model is not None:
        variants["yolo"] = fused_model
    elif (config.models_dir / "detector.pt").exists():  # measured even when the engine is off it
        try:
            from core.detect import build_trained_detector

            variants["yolo"] = build_trained_detector(config)  # the ensemble when there is one
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
    from core.detect import scale_detections
    from core.crops import articles_of
    from training.ccp_dataset import load_ccp_labels

    photos, split = detector_val_photos(config.models_dir, ccp_dir)
    photos = limited(photos, limit)
    labels = load_ccp_labels(ccp_dir)
    truth = {p: labels[p].boxes for p in photos if p in labels}
    variants = detector_variants(engine, config)
    preds: dict[str, dict[str, list]] = {name: {} for name in variants}
    shown: dict[str, list] = {}  # what `look` shows: one box per article (two shoes), see articles_of
    seconds: dict[str, float] = defaultdict(float)
    if truth:  # warm-up, so the first photo's model set-up is not timed
        first = engine.decode((Path(ccp_dir) / "photos" / next(iter(truth))).read_bytes())
        first_verdict, _ = engine.check_gate(first)
        for det in variants.values():
            det.detect(first.rgb, first_verdict)
    for name in progress(list(truth), "detector"):
        image = engine.decode((Path(ccp_dir) / "photos" / name).read_bytes())
        verdict, _ = engine.check_gate(image)
        for vname, det in variants.items():
            t = time.perf_counter()
            dets = det.detect(image.rgb, verdict)
            seconds[vname] += time.perf_counter() - t
            dets = scale_detections(dets, image.scale, image.width, image.height)
            preds[vname][name] = [(d.category, d.box, d.score) for d in dets if d.score >= 0.01]
            if vname == "fused_shipped":
                shown[name] = [(d.category, d.box, d.score) for g in articles_of(dets) for d in g]
    out: dict[str, Any] = {"split": split, "n_photos": len(truth),
                           "note": "pose: fixed score, boxes from the gate's landmarks; yolo: raw "
                                   "boxes from score 0.01 (the ensemble's merged boxes when "
                                   "there is one); fused: the fusion rules on YOLO boxes "
                                   "from 0.01, as `lookbot detect` reports them; fused_shipped: "
                                   f"as `look` uses it, YOLO boxes at or above their class's "
                                   f"threshold ({config.detector_score}; "
                                   f"{config.detector_class_scores or 'no per-class ones'}) "
                                   f"plus pose fill-ins ({config.pose_fill}), so its "
                                   "precision-recall curve stops at that threshold; ms: detector "
                                   "time per photo, gate excluded",
                           "n_boxes": {c: sum(1 for b in truth.values() for k, _ in b if k == c)
                                       for c in CATEGORIES},
                           "variants": {}}
    for vname in variants:
        m = detection_map(preds[vname], truth, intervals=True)
        m["ms_per_photo"] = round(1000 * seconds[vname] / max(1, len(truth)), 1)
        m["goal_met"] = {c: (None if m["map50"][c] is None else m["map50"][c] >= GOALS[f"map50_{c}"])
                         for c in CATEGORIES}
        out["variants"][vname] = m
    if shown:
        pr = shown_precision_recall(shown, truth)
        out["shown"] = {"note": "the boxes `look` shows (fused_shipped, one per article, two "
                                "shoes), a hit at IoU 0.5", "per_class": pr,
                        "goal_met": {c: None if v["precision"] is None else
                                     v["precision"] >= GOALS["shown_precision"]
                                     for c, v in pr.items()}}
    return out

