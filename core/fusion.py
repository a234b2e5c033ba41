"""Fuse the trained detector's boxes with the pose-guided regions.

Rules:
1. The detector decides which articles are present and where: its boxes with score >= `min_score`.
2. On a full shot, a pose region fills a main category (topwear, bottomwear, footwear) only when the
   detector kept no box of that category. Pose regions never add eyewear or handbags, and nothing is
   filled on a photo that is not a full shot.
3. On a full shot, a detector box that lies mostly outside the person (the landmarks' extent,
   padded) is dropped: the street photos it was trained on fill the frame with one person, and
   on other photos it sometimes boxes the background. "Mostly" is less than 60% on the person,
   or less than half for a handbag, which hangs beside the body: on the 607 full shots of the
   detector's training photos, 7 of 409 labelled handbags lie less than 60% on the person
   (six of them 53-59%), against 2 of the 2,458 other garments.
4. Non-maximum suppression runs over both sources together: per category at `iou`, and across
   categories at `cross_iou` (the same region named twice). Detector boxes outrank pose boxes, then
   higher scores outrank lower ones, so a pose region never removes a detector box.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

from core.records import CATEGORIES, Box, Detection

MAIN_CATEGORIES: tuple[str, ...] = ("topwear", "bottomwear", "footwear")
# How much of a detector box must lie on the person (full shots), by category (rule 3).
MIN_ON_PERSON = 0.6
MIN_ON_PERSON_BY_CATEGORY: dict[str, float] = {"handbag": 0.5}


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def inside_fraction(box: Box, region: Box) -> float:
    """How much of `box` lies inside `region` (0..1)."""
    iw = min(box[2], region[2]) - max(box[0], region[0])
    ih = min(box[3], region[3]) - max(box[1], region[1])
    area = (box[2] - box[0]) * (box[3] - box[1])
    if iw <= 0 or ih <= 0 or area <= 0:
        return 0.0
    return iw * ih / area


def person_box(landmarks, pad: float = 0.15) -> Optional[Box]:
    """The extent of the pose landmarks, padded by `pad` of its size on every side."""
    if not landmarks:
        return None
    xs = [p[0] for p in landmarks]
    ys = [p[1] for p in landmarks]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    return (min(xs) - pad * max(w, h * 0.4), min(ys) - pad * h,
            max(xs) + pad * max(w, h * 0.4), max(ys) + pad * h)


def _rank(d: Detection) -> tuple[int, float]:
    return (0 if d.source == "yolo" else 1, -float(d.score))


def nms(detections: Iterable[Detection], iou: float = 0.6, cross_iou: Optional[float] = 0.9) -> list[Detection]:
    """Greedy NMS over mixed sources: detector boxes first, then by score.

    A box is dropped when it overlaps a kept box of its own category by IoU >= `iou`, or a kept box
    of any category by IoU >= `cross_iou` (None switches the cross-category pass off).
    """
    kept: list[Detection] = []
    for d in sorted(detections, key=_rank):
        suppressed = False
        for k in kept:
            overlap = box_iou(d.box, k.box)
            if (k.category == d.category and overlap >= iou) or (cross_iou is not None and overlap >= cross_iou):
                suppressed = True
                break
        if not suppressed:
            kept.append(d)
    return kept


def fuse(yolo: Sequence[Detection], pose: Sequence[Detection], full_shot: bool, min_score: float = 0.25,
         *, iou: float = 0.6, cross_iou: Optional[float] = 0.9, pose_min_score: float = 0.0,
         fill_categories: Sequence[str] = MAIN_CATEGORIES,
         max_per_category: Optional[int] = None) -> list[Detection]:
    """Detector boxes above `min_score`, plus pose regions for main categories the detector missed.

    `yolo`: raw detector output (any score); `pose`: pose-guided regions (source "pose");
    `full_shot`: the gate's verdict; pose regions are only used on full shots.
    `min_score`: detector threshold (config `detector_score`); `pose_min_score`: pose threshold.
    `iou` / `cross_iou`: NMS thresholds within a category / across categories.
    `max_per_category`: keep at most this many boxes per category (None: no cap).
    Returns detections sorted by category order, then score.
    """
    for d in yolo:
        if d.category not in CATEGORIES:
            raise ValueError(f"unknown category {d.category!r} from the detector")
    chosen = [d for d in yolo if d.score >= min_score]
    if full_shot:
        present = {d.category for d in chosen}
        chosen += [d for d in pose
                   if d.category in fill_categories and d.category not in present and d.score >= pose_min_score]
    kept = nms(chosen, iou=iou, cross_iou=cross_iou)
    if max_per_category is not None:
        counts: dict[str, int] = {}
        capped = []
        for d in kept:  # already in rank order
            counts[d.category] = counts.get(d.category, 0) + 1
            if counts[d.category] <= max_per_category:
                capped.append(d)
        kept = capped
    kept.sort(key=lambda d: (CATEGORIES.index(d.category), _rank(d)))
    return kept


class FusedDetector:
    """The trained detector fused with pose regions, behind the `core.detect.Detector` protocol."""

    name = "yolo+pose"

    def __init__(self, yolo, pose, config) -> None:
        self.name = f"{getattr(yolo, 'name', 'yolo')}+pose"  # e.g. yolo-ensemble+pose
        self.yolo = yolo
        self.pose = pose
        self.min_score = float(config.detector_score)
        self.iou = float(getattr(config, "fusion_iou", 0.6))
        cross = float(getattr(config, "fusion_cross_iou", 0.9))
        self.cross_iou = cross if cross > 0 else None

    def detect(self, image, verdict=None, min_score: Optional[float] = None,
               raw: Optional[Sequence[Detection]] = None) -> list[Detection]:
        """Fused detections; pose regions only fill in on a photo the gate judged a full shot.

        `min_score` overrides the configured threshold (`lookbot detect` uses 0.01 to measure).
        `raw`: the trained detector's boxes on this image when the gate already ran it.
        """
        full_shot = bool(verdict is not None and verdict.full_shot)
        pose = self.pose.detect(image, verdict) if full_shot else []
        threshold = self.min_score if min_score is None else min_score
        yolo = list(raw) if raw is not None else self.yolo.detect(image, verdict)
        person = person_box(verdict.landmarks) if full_shot else None
        if person is not None:
            yolo = [d for d in yolo if inside_fraction(d.box, person) >=
                    MIN_ON_PERSON_BY_CATEGORY.get(d.category, MIN_ON_PERSON)]
        return fuse(yolo, pose, full_shot, threshold, iou=self.iou, cross_iou=self.cross_iou)
