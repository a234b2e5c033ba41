"""Article detection behind one small interface, so detectors can be swapped or combined."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Protocol

import numpy as np

from .config import Config
from .records import Detection, GateVerdict
from .regions import PoseRegionFinder

log = logging.getLogger(__name__)


class Detector(Protocol):
    """Finds fashion articles in an RGB photo; boxes are in that photo's pixels."""

    name: str

    def detect(self, image: np.ndarray, verdict: Optional[GateVerdict] = None,
               min_score: Optional[float] = None) -> list[Detection]:
        """`min_score` overrides the configured score threshold (None keeps it)."""
        ...


def build_detector(config: Config) -> Detector:
    """The best detector this installation has: trained YOLO fused with pose regions, or pose."""
    pose = PoseRegionFinder(score=config.pose_score)
    weights = config.models_dir / "detector.pt"
    if not config.use_detector or not weights.exists():
        if config.use_detector:
            log.info("no trained detector at %s: using pose-guided regions only", weights)
        return pose
    from .fusion import FusedDetector

    try:
        trained = build_trained_detector(config)
    except ImportError as exc:  # ultralytics not installed
        log.warning("trained detector not usable (%s): using pose-guided regions only", exc)
        return pose
    return FusedDetector(trained, pose, config)


def ensemble_files(config: Config) -> list[Path]:
    """The further detector weights named by `detector_ensemble` ("none": no others)."""
    names = [n.strip() for n in config.detector_ensemble.split(",")]
    return [config.models_dir / n for n in names if n and n.lower() != "none"]


def build_trained_detector(config: Config):
    """models_dir/detector.pt, merged with the ensemble's further detectors that load.

    Every member runs at detector.pt's size (or the configured `detector_imgsz`): the boxes it was
    measured with. A member that is missing or unreadable is left out with a warning.
    """
    from .detector_ensemble import EnsembleDetector
    from .yolo import DetectorUnavailable, YoloDetector

    main = YoloDetector.from_config(config)
    members = [main]
    for path in ensemble_files(config):
        try:
            members.append(YoloDetector.from_config(config, weights=path, imgsz=main.imgsz))
        except DetectorUnavailable as exc:
            log.warning("ensemble detector left out: %s", exc)
    return main if len(members) == 1 else EnsembleDetector(members)


def scale_detections(dets: list[Detection], scale: float, width: int, height: int
                     ) -> list[Detection]:
    """Boxes from work pixels to input-photo pixels."""
    out = []
    for d in dets:
        x1, y1, x2, y2 = (v * scale for v in d.box)
        out.append(Detection(d.category, (max(0.0, x1), max(0.0, y1), min(float(width), x2),
                                          min(float(height), y2)), d.score, d.source))
    return out
