"""Run a trained YOLO detector from its ONNX export: under ONNX Runtime about twice as fast as
PyTorch on one CPU thread, under OpenVINO in bfloat16 (where the CPU has it) 0.6x ONNX Runtime's time,
and under OpenVINO with its convolutions in int8 (core/detector_int8.py) about 0.8x that.

The `.onnx` file is exported once from the `.pt` weights with ultralytics' own exporter (dynamic input
size, so letterboxed photos keep their aspect ratio as they do under PyTorch) into a cache folder, under
the weights' hash: a retrained detector is exported afresh and a stale export is never used.
Pre- and post-processing are ultralytics' (LetterBox, non_max_suppression, scale_boxes), so the boxes
match the PyTorch path's.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

from core.ultralytics_offline import load_ultralytics
from .cpu import OpenVinoSession, cpu_session, spare_threads
from .onnx_cache import drop_stale

log = logging.getLogger(__name__)


def weights_digest(weights: Path) -> str:
    """The first 12 hex digits of the weights file's SHA-256."""
    return hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:12]


def export_onnx(weights: Path, cache_dir: Path, task: str = "detect") -> Path:
    """`cache_dir/<stem>-<digest>.onnx`, exported from `weights` (a YOLO `task` model) unless it is
    already there.

    A new export removes the exports of earlier weights of the same name."""
    weights = Path(weights)
    target = Path(cache_dir) / f"{weights.stem}-{weights_digest(weights)}.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s to ONNX (once, into %s)", weights.name, target.parent)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:  # the exporter writes beside its input
        copy = Path(tmp) / weights.name
        shutil.copyfile(weights, copy)
        model = load_ultralytics().YOLO(str(copy), task=task)
        exported = Path(model.export(format="onnx", dynamic=True, simplify=False, device="cpu",
                                     verbose=False))
        os.replace(exported, target)  # atomic: a half-written export is never picked up
    drop_stale(target, weights.stem)  # exports of earlier weights
    return target


class OnnxYolo:
    """A YOLO detection model exported to ONNX, run on the CPU with `threads` threads by ONNX Runtime
    (`runtime` "onnx"), OpenVINO ("openvino") or OpenVINO on the export quantized to int8
    ("openvino-int8", core/detector_int8.py, calibrated at `imgsz`)."""

    def __init__(self, weights: Path, cache_dir: Path, threads: Optional[int] = None,
                 runtime: str = "onnx", imgsz: int = 640) -> None:
        if runtime.startswith("openvino"):
            import openvino  # noqa: F401  (missing: fail here, before an export)
        else:
            import onnxruntime  # noqa: F401

        self.onnx_file = export_onnx(weights, cache_dir)
        threads = spare_threads(threads)
        if runtime == "openvino-int8":
            from .detector_int8 import quantize_detector

            self.session = OpenVinoSession(quantize_detector(self.onnx_file, imgsz), threads)
        elif runtime == "openvino":
            self.session = OpenVinoSession(self.onnx_file, threads)
        else:
            self.session = cpu_session(self.onnx_file, threads)
        self.runtime = runtime
        self.input_name = self.session.get_inputs()[0].name

    def predict(self, rgb: np.ndarray, imgsz: int, conf: float, iou: float, max_det: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (xyxy in `rgb`'s pixels), scores and class ids of one RGB uint8 image."""
        import torch
        from ultralytics.data.augment import LetterBox
        from ultralytics.utils import ops
        from ultralytics.utils.nms import non_max_suppression

        # letterboxing treats the channels alike, so RGB goes in as it is: no flip to BGR and back
        padded = LetterBox((imgsz, imgsz), auto=True, stride=32)(image=np.ascontiguousarray(rgb))
        x = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32)
        np.divide(x, 255.0, out=x)
        raw = self.session.run(None, {self.input_name: x})[0]
        pred = non_max_suppression(torch.from_numpy(raw), conf, iou, max_det=max_det)[0]
        boxes = ops.scale_boxes(x.shape[2:], pred[:, :4], rgb.shape)
        return boxes.numpy(), pred[:, 4].numpy(), pred[:, 5].numpy().astype(int)
