"""Static int8 (QDQ) of the exported embedding backbone: about half the fp32 time on a VNNI CPU.

The fp32 export (core/embed_onnx.py) is quantized once, per channel for weights and with MinMax
ranges for activations taken from committed real crops (data/models/int8_calibration/), into the
same cache folder under a hash of the fp32 export, the calibration crops and the recipe, so it is
offline and deterministic and a new backbone or calibration set is quantized afresh. Clip (ReLU6)
must be among the quantized op types: the quantizer then folds it into its convolution's output
range; without it every pre-activation was quantized over its raw range and the pooled features
drifted to cosine 0.90 from fp32 (0.995 with it; docs/MEASUREMENTS.md).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .onnx_cache import drop_stale
from .qdq import quantize_qdq, recipe_digest

log = logging.getLogger(__name__)

CALIBRATION_DIR = Path(__file__).resolve().parent.parent / "data" / "models" / "int8_calibration"
INT8_FORMAT = "qdq-minmax-perchannel-u8s8/1"  # bump when the recipe changes
OP_TYPES = ["Conv", "Clip", "Add"]  # the pooling (ReduceMean) and input scaling stay fp32
BATCH = 8  # calibration batch


def calibration_files(calibration_dir: Path = CALIBRATION_DIR) -> list[Path]:
    files = sorted(Path(calibration_dir).glob("*.jpg"))
    if not files:
        raise FileNotFoundError(f"no int8 calibration crops in {calibration_dir}")
    return files


def int8_digest(fp32_onnx: Path, calibration_dir: Path = CALIBRATION_DIR) -> str:
    """12 hex digits naming the fp32 export, the calibration crops and the recipe."""
    return recipe_digest(fp32_onnx, calibration_files(calibration_dir), INT8_FORMAT)


def calibration_batches(calibration_dir: Path, size: int) -> list[np.ndarray]:
    """The crops as batches of (BATCH, 3, size, size) 0..1 pixels, in file order."""
    from PIL import Image

    arrays = []
    for f in calibration_files(calibration_dir):
        with Image.open(f) as im:
            arrays.append(np.asarray(im.convert("RGB").resize((size, size)), dtype=np.float32) / 255.0)
    x = np.stack(arrays).transpose(0, 3, 1, 2)
    return [np.ascontiguousarray(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]


def quantize_backbone(fp32_onnx: Path, size: int = 224,
                      calibration_dir: Path = CALIBRATION_DIR) -> Path:
    """`<cache>/<fp32 stem>-int8-<digest>.onnx` next to the fp32 export, quantized unless already
    there; a new quantization removes the int8 files of other fp32 exports or calibration sets."""
    fp32_onnx = Path(fp32_onnx)
    prefix = fp32_onnx.stem.rsplit("-", 1)[0]  # backbone-<name>
    target = fp32_onnx.parent / f"{prefix}-int8-{int8_digest(fp32_onnx, calibration_dir)}.onnx"
    if target.is_file():
        return target
    log.info("quantizing the embedding backbone to int8 (once, into %s)", target.parent)
    feeds = ({"pixels": batch} for batch in calibration_batches(calibration_dir, size))
    quantize_qdq(fp32_onnx, target, feeds, OP_TYPES)
    drop_stale(target, f"{prefix}-int8")
    return target
