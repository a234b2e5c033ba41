"""Several trained detectors as one: their boxes merged by weighted box fusion.

Weighted box fusion (Solovyev et al., "Weighted boxes fusion: ensembling boxes from different object
detection models", 2021) averages the corners of the boxes the models agree on instead of keeping the
highest-scoring one, so two detectors that each place a small shoe a little off place it better
together (its figures: docs/MEASUREMENTS.md).

The `ensemble-boxes` package implements this too, but it imports numba and pandas (about 100 MB) for
these forty lines, and it works on boxes normalised to the image; this works on `Detection` records.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Sequence

import numpy as np
import torch
from torchvision.ops import box_iou

from .records import Detection, GateVerdict

ENSEMBLE_IOU = 0.6  # the detectors' own NMS IoU: boxes that one model would count as one article


def weighted_box_fusion(per_model: Sequence[Sequence[Detection]], iou: float = ENSEMBLE_IOU
                        ) -> list[Detection]:
    """One list of detections from each model's list, for the same photo.

    Per category, the highest-scoring remaining box gathers every remaining box that overlaps it by
    IoU >= `iou`. The merged box is their score-weighted mean; its score is the mean over the models
    of each model's best score in the group, so a box only one of two models found keeps half its
    score. Returns detections sorted by score, highest first; `source` is the first box's.
    """
    n_models = len(per_model)
    if n_models == 1:
        return sorted(per_model[0], key=lambda d: -d.score)
    merged: list[Detection] = []
    pool = [(d, m) for m, dets in enumerate(per_model) for d in dets]
    for category in dict.fromkeys(d.category for d, _ in pool):
        mine = sorted((t for t in pool if t[0].category == category), key=lambda t: -t[0].score)
        boxes = np.array([d.box for d, _ in mine], dtype=float)
        scores = np.array([d.score for d, _ in mine])
        model = np.array([m for _, m in mine])
        corners = torch.from_numpy(boxes)
        overlap = (box_iou(corners, corners) >= iou).numpy()
        free = np.ones(len(mine), dtype=bool)
        for i in range(len(mine)):
            if not free[i]:
                continue
            group = free & overlap[i]
            group[i] = True
            free &= ~group
            box = tuple(float(v) for v in scores[group] @ boxes[group] / scores[group].sum())
            best = [scores[group & (model == m)].max(initial=0.0) for m in range(n_models)]
            merged.append(Detection(category, box, float(np.mean(best)), mine[i][0].source))
    merged.sort(key=lambda d: -d.score)
    return merged


class EnsembleDetector:
    """Trained detectors run on the same photo, their boxes merged by `weighted_box_fusion`.

    Behind the `core.detect.Detector` protocol, in place of one `YoloDetector`.
    """

    name = "yolo-ensemble"

    def __init__(self, members: Sequence, iou: float = ENSEMBLE_IOU) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one detector")
        self.members = list(members)
        self.iou = float(iou)
        # the members run side by side, one core each: ONNX Runtime (and torch) release the GIL
        self._pool = ThreadPoolExecutor(max_workers=len(self.members),
                                        thread_name_prefix="detector")

    def detect(self, image: np.ndarray, verdict: Optional[GateVerdict] = None) -> list[Detection]:
        if len(self.members) == 1:
            return weighted_box_fusion([self.members[0].detect(image, verdict)], self.iou)
        runs = [self._pool.submit(m.detect, image, verdict) for m in self.members]
        return weighted_box_fusion([r.result() for r in runs], self.iou)
