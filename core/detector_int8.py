"""Static int8 (QDQ) of a detector's ONNX export, for OpenVINO: the convolutions in int8, each
with its SiLU and the next quantization fused in; about 0.8x the bfloat16 model's time.

Only the convolutions are quantized, and only at their inputs: quantizing their outputs too (or
the SiLU, concatenations and additions) put a float conversion between every convolution and its
activation, and the model ran slower than in bfloat16 (docs/MEASUREMENTS.md). The first
convolution and the head's last ones stay float. Calibration: 32 committed CCP training photos
(data/models/detector_calibration/, written by training/int8_calibration.py), letterboxed as
`look` letterboxes a photo. The file is made once into the cache folder under a hash of the
export, the photos and the recipe.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from .onnx_cache import drop_stale
from .qdq import quantize_qdq, recipe_digest

log = logging.getLogger(__name__)

CALIBRATION_DIR = Path(__file__).resolve().parent.parent / "data" / "models" / "detector_calibration"
INT8_FORMAT = "qdq-minmax-perchannel-u8s8-conv-inputs/2"  # bump when the recipe changes
OP_TYPES = ["Conv"]
# float: the first convolution (the photo's pixels), the head's last ones (the class and box logits)
# and its DFL (a fixed convolution that decodes box sides): scores moved by 0.010 against 0.014
FLOAT_NODES = re.compile(r"^/model\.0/conv/Conv$|/cv[23]\.\d+\.2/Conv$|/dfl/")


def calibration_photos(calibration_dir: Path = CALIBRATION_DIR) -> list[Path]:
    files = sorted(Path(calibration_dir).glob("*.jpg"))
    if not files:
        raise FileNotFoundError(f"no detector calibration photos in {calibration_dir}")
    return files


def letterboxed(calibration_dir: Path, imgsz: int, input_name: str
                ) -> Iterator[dict[str, np.ndarray]]:
    """Each photo as the detector sees it in `look` (core.yolo_onnx), one at a time."""
    from PIL import Image
    from ultralytics.data.augment import LetterBox

    for f in calibration_photos(calibration_dir):
        with Image.open(f) as im:
            rgb = np.asarray(im.convert("RGB"))
        padded = LetterBox((imgsz, imgsz), auto=True, stride=32)(image=rgb)
        yield {input_name: np.ascontiguousarray(padded.transpose(2, 0, 1)[None],
                                                dtype=np.float32) / 255.0}


def quantize_detector(fp32_onnx: Path, imgsz: int, calibration_dir: Path = CALIBRATION_DIR
                      ) -> Path:
    """`<cache>/<export stem>-int8-<digest>.onnx` beside the export, quantized unless already
    there; a new quantization removes the int8 files of earlier exports or calibration sets."""
    fp32_onnx = Path(fp32_onnx)
    prefix = fp32_onnx.stem.rsplit("-", 1)[0]  # detector or detector-576
    recipe = f"{INT8_FORMAT}@{imgsz}"
    digest = recipe_digest(fp32_onnx, calibration_photos(calibration_dir), recipe)
    target = fp32_onnx.parent / f"{prefix}-int8-{digest}.onnx"
    if target.is_file():
        return target
    import onnx  # only to quantize: loaded, it costs the engine memory

    log.info("quantizing %s to int8 (once, into %s)", fp32_onnx.name, target.parent)
    graph = onnx.load(str(fp32_onnx)).graph
    keep_float = [n.name for n in graph.node if FLOAT_NODES.search(n.name)]
    quantize_qdq(fp32_onnx, target, letterboxed(calibration_dir, imgsz, graph.input[0].name),
                 OP_TYPES, exclude_nodes=keep_float, quantize_outputs_of=[],
                 symbolic_shapes=False)
    drop_stale(target, f"{prefix}-int8")
    return target
