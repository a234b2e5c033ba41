"""MediaPipe's BlazePose models (the two `.tflite` files inside the mediapipe wheel) run under
OpenVINO, with the steps of MediaPipe's static-image pose graph (`pose_landmark_cpu`) in numpy:
detect the person on a 224 x 224 letterbox, turn the detection's hip and scale key points into a
rotated square around the body, read 39 landmarks from a 256 x 256 crop of it, refine them on the
model's heatmap and project them back onto the photo.

The same models as `mediapipe.solutions.pose` (model_complexity=1), in float32: landmarks within
0.02% of the photo's side of MediaPipe's (median) and the same gate verdict on all 2,385 photos compared,
at about three quarters of MediaPipe's CPU time (docs/MEASUREMENTS.md, "The gate's pose under
OpenVINO"). `LOOKBOT_GATE_RUNTIME=mediapipe` keeps MediaPipe's own graph.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .cpu import OpenVinoSession
from .fusion import box_iou, inside_fraction

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_LANDMARKS = 33  # of the model's 39; the last 6 are auxiliary points for video tracking
HEATMAP_KERNEL = 7  # RefineLandmarksFromHeatmapCalculator's window
REFINE_MIN_CONFIDENCE = 0.5
NMS_IOU = 0.3  # NonMaxSuppressionCalculator, weighted
ROI_SCALE = 1.25  # RectTransformationCalculator around the hip-centred square
# the landmark model's outputs read: landmarks (39 x 5), pose presence, heatmap (64 x 64 x 39)
LANDMARK_OUTPUTS = ("Identity", "Identity_1", "Identity_3")
STRIP_SIDE = 0.6  # detect_people: the strips of a wide photo, of its width (they overlap)
MAX_PEOPLE = 6  # people_landmarks reads at most this many people


def model_files() -> tuple[Path, Path]:
    """The detector and full landmark model bundled in the mediapipe wheel."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("mediapipe is not installed: its wheel holds the pose models")
    modules = Path(spec.origin).parent / "modules"
    return (modules / "pose_detection" / "pose_detection.tflite",
            modules / "pose_landmark" / "pose_landmark_full.tflite")


def ssd_anchors() -> np.ndarray:
    """(2254, 2) anchor centres of the pose detector (SsdAnchorsCalculator: 5 layers, strides
    8/16/32/32/32, two anchors a cell, fixed size), in the order the model outputs them."""
    strides = (8, 16, 32, 32, 32)
    centres = []
    layer = 0
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        per_cell = 2 * (same - layer)  # one scale and one interpolated scale per layer
        side = math.ceil(DETECTOR_SIZE / strides[layer])
        for y in range(side):
            for x in range(side):
                centres.extend([((x + 0.5) / side, (y + 0.5) / side)] * per_cell)
        layer = same
    return np.array(centres, dtype=np.float32)


@dataclass(frozen=True)
class Roi:
    """A rotated square on the photo, in pixels: centre, side and angle (radians)."""

    cx: float
    cy: float
    side: float
    angle: float

    def matrix(self, size: int) -> np.ndarray:
        """The 2 x 3 affine map from a `size` x `size` crop to the photo. Like MediaPipe's
        ImageToTensorCalculator it maps the crop's corners onto pixel indices (no half-pixel
        shift): its landmarks match MediaPipe's to 0.02% of the photo with this, 0.3% without."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = self.side / size
        return np.array([[c * k, -s * k, self.cx - k * size / 2 * (c - s)],
                         [s * k, c * k, self.cy - k * size / 2 * (s + c)]], dtype=np.float64)


@dataclass(frozen=True)
class Person:
    """One detection of the pose detector, in photo pixels: its box (a fixed-size square on the
    face) and the body square the landmark model reads."""

    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    roi: Roi


def person_on_photo(row: np.ndarray, score: float, scale: float, pad_x: float, pad_y: float
                    ) -> Person:
    """A detection row (cx, cy, w, h, then key points, on the letterbox, 0..1) in photo pixels;
    its body square as PoseDetectionToRoi makes it from key points 0 (hips) and 1 (scale)."""
    pts = (row.reshape(-1, 2) * DETECTOR_SIZE - [pad_x, pad_y]) / scale  # centre, size, points
    (cx, cy), (bw, bh) = pts[0], row[2:4] * DETECTOR_SIZE / scale
    (hx, hy), (sx, sy) = pts[2], pts[3]
    side = 2 * math.hypot(sx - hx, sy - hy) * ROI_SCALE
    angle = normalise_angle(math.pi / 2 - math.atan2(-(sy - hy), sx - hx))
    return Person(float(score), (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2),
                  Roi(hx, hy, side, angle))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


class BlazePose:
    """33 pose landmarks of the most confident person, as MediaPipe Pose finds them, on OpenVINO.
    Thread-safe: each calling thread gets its own inference requests (core.cpu.OpenVinoSession)."""

    def __init__(self, min_detection_confidence: float = 0.5, min_presence: float = 0.5,
                 threads: int = 1, precision: str = "f32") -> None:
        """`precision` "f32", or "bf16" (faster on CPUs that have it, but its landmarks move
        enough to change 23 of 2,385 gate verdicts against MediaPipe's, 0 to 3 in float32)."""
        detector, landmarks = model_files()
        self.detector = OpenVinoSession(detector, threads, precision)
        # without the segmentation mask and world landmarks: 0.7x the model's time
        self.landmarker = OpenVinoSession(landmarks, threads, precision, LANDMARK_OUTPUTS)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_presence = float(min_presence)
        self.anchors = ssd_anchors()

    def landmarks(self, rgb: np.ndarray) -> Optional[list[tuple[float, float, float]]]:
        """33 (x, y, visibility) in pixels of `rgb`, or None when nobody is found."""
        roi = self.find_person(rgb)
        return None if roi is None else self.read_landmarks(rgb, roi)

    # --- detection ----------------------------------------------------------------------
    def find_person(self, rgb: np.ndarray) -> Optional[Roi]:
        """The body square of the best detection (PoseDetectionCpu, then PoseDetectionToRoi)."""
        people = self.detect(rgb)
        return people[0].roi if people else None

    def detect(self, rgb: np.ndarray, left: int = 0) -> list[Person]:
        """Every detection above the detector's confidence, after weighted NMS, most confident
        first (the first is the one MediaPipe's graph keeps); `left` shifts them onto a photo
        that `rgb` is a vertical strip of."""
        import cv2

        h, w = rgb.shape[:2]
        scale = DETECTOR_SIZE / max(h, w)
        pad_x, pad_y = (DETECTOR_SIZE - w * scale) / 2, (DETECTOR_SIZE - h * scale) / 2
        to_input = np.array([[scale, 0, pad_x], [0, scale, pad_y]], dtype=np.float64)
        x = cv2.warpAffine(rgb, to_input, (DETECTOR_SIZE, DETECTOR_SIZE), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        x = (x.astype(np.float32) * (2 / 255.0) - 1.0)[None]
        boxes, scores = self.detector.run(None, {self.detector.get_inputs()[0].name: x})
        scores = sigmoid(scores[0, :, 0])  # clipped, as MediaPipe clips scores at +-100
        keep = np.flatnonzero(scores >= self.min_detection_confidence)
        if keep.size == 0:
            return []
        raw = boxes[0, keep].astype(np.float64) / DETECTOR_SIZE
        anchors = np.tile(self.anchors[keep], 6)  # (x, y) of the box centre and 4 key points
        raw[:, 4:] += anchors[:, 4:]
        raw[:, :2] += anchors[:, :2]
        return [person_on_photo(row, score, scale, pad_x - left * scale, pad_y)
                for row, score in weighted_nms(raw, scores[keep])]

    def detect_people(self, rgb: np.ndarray) -> list[Person]:
        """`detect`'s people, and on a photo wider than tall those found on its left and right
        STRIP_SIDE strips too: side by side in a wide photo (a group, a collage) people are
        small on the detector's 224-pixel input. The whole photo's best detection stays first;
        the strips find the same people again, as different detections."""
        found = self.detect(rgb)
        h, w = rgb.shape[:2]
        if found and w > h:
            strip = int(round(w * STRIP_SIDE))
            found += self.detect(np.ascontiguousarray(rgb[:, :strip]))
            found += self.detect(np.ascontiguousarray(rgb[:, w - strip:]), left=w - strip)
        return found

    def people_landmarks(self, rgb: np.ndarray, limit: int = MAX_PEOPLE
                         ) -> list[list[tuple[float, float, float]]]:
        """`landmarks` of the best detection first (none: []), then those of up to `limit` - 1
        other detections whose box overlaps none read before by more than half: two
        detections of one person may still give its landmarks twice (core.gate.count_people
        tells them apart)."""
        people = self.detect_people(rgb)
        first = self.read_landmarks(rgb, people[0].roi) if people else None
        if first is None:
            return []
        out, read = [first], [people[0]]
        for p in people[1:]:
            if len(read) >= limit:
                break
            # over half of the smaller box inside the other
            if any(max(inside_fraction(p.box, q.box), inside_fraction(q.box, p.box)) > 0.5
                   for q in read):
                continue
            read.append(p)
            lms = self.read_landmarks(rgb, p.roi)
            if lms is not None:
                out.append(lms)
        return out

    # --- landmarks ----------------------------------------------------------------------
    def read_landmarks(self, rgb: np.ndarray, roi: Roi
                       ) -> Optional[list[tuple[float, float, float]]]:
        """PoseLandmarkByRoiCpu: the crop, the model, the heatmap refinement, the projection."""
        import cv2

        to_photo = roi.matrix(LANDMARK_SIZE)
        crop = cv2.warpAffine(rgb, to_photo, (LANDMARK_SIZE, LANDMARK_SIZE),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
        x = (crop.astype(np.float32) * (1 / 255.0))[None]
        raw, flag, heatmap = self.landmarker.run(None, {self.landmarker.get_inputs()[0].name: x})
        if float(np.ravel(flag)[0]) < self.min_presence:
            return None
        lms = raw.reshape(-1, 5)[:NUM_LANDMARKS].astype(np.float64)
        xy = refine_on_heatmap(lms[:, :2] / LANDMARK_SIZE, heatmap[0]) * LANDMARK_SIZE
        px = xy[:, 0] * to_photo[0, 0] + xy[:, 1] * to_photo[0, 1] + to_photo[0, 2]
        py = xy[:, 0] * to_photo[1, 0] + xy[:, 1] * to_photo[1, 1] + to_photo[1, 2]
        vis = sigmoid(lms[:, 3])
        return [(float(a), float(b), float(v)) for a, b, v in zip(px, py, vis)]


def weighted_nms(raw: np.ndarray, scores: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """All detections of weighted NMS, best first, as (averaged row, top score): the most
    confident left, its box and key points averaged with those left that overlap it by more
    than NMS_IOU, weighted by score (NonMaxSuppressionCalculator, WEIGHTED; MediaPipe's graph
    keeps the first only), which then leave, until none is left. `raw` rows: cx, cy, w, h,
    then key points."""
    boxes = np.stack([raw[:, 0] - raw[:, 2] / 2, raw[:, 1] - raw[:, 3] / 2,
                      raw[:, 0] + raw[:, 2] / 2, raw[:, 1] + raw[:, 3] / 2], axis=1)
    left = np.argsort(-scores, kind="stable")  # argmax's pick first on ties
    out = []
    while left.size:
        top = left[0]
        near = np.array([box_iou(boxes[i], boxes[top]) > NMS_IOU for i in left])
        near[0] = True
        group = left[near]
        weights = scores[group] / scores[group].sum()
        out.append(((raw[group] * weights[:, None]).sum(axis=0), float(scores[top])))
        left = left[~near]
    return out


def refine_on_heatmap(xy: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """Landmarks (normalised to the crop) moved to the confidence-weighted centre of a 7 x 7
    window of their heatmap channel, where that window is confident enough
    (RefineLandmarksFromHeatmapCalculator). All landmarks at once: a window cut by the
    heatmap's edge counts only its inside cells."""
    hm_h, hm_w = heatmap.shape[:2]
    n = len(xy)
    cols, rows = (xy[:, 0] * hm_w).astype(np.int64), (xy[:, 1] * hm_h).astype(np.int64)  # int()
    inside = (cols >= 0) & (cols < hm_w) & (rows >= 0) & (rows < hm_h)
    offsets = np.arange(HEATMAP_KERNEL) - (HEATMAP_KERNEL - 1) // 2
    r, c = rows[:, None] + offsets, cols[:, None] + offsets  # (n, 7) each
    cells = ((r >= 0) & (r < hm_h))[:, :, None] & ((c >= 0) & (c < hm_w))[:, None, :]
    values = heatmap[np.clip(r, 0, hm_h - 1)[:, :, None], np.clip(c, 0, hm_w - 1)[:, None, :],
                     np.arange(n)[:, None, None]]
    conf = sigmoid(values.astype(np.float64)) * cells  # (n, 7, 7), 0 outside the heatmap
    total = conf.sum(axis=(1, 2))
    sure = inside & (conf.max(axis=(1, 2)) >= REFINE_MIN_CONFIDENCE) & (total > 0)
    out = xy.copy()
    safe = np.where(sure, total, 1.0)
    out[sure, 0] = ((c[:, None, :] * conf).sum(axis=(1, 2)) / hm_w / safe)[sure]
    out[sure, 1] = ((r[:, :, None] * conf).sum(axis=(1, 2)) / hm_h / safe)[sure]
    return out


def normalise_angle(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))
