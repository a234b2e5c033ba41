"""Pose-guided article regions: boxes for top, bottom and each shoe from the gate's landmarks."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from . import gate as g
from .records import Box, Detection, GateVerdict

Landmarks = Sequence[tuple[float, float, float]]


def _clip(box: Box, width: int, height: int) -> Optional[Box]:
    x1, y1, x2, y2 = box
    x1, x2 = max(0.0, min(x1, x2)), min(float(width), max(x1, x2))
    y1, y2 = max(0.0, min(y1, y2)), min(float(height), max(y1, y2))
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    return (x1, y1, x2, y2)


def _pts(lms: Landmarks, idx: Sequence[int]) -> np.ndarray:
    return np.array([[lms[i][0], lms[i][1]] for i in idx], dtype=np.float64)


def pose_regions(lms: Optional[Landmarks], width: int, height: int, score: float = 0.5
                 ) -> list[Detection]:
    """Topwear, bottomwear and two footwear boxes, in the landmarks' pixel frame."""
    if not lms:
        return []
    shoulders = _pts(lms, (g.L_SHOULDER, g.R_SHOULDER))
    hips = _pts(lms, (g.L_HIP, g.R_HIP))
    shoulder_w = float(np.linalg.norm(shoulders[0] - shoulders[1]))
    torso_h = float(hips[:, 1].mean() - shoulders[:, 1].mean())
    unit = max(shoulder_w, torso_h * 0.6, 8.0)
    out: list[Detection] = []

    # Topwear: shoulders to just below the hips, widened to the elbows (sleeves).
    arms = _pts(lms, (g.L_ELBOW, g.R_ELBOW))
    top_pts = np.vstack([shoulders, hips, arms])
    x1, x2 = top_pts[:, 0].min() - 0.12 * unit, top_pts[:, 0].max() + 0.12 * unit
    y1 = shoulders[:, 1].min() - 0.15 * unit
    y2 = hips[:, 1].max() + 0.10 * unit
    top = _clip((x1, y1, x2, y2), width, height)
    if top:
        out.append(Detection("topwear", top, score, "pose"))

    # Bottomwear: hips to ankles, as wide as hips and knees allow.
    legs = _pts(lms, (g.L_HIP, g.R_HIP, g.L_KNEE, g.R_KNEE, g.L_ANKLE, g.R_ANKLE))
    x1, x2 = legs[:, 0].min() - 0.20 * unit, legs[:, 0].max() + 0.20 * unit
    y1 = hips[:, 1].min() - 0.15 * unit
    y2 = legs[4:, 1].max()
    bottom = _clip((x1, y1, x2, y2), width, height)
    if bottom:
        out.append(Detection("bottomwear", bottom, score, "pose"))

    # Footwear: one box per foot around ankle, heel and toes.
    for ankle, heel, toe in ((g.L_ANKLE, g.L_HEEL, g.L_TOE), (g.R_ANKLE, g.R_HEEL, g.R_TOE)):
        foot = _pts(lms, (ankle, heel, toe))
        pad = 0.18 * unit
        box = _clip((foot[:, 0].min() - pad, foot[:, 1].min() - pad * 0.5,
                     foot[:, 0].max() + pad, foot[:, 1].max() + pad * 0.6), width, height)
        if box:
            out.append(Detection("footwear", box, score, "pose"))
    return out


class PoseRegionFinder:
    """The detector used when no trained model is available: regions from the pose only."""

    name = "pose"

    def __init__(self, score: float = 0.5):
        self.score = score

    def detect(self, image: np.ndarray, verdict: Optional[GateVerdict] = None,
               min_score: Optional[float] = None) -> list[Detection]:
        lms = verdict.landmarks if verdict else None
        return pose_regions(lms, image.shape[1], image.shape[0], self.score)


def head_region(lms: Optional[Landmarks], width: int, height: int) -> Optional[Box]:
    """Head and hair down to the shoulders, for the wearer's gender (core/street.py)."""
    if not lms:
        return None
    shoulders = _pts(lms, (g.L_SHOULDER, g.R_SHOULDER))
    hips = _pts(lms, (g.L_HIP, g.R_HIP))
    eyes = _pts(lms, (g.L_EYE, g.R_EYE))
    unit = max(float(np.linalg.norm(shoulders[0] - shoulders[1])),
               float(hips[:, 1].mean() - shoulders[:, 1].mean()) * 0.6, 8.0)
    cx = float(lms[g.NOSE][0])
    return _clip((cx - 0.7 * unit, float(eyes[:, 1].mean()) - 0.9 * unit, cx + 0.7 * unit,
                  float(shoulders[:, 1].mean()) + 0.2 * unit), width, height)


SHAPE_DIM = 6


def body_shape(lms: Optional[Landmarks]) -> np.ndarray:
    """Body proportions over the eye-to-heel height (shoulder and hip widths, torso, legs)."""
    if not lms:
        return np.zeros(SHAPE_DIM, dtype=np.float32)
    p = lambda i: np.array(lms[i][:2], dtype=np.float64)
    eye_y = (p(g.L_EYE)[1] + p(g.R_EYE)[1]) / 2
    heel_y = (p(g.L_HEEL)[1] + p(g.R_HEEL)[1]) / 2
    h = max(heel_y - eye_y, 1.0)
    sw = np.linalg.norm(p(g.L_SHOULDER) - p(g.R_SHOULDER))
    hw = np.linalg.norm(p(g.L_HIP) - p(g.R_HIP))
    sy = (p(g.L_SHOULDER)[1] + p(g.R_SHOULDER)[1]) / 2
    hy = (p(g.L_HIP)[1] + p(g.R_HIP)[1]) / 2
    return np.array([sw / h, hw / h, (hy - sy) / h, sw / max(hw, 1.0), (sy - eye_y) / h,
                     (heel_y - hy) / h], dtype=np.float32)
