"""Fuse the trained detector's boxes with the pose-guided regions.

Rules:
1. The detector decides which articles are present and where: its boxes with score at or above
   their category's threshold (`min_score`: one for all, or one per category, see
   `parse_class_scores`; config `detector_score` and `detector_class_scores`).
2. On a full shot, a pose region fills a category of `fill_categories` (config `pose_fill`:
   topwear) only when the detector kept no box of that category. Pose regions never add eyewear or
   handbags, and nothing is filled on a photo that is not a full shot. Pose boxes for bottomwear
   and footwear are no longer filled in by default: on the validation photos they lowered shown
   precision (footwear 0.82 -> 0.78 at score 0.25), a wrong box being worse than none.
3. On a full shot, a detector box that lies mostly outside the person (the landmarks' extent,
   padded) is dropped: the street photos it was trained on fill the frame with one person, and
   on other photos it sometimes boxes the background. "Mostly" is less than 60% on the person,
   or less than half for a handbag, which hangs beside the body: on the 607 full shots of the
   detector's training photos, 7 of 409 labelled handbags lie less than 60% on the person
   (six of them 53-59%), against 2 of the 2,458 other garments.
4. On a full shot, a handbag that cannot be carried is dropped (`implausible_handbag`): centred
   above the shoulders, lying mostly on the head (hair and a raised arm look like a bag), or
   farther than a torso's height from every elbow, wrist and hand landmark. It changes no box
   shown at 0.25 on the 800 CCP photos, so it costs none of their labelled bags.
5. Non-maximum suppression runs over both sources together: per category at `iou`, and across
   categories at `cross_iou` (the same region named twice). Detector boxes outrank pose boxes, then
   higher scores outrank lower ones, so a pose region never removes a detector box.
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Optional, Sequence, Union

from core.records import CATEGORIES, Box, Detection

MAIN_CATEGORIES: tuple[str, ...] = ("topwear", "bottomwear", "footwear")
# How much of a detector box must lie on the person (full shots), by category (rule 3).
MIN_ON_PERSON = 0.6
MIN_ON_PERSON_BY_CATEGORY: dict[str, float] = {"handbag": 0.5}
# Rule 4: a handbag hangs from a hand, an arm or a shoulder strap (see `implausible_handbag`).
HANDBAG_MAX_ON_HEAD = 0.3  # of its area inside the head box
HANDBAG_MAX_ARM_GAP = 1.0  # in torso heights, to the nearest elbow, wrist or hand landmark
ARM_LANDMARKS = (13, 14, 15, 16, 17, 18, 19, 20, 21, 22)  # elbows, wrists, pinkies, indexes, thumbs
Scores = Union[float, Mapping[str, float]]


def parse_class_scores(text: str) -> dict[str, float]:
    """"footwear=0.35,handbag=0.6" -> {"footwear": 0.35, "handbag": 0.6}; "" or "none" -> {}."""
    out: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip() or part.strip().lower() == "none":
            continue
        name, _, value = part.partition("=")
        if name.strip() not in CATEGORIES:
            raise ValueError(f"unknown category {name.strip()!r} in {text!r}")
        out[name.strip()] = float(value)
    return out


def threshold(min_score: Scores, category: str, default: float = 0.25) -> float:
    """The score a box of `category` needs: `min_score` itself, or its entry for the category."""
    if isinstance(min_score, Mapping):
        return float(min_score.get(category, default))
    return float(min_score)


def implausible_handbag(box: Box, landmarks) -> Optional[str]:
    """Why a handbag box cannot be a carried bag (rule 4), or None when it can."""
    sh_y = (landmarks[11][1] + landmarks[12][1]) / 2
    torso = (landmarks[23][1] + landmarks[24][1]) / 2 - sh_y
    if torso <= 0:
        return None  # no usable body frame: no opinion
    if (box[1] + box[3]) / 2 < sh_y:
        return "above the shoulders"
    ears = (landmarks[7][0], landmarks[8][0])
    head_w = max(abs(ears[0] - ears[1]), 0.3 * torso)
    eye_y = min(landmarks[1][1], landmarks[4][1])
    head = (min(ears) - 0.25 * head_w, eye_y - head_w, max(ears) + 0.25 * head_w, sh_y)
    if inside_fraction(box, head) > HANDBAG_MAX_ON_HEAD:
        return "on the head"

    def gap(i: int) -> float:
        x, y = landmarks[i][0], landmarks[i][1]
        return math.hypot(max(box[0] - x, 0.0, x - box[2]), max(box[1] - y, 0.0, y - box[3]))

    if min(gap(i) for i in ARM_LANDMARKS) > HANDBAG_MAX_ARM_GAP * torso:
        return "away from the arms"
    return None


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


def fuse(yolo: Sequence[Detection], pose: Sequence[Detection], full_shot: bool, min_score: Scores = 0.25,
         *, iou: float = 0.6, cross_iou: Optional[float] = 0.9, pose_min_score: float = 0.0,
         fill_categories: Sequence[str] = MAIN_CATEGORIES,
         max_per_category: Optional[int] = None) -> list[Detection]:
    """Detector boxes above `min_score`, plus pose regions for main categories the detector missed.

    `yolo`: raw detector output (any score); `pose`: pose-guided regions (source "pose");
    `full_shot`: the gate's verdict; pose regions are only used on full shots.
    `min_score`: detector threshold, one for all or per category (config `detector_score`,
    `detector_class_scores`; categories left out of a mapping need 0.25); `pose_min_score`: pose
    threshold.
    `iou` / `cross_iou`: NMS thresholds within a category / across categories.
    `max_per_category`: keep at most this many boxes per category (None: no cap).
    Returns detections sorted by category order, then score.
    """
    for d in yolo:
        if d.category not in CATEGORIES:
            raise ValueError(f"unknown category {d.category!r} from the detector")
    chosen = [d for d in yolo if d.score >= threshold(min_score, d.category)]
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
        self.class_scores = {c: float(config.detector_score) for c in CATEGORIES}
        self.class_scores.update(parse_class_scores(getattr(config, "detector_class_scores", "")))
        fill = getattr(config, "pose_fill", ",".join(MAIN_CATEGORIES))
        self.fill = tuple(c.strip() for c in fill.split(",") if c.strip() in MAIN_CATEGORIES)
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
        scores: Scores = self.class_scores if min_score is None else min_score
        yolo = list(raw) if raw is not None else self.yolo.detect(image, verdict)
        person = person_box(verdict.landmarks) if full_shot else None
        if person is not None:
            yolo = [d for d in yolo if inside_fraction(d.box, person) >=
                    MIN_ON_PERSON_BY_CATEGORY.get(d.category, MIN_ON_PERSON)]
            yolo = [d for d in yolo if d.category != "handbag"
                    or implausible_handbag(d.box, verdict.landmarks) is None]
        return fuse(yolo, pose, full_shot, scores, iou=self.iou, cross_iou=self.cross_iou,
                    fill_categories=self.fill)
