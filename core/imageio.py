"""Safe photo decoding: every bad input becomes a reason code, never an exception."""
from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

log = logging.getLogger(__name__)

BAD_INPUT_MESSAGES: dict[str, str] = {
    "unreadable_image": "I couldn't read that file as a picture. Please send a JPEG or PNG photo.",
    "empty_file": "That file is empty. Please send a photo.",
    "image_too_large": "That image is too large for me. Please send a smaller photo (under 20 MB).",
    "image_too_big": "That image has too many pixels for me to open safely. Please send a "
                     "normal-sized photo.",
    "image_too_small": "That image is too small to see any clothes. Please send a bigger photo.",
}


class BadImage(Exception):
    """A photo we refuse, with its reason code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.message = BAD_INPUT_MESSAGES.get(reason, BAD_INPUT_MESSAGES["unreadable_image"])


@dataclass
class Photo:
    """A decoded photo: RGB pixels, upright, plus the scale from work pixels to input pixels."""

    rgb: np.ndarray  # H x W x 3 uint8, possibly downscaled
    width: int  # of the upright input photo
    height: int
    scale: float  # input pixels per work pixel (>= 1)


def decode(data: bytes, max_bytes: int = 20_000_000, max_pixels: int = 40_000_000,
           work_side: int = 1024, min_side: int = 32) -> Photo:
    """Decode bytes into an upright RGB photo, or raise BadImage with a reason code.

    Handles EXIF rotation, alpha (composited on white), grayscale, palette and CMYK images,
    truncated files, and decompression bombs (checked from the header before decoding).
    """
    if not data:
        raise BadImage("empty_file")
    if len(data) > max_bytes:
        raise BadImage("image_too_large", f"{len(data)} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            w, h = image.size
            if w * h > max_pixels:
                raise BadImage("image_too_big", f"{w}x{h}")
            image.draft("RGB", (work_side * 2, work_side * 2))  # cheap JPEG downscale
            image.load()
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage("image_too_big", str(exc)) from None
    except Exception as exc:  # PIL raises many types for broken files
        raise BadImage("unreadable_image", f"{type(exc).__name__}: {exc}") from None
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block should not cost the photo
        log.debug("ignoring unreadable EXIF orientation")
    image = to_rgb(image)
    # The draft above may have shrunk the pixels: scale is measured against the header size,
    # rotated the same way as the pixels.
    up_w, up_h = (h, w) if _swaps_axes(image, w, h) else (w, h)
    if min(up_w, up_h) < min_side:
        raise BadImage("image_too_small", f"{up_w}x{up_h}")
    longer = max(image.size)
    if longer > work_side:
        ratio = work_side / longer
        image = image.resize((max(1, round(image.width * ratio)),
                              max(1, round(image.height * ratio))), Image.BILINEAR)
    scale = up_w / image.width
    return Photo(rgb=np.asarray(image, dtype=np.uint8), width=up_w, height=up_h, scale=scale)


def _swaps_axes(image: Image.Image, w: int, h: int) -> bool:
    # After exif_transpose the aspect ratio tells whether width and height were swapped.
    if w == h:
        return False
    return (image.width > image.height) != (w > h)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode to RGB; transparency is composited on white like a catalog shot."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        top = arr.max() or 1.0
        image = Image.fromarray((arr / top * 255).astype(np.uint8))
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def load_rgb(path: str, **kwargs) -> Photo:
    with open(path, "rb") as fh:
        return decode(fh.read(), **kwargs)
