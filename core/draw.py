"""Detections drawn on the photo, one colour per class."""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Optional

from PIL import Image, ImageDraw, ImageOps

from .records import Detection

log = logging.getLogger(__name__)

COLOURS = {"topwear": (230, 57, 70), "bottomwear": (29, 53, 87), "footwear": (42, 157, 143),
           "eyewear": (244, 162, 97), "handbag": (155, 93, 229)}


def render(data: bytes, detections: list[Detection], max_side: int = 1280) -> Optional[Image.Image]:
    """The photo, upright, with labelled boxes; None when the bytes are not an image."""
    try:
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    except Exception as exc:
        log.warning("cannot draw on this image: %s", exc)
        return None
    scale = min(1.0, max_side / max(image.size))
    if scale < 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 300))
    for d in detections:
        colour = COLOURS.get(d.category, (255, 255, 0))
        box = [v * scale for v in d.box]
        draw.rectangle(box, outline=colour, width=width)
        label = f"{d.category} {d.score:.2f} {d.source}"
        tw = draw.textlength(label)
        draw.rectangle([box[0], max(0, box[1] - 12), box[0] + tw + 4, max(12, box[1])],
                       fill=colour)
        draw.text((box[0] + 2, max(0, box[1] - 12)), label, fill=(255, 255, 255))
    return image


def draw_detections(data: bytes, detections: list[Detection], out: Path) -> bool:
    image = render(data, detections)
    if image is None:
        return False
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    image.save(out, quality=90)
    return True


def to_jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=88)
    return buf.getvalue()
