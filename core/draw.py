"""Detections drawn on the photo, one colour per class."""
from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

from PIL import Image, ImageDraw, ImageFont, ImageOps

from .records import Detection

log = logging.getLogger(__name__)

COLOURS = {"topwear": (230, 57, 70), "bottomwear": (29, 53, 87), "footwear": (42, 157, 143),
           "eyewear": (244, 162, 97), "handbag": (155, 93, 229)}
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")


@lru_cache(maxsize=16)
def font(size: int, bold: bool = False) -> ImageFont.ImageFont:
    """DejaVu Sans at `size` px (PIL's own font when DejaVu is not installed)."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        path = Path(folder) / name
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def debug_label(d: Detection) -> str:
    """Category, score and source: for people tuning the detector, not for users."""
    return f"{d.category} {d.score:.2f} {d.source}"


def render(data: bytes, detections: list[Detection], max_side: int = 1280,
           label: Callable[[Detection], str] = debug_label) -> Optional[Image.Image]:
    """The photo, upright, with boxes named by `label`; None when the bytes are not an image."""
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
    text = font(max(12, round(max(image.size) / 45)), bold=True)
    for d in detections:
        colour = COLOURS.get(d.category, (255, 255, 0))
        box = [v * scale for v in d.box]
        draw.rectangle(box, outline=colour, width=width)
        name = label(d)
        left, top, right, bottom = draw.textbbox((0, 0), name, font=text)
        h = bottom - top + 6
        y = box[1] - h if box[1] >= h else box[1]  # above the box, or inside it at the top edge
        draw.rectangle([box[0], y, box[0] + right - left + 8, y + h], fill=colour)
        draw.text((box[0] + 4, y + 3 - top), name, font=text, fill=(255, 255, 255))
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
