"""The garment's own pixels: a YOLO segmentation model (segmenter.pt, `lookbot train-segmenter`).

It runs once per photo beside the box detector, under ONNX Runtime (exported once into the models'
cache, as core/yolo_onnx.py does for the detector), with ultralytics' own pre- and post-processing.
`mask_for` gives a detection box its garment pixels: the segments of its category that overlap it,
inside the box. `cut_out` makes the crop that is embedded: the mask rides along as its alpha channel,
which core/colour.py reads as the garment's pixels; with LOOKBOT_SEGMENTER_CUT=white the pixels off
the mask also turn white, like a catalog shot's studio background (measured: better colour, worse
article type, since catalog shots show garments worn; docs/MEASUREMENTS.md).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from .cpu import cpu_session, spare_threads
from .records import CATEGORIES, Box

log = logging.getLogger(__name__)

SEGMENTER_FILE = "segmenter.pt"
MIN_MASK_SHARE = 0.05  # a mask covering less of its box than this is taken as a miss: the box is used
MATCH_COVER = 0.3  # a segment belongs to a box when this share of the smaller of the two boxes overlaps


class SegmenterUnavailable(RuntimeError):
    """The segmentation weights are missing or cannot be loaded."""


@dataclass
class Segment:
    """One garment instance: category, box, score and its pixels (bool, h x w of the photo)."""

    category: str
    box: Box
    score: float
    mask: np.ndarray


class Segmenter:
    """segmenter.pt under ONNX Runtime, at `imgsz` (its training size by default), on `threads` threads."""

    def __init__(self, weights: Path, cache_dir: Path, imgsz: int = 0, conf: float = 0.2, iou: float = 0.6,
                 threads: Optional[int] = None) -> None:
        weights = Path(weights)
        if not weights.is_file():
            raise SegmenterUnavailable(f"no segmenter at {weights}: run `lookbot train-segmenter`")
        import onnxruntime  # noqa: F401  (missing: fail here, before an export)

        from .yolo_onnx import export_onnx

        try:
            self.onnx_file = export_onnx(weights, cache_dir, task="segment")
        except Exception as exc:  # a corrupt or foreign .pt
            raise SegmenterUnavailable(f"cannot load segmenter {weights}: {exc}") from exc
        self.session = cpu_session(self.onnx_file, spare_threads(threads))
        self.input_name = self.session.get_inputs()[0].name
        self.imgsz = int(imgsz or _trained_imgsz(weights))
        self.conf, self.iou = conf, iou
        self.name = weights.name

    @classmethod
    def from_config(cls, config) -> Optional["Segmenter"]:
        """The configured segmenter, or None (switched off, or no weights: crops stay whole boxes)."""
        if not config.use_segmenter:
            return None
        try:
            return cls(config.models_dir / SEGMENTER_FILE, config.models_dir / "cache", imgsz=config.segmenter_imgsz)
        except (SegmenterUnavailable, ImportError) as exc:
            log.warning("segmenter not used (%s): articles are cut out by their boxes", exc)
            return None

    def segment(self, rgb: np.ndarray) -> list[Segment]:
        """Garment instances of an RGB uint8 photo, masks in its pixels."""
        import torch
        from ultralytics.data.augment import LetterBox
        from ultralytics.utils import ops
        from ultralytics.utils.nms import non_max_suppression

        h, w = rgb.shape[:2]
        padded = LetterBox((self.imgsz, self.imgsz), auto=True, stride=32)(image=np.ascontiguousarray(rgb))
        x = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        raw, protos = self.session.run(None, {self.input_name: x})
        pred = non_max_suppression(torch.from_numpy(raw), self.conf, self.iou, nc=len(CATEGORIES), max_det=30)[0]
        if not len(pred):
            return []
        boxes = ops.scale_boxes(x.shape[2:], pred[:, :4].clone(), (h, w)).numpy()
        pred = pred.numpy()
        return [Segment(CATEGORIES[int(p[5])], tuple(float(v) for v in b), float(p[4]), m)
                for p, b, m in zip(pred, boxes, _masks(protos[0], pred[:, 6:], boxes, (h, w)))]


def _masks(protos: np.ndarray, coeffs: np.ndarray, boxes: np.ndarray, shape: tuple[int, int]) -> list[np.ndarray]:
    """Each instance's mask in photo pixels: its prototype mix at proto resolution, the letterbox
    padding cut off, resized bilinearly (cv2: far cheaper than upsampling every mask in torch), inside its box."""
    import cv2

    c, mh, mw = protos.shape
    h, w = shape
    logits = (coeffs @ protos.reshape(c, -1)).reshape(-1, mh, mw)
    gain = min(mh / h, mw / w)
    pad_w, pad_h = (mw - w * gain) / 2, (mh - h * gain) / 2
    top, left = int(round(pad_h - 0.1)), int(round(pad_w - 0.1))
    bottom, right = mh - int(round(pad_h + 0.1)), mw - int(round(pad_w + 0.1))
    out = []
    for logit, (x1, y1, x2, y2) in zip(logits, boxes):
        full = cv2.resize(np.ascontiguousarray(logit[top:bottom, left:right]), (w, h), interpolation=cv2.INTER_LINEAR) > 0
        inside = np.zeros((h, w), bool)
        ya, yb, xa, xb = max(0, int(y1)), min(h, int(np.ceil(y2))), max(0, int(x1)), min(w, int(np.ceil(x2)))
        inside[ya:yb, xa:xb] = full[ya:yb, xa:xb]
        out.append(inside)
    return out


def _trained_imgsz(weights: Path) -> int:
    """The image size segmenter.pt was trained at (its checkpoint's train args), else 384."""
    import torch

    try:
        ckpt = torch.load(str(weights), map_location="cpu", weights_only=False)
        return int((ckpt.get("train_args") or {}).get("imgsz") or 384)
    except Exception:  # unreadable args: the size the segmenter is trained at by default
        return 384


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return max(0.0, w) * max(0.0, h) / small if small > 0 else 0.0


def mask_for(segments: list[Segment], category: str, box: Box) -> Optional[np.ndarray]:
    """The pixels of `category` inside `box` from the segments that overlap it; None when too few."""
    hits = [s for s in segments if s.category == category and _overlap(s.box, box) >= MATCH_COVER]
    if not hits:
        return None
    h, w = hits[0].mask.shape
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    out = np.zeros((h, w), bool)
    for s in hits:
        out[y1:y2, x1:x2] |= s.mask[y1:y2, x1:x2]
    if out.sum() < MIN_MASK_SHARE * max(1, (x2 - x1) * (y2 - y1)):
        return None
    return out


def cut_out(rgb: np.ndarray, window: tuple[int, int, int, int], mask: Optional[np.ndarray],
            whiten: bool = True) -> Image.Image:
    """The `window` (x1, y1, x2, y2) of the photo; with a mask, an RGBA crop whose alpha is the mask and
    whose off-mask pixels are white (`whiten`) or left as they are (the mask then serves the colour only)."""
    x1, y1, x2, y2 = window
    part = rgb[y1:y2, x1:x2]
    if mask is None:  # copied whole first: PIL reads a strided view pixel by pixel, 15x slower
        return Image.fromarray(np.ascontiguousarray(part))
    keep = mask[y1:y2, x1:x2]
    out = np.where(keep[..., None], part, np.uint8(255)).astype(np.uint8) if whiten else part
    return Image.fromarray(np.dstack([out, keep.astype(np.uint8) * 255]), "RGBA")
