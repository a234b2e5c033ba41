"""Article detection behind one small interface, so detectors can be swapped or combined."""
from __future__ import annotations

import logging
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
    try:
        from .fusion import FusedDetector
        from .yolo import YoloDetector
    except ImportError:  # the trained detector ships in a later step
        return pose
    return FusedDetector(YoloDetector.from_config(config), pose, config)


def scale_detections(dets: list[Detection], scale: float, width: int, height: int
                     ) -> list[Detection]:
    """Boxes from work pixels to input-photo pixels."""
    out = []
    for d in dets:
        x1, y1, x2, y2 = (v * scale for v in d.box)
        out.append(Detection(d.category, (max(0.0, x1), max(0.0, y1), min(float(width), x2),
                                          min(float(height), y2)), d.score, d.source))
    return out
