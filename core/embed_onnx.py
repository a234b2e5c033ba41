"""Run the embedding backbone with ONNX Runtime or OpenVINO: about half PyTorch's time on the CPU.

The backbone (normalisation, EfficientNet-Lite2 features, mean pooling) is exported once with
torch's own exporter, dynamic in the batch size, into a cache folder under the hash of its weights
file, as the detectors are (core/yolo_onnx.py): new weights are exported afresh and a stale export
is never used. The head stays in PyTorch: it is a small MLP on 4 vectors.

OpenVINO runs the same int8 export in 0.85x ONNX Runtime's CPU time (30.6 against 36.2 core-ms for
a look's six crops on one thread), with features as close to fp32's (cosine 0.995 both), but it is
not the default: with the index and the street model rebuilt on its features the validation
street picks fell, within their sampling noise, and the bench showed no gain (docs/MEASUREMENTS.md).
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .cpu import OpenVinoSession, cpu_session
from .onnx_cache import drop_stale

log = logging.getLogger(__name__)

EXPORT_FORMAT = "1"  # bump when the exported graph changes, so old exports are not reused
OPSET = 17


def export_digest(weights: Path, name: str) -> str:
    """12 hex digits naming the weights file, the backbone and the export format."""
    h = hashlib.sha256(Path(weights).read_bytes())
    h.update(f"{name}/{EXPORT_FORMAT}".encode())
    return h.hexdigest()[:12]


def export_backbone(backbone: torch.nn.Module, weights: Path, cache_dir: Path) -> Path:
    """`cache_dir/backbone-<name>-<digest>.onnx`, exported from `backbone` unless already there.

    A new export removes the exports of earlier weights of the same backbone."""
    stem = f"backbone-{backbone.name}"
    target = Path(cache_dir) / f"{stem}-{export_digest(weights, backbone.name)}.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("exporting the %s backbone to ONNX (once, into %s)", backbone.name, target.parent)
    dummy = torch.rand(2, 3, backbone.size, backbone.size)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=target.parent)
    os.close(fd)
    try:
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(backbone, (dummy,), tmp, input_names=["pixels"],
                              output_names=["features"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}})
        os.replace(tmp, target)  # atomic: a half-written export is never picked up
    finally:
        Path(tmp).unlink(missing_ok=True)
    drop_stale(target, stem)
    return target


class OnnxBackbone:
    """The exported backbone: a batch of 0..1 RGB pixels (N, 3, S, S) -> pooled features."""

    def __init__(self, backbone: torch.nn.Module, weights: Path, cache_dir: Path,
                 threads: Optional[int] = None, int8: bool = False, openvino: bool = False,
                 lean: bool = False) -> None:
        """`int8`: run the statically quantized export (core/embed_int8.py), fp32 when that fails;
        `openvino`: run it with OpenVINO (int8 only), ONNX Runtime when that fails; `lean`: also
        make a one-thread session, for a look among others (core.pipeline.Engine)."""
        import onnxruntime  # noqa: F401  (missing: fail here, before an export)

        self.onnx_file = export_backbone(backbone, weights, cache_dir)
        self.int8 = False
        if int8:
            from .embed_int8 import quantize_backbone

            try:
                self.onnx_file, self.int8 = quantize_backbone(self.onnx_file, backbone.size), True
            except Exception as exc:  # e.g. no calibration crops, or an older onnxruntime
                log.warning("embedding backbone in fp32: int8 quantization failed (%s)", exc)
        threads = threads or os.cpu_count() or 1
        self.openvino = False
        if openvino and self.int8:
            try:  # float32 around the int8 layers: the same features on CPUs with and without bf16
                self.session = OpenVinoSession(self.onnx_file, threads, precision="f32", streams=1)
                self.openvino = True
            except Exception as exc:  # openvino missing, or it cannot read the export
                log.warning("int8 embedding backbone under ONNX Runtime: OpenVINO failed (%s)", exc)
        if not self.openvino:
            self.session = cpu_session(self.onnx_file, threads, optimize=True)
        # one thread for a look's few crops while other looks keep the cores busy: spread over
        # two threads they cost 1.25x the CPU for 0.65x the time (docs/MEASUREMENTS.md)
        self.lean_session = self.session
        if lean and threads > 1:
            self.lean_session = OpenVinoSession(self.onnx_file, 1, precision="f32") \
                if self.openvino else cpu_session(self.onnx_file, 1, optimize=True)

    @property
    def runtime(self) -> str:
        """What runs the backbone: openvino-int8, onnx-int8 or onnx."""
        return "openvino-int8" if self.openvino else "onnx-int8" if self.int8 else "onnx"

    def __call__(self, batch: torch.Tensor, lean: bool = False) -> np.ndarray:
        """`lean`: on one thread, when the machine is busy with other work."""
        x = np.ascontiguousarray(batch.numpy(), dtype=np.float32)
        session = self.lean_session if lean else self.session
        return session.run(None, {"pixels": x})[0].astype(np.float32)
