"""Static int8 quantization (QDQ) of an ONNX file with ONNX Runtime's quantizer, shared by the
embedding backbone (core/embed_int8.py) and the detectors (core/detector_int8.py).

Weights are int8 per output channel, activations uint8 with MinMax ranges from real calibration
inputs. The result is written atomically: a half-written model is never picked up.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

log = logging.getLogger(__name__)


def recipe_digest(fp32_onnx: Path, files: Sequence[Path], recipe: str) -> str:
    """12 hex digits naming the fp32 export, the calibration files and the recipe."""
    h = hashlib.sha256(Path(fp32_onnx).name.encode())  # the fp32 name carries its weights' hash
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    h.update(recipe.encode())
    return h.hexdigest()[:12]


def quantize_qdq(fp32_onnx: Path, target: Path, feeds: Iterable[dict[str, np.ndarray]],
                 op_types: Sequence[str], exclude_nodes: Sequence[str] = (),
                 quantize_outputs_of: Optional[Sequence[str]] = None,
                 symbolic_shapes: bool = True) -> Path:
    """Quantize `fp32_onnx` into `target`, calibrated on `feeds` (one input dict per run).

    `quantize_outputs_of`: None quantizes every quantized op's output; a list keeps the outputs of
    the other op types in float, so OpenVINO fuses a convolution with its activation and the next
    quantization (a detector's SiLU). `symbolic_shapes` False skips the symbolic shape inference
    that an exported YOLO graph does not complete."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

        def get_next(self):
            return next(self.feeds, None)

    extra = {}
    if quantize_outputs_of is not None:
        extra["OpTypesToExcludeOutputQuantization"] = [
            t for t in op_types if t not in set(quantize_outputs_of)]
    target = Path(target)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        pre, out = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        # shape inference and constant folding
        quant_pre_process(str(fp32_onnx), str(pre), skip_symbolic_shape=not symbolic_shapes)
        quiet = logging.getLogger().level
        logging.getLogger().setLevel(max(quiet, logging.ERROR))  # thousands of per-channel notes
        try:
            quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=True, reduce_range=False, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                            op_types_to_quantize=list(op_types),
                            nodes_to_exclude=list(exclude_nodes), extra_options=extra)
        finally:
            logging.getLogger().setLevel(quiet)
        os.replace(out, target)
    return target
