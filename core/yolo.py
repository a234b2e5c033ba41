"""The trained YOLO fashion detector (ultralytics), loaded offline from `data/models/detector.pt`
through `core.ultralytics_offline.load_ultralytics()`."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np

from core.records import CATEGORIES, Detection
from core.ultralytics_offline import load_ultralytics

log = logging.getLogger(__name__)

DETECTOR_FILE = "detector.pt"
RAW_MIN_SCORE = 0.01  # the detector reports everything above this; fusion applies the real threshold
RUNTIMES = ("openvino-int8", "openvino", "onnx", "torch")

class DetectorUnavailable(RuntimeError):
    """The trained weights are missing or unreadable."""


class YoloDetector:
    """Finds topwear, bottomwear, footwear, eyewear and handbags with the trained YOLO model.

    `detect()` returns raw detections (score >= `min_score`, default 0.01) with `source="yolo"` and
    boxes in the pixels of the image it was given; `core.fusion.fuse` applies the real thresholds.
    `runtime` "onnx" runs the model with ONNX Runtime on the CPU (`core.yolo_onnx`, the same boxes in
    about half the time), "openvino" with OpenVINO (bfloat16 where the CPU has it: the boxes within
    a few thousandths, in 0.6x ONNX Runtime's time), "openvino-int8" with its convolutions in
    int8 (core/detector_int8.py, about 0.8x bfloat16's time); each falls back to the next, down to
    PyTorch, with a warning when it is not installed.
    """

    name = "yolo"

    def __init__(self, weights: Path, imgsz: Optional[int] = None, device: str = "cpu",
                 min_score: float = RAW_MIN_SCORE, iou: float = 0.6, max_det: int = 50,
                 threads: Optional[int] = None, runtime: str = "torch",
                 onnx_cache: Optional[Path] = None) -> None:
        weights = Path(weights)
        if not weights.is_file():
            raise DetectorUnavailable(f"detector weights not found: {weights} (run `lookbot train-detector`)")
        # `threads` None keeps ultralytics' choice (one thread on 2 cores): more oversubscribe OpenMP
        yolo = load_ultralytics(torch_threads=threads)
        try:
            self.model = yolo.YOLO(str(weights), task="detect")
        except Exception as exc:
            raise DetectorUnavailable(f"could not load detector weights {weights}: {exc}") from exc
        names = self.model.names
        self.names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
        unknown = [n for n in self.names if n not in CATEGORIES]
        if unknown:
            raise DetectorUnavailable(f"{weights} has classes {unknown} that lookbot does not know")
        train_args = getattr(self.model, "overrides", {}) or {}
        self.imgsz = int(imgsz or train_args.get("imgsz") or 416)
        self.device = device
        self.min_score = float(min_score)
        self.iou = float(iou)
        self.max_det = int(max_det)
        self.weights = weights
        self.onnx = None
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown detector runtime {runtime!r}: expected one of {RUNTIMES}")
        if runtime != "torch" and device == "cpu":
            from .yolo_onnx import OnnxYolo

            for name in RUNTIMES[RUNTIMES.index(runtime):-1]:  # openvino(-int8), then onnx
                try:
                    self.onnx = OnnxYolo(weights, onnx_cache or weights.parent / "cache", threads,
                                         runtime=name, imgsz=self.imgsz)
                    break
                except Exception as exc:  # the runtime or onnx missing, or the export failed
                    log.warning("%s not usable for %s (%s): running it with %s", name,
                                weights.name, exc, {"openvino-int8": "OpenVINO", "openvino": "ONNX Runtime"}.get(name, "PyTorch"))
        self.runtime = self.onnx.runtime if self.onnx is not None else "torch"

    @classmethod
    def from_config(cls, config, weights: Optional[Path] = None, imgsz: Optional[int] = None
                    ) -> "YoloDetector":
        """`weights` default to models_dir/detector.pt; `imgsz` to the configured or trained size."""
        return cls(Path(weights or Path(config.models_dir) / DETECTOR_FILE),
                   imgsz=getattr(config, "detector_imgsz", 0) or imgsz,
                   runtime=getattr(config, "detector_runtime", "torch"),
                   onnx_cache=Path(config.models_dir) / "cache")

    def detect(self, image: np.ndarray, verdict=None) -> list[Detection]:
        """Detections in an RGB uint8 HxWx3 image. `verdict` is accepted for the Detector protocol."""
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
            raise ValueError("expected an RGB image as a HxWx3 uint8 array")
        if self.onnx is not None:
            xyxy, conf, cls = self.onnx.predict(image, self.imgsz, self.min_score, self.iou, self.max_det)
        else:
            bgr = np.ascontiguousarray(image[:, :, ::-1])  # ultralytics treats numpy input as BGR (OpenCV)
            result = self.model.predict(bgr, imgsz=self.imgsz, conf=self.min_score, iou=self.iou,
                                        max_det=self.max_det, device=self.device, verbose=False)[0]
            boxes = result.boxes
            if boxes is None or len(boxes) == 0:
                return []
            xyxy = boxes.xyxy.cpu().numpy()
            conf = boxes.conf.cpu().numpy()
            cls = boxes.cls.cpu().numpy().astype(int)
        h, w = image.shape[:2]
        out = []
        for (x1, y1, x2, y2), score, c in zip(xyxy, conf, cls):
            box = (float(max(0.0, x1)), float(max(0.0, y1)), float(min(w, x2)), float(min(h, y2)))
            out.append(Detection(category=self.names[c], box=box, score=float(score), source="yolo"))
        out.sort(key=lambda d: -d.score)
        return out
