"""Safe photo decoding: every bad input becomes a reason code, never an exception."""
from __future__ import annotations

import io
import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, features
from PIL.JpegImagePlugin import JpegImageFile

log = logging.getLogger(__name__)

BAD_INPUT_MESSAGES: dict[str, str] = {
    "unreadable_image": "That file isn't a picture I can read. Please send a photo, or a JPEG or "
                        "PNG file.",
    "damaged_image": "That picture seems damaged or incomplete, so I couldn't open it. Please try "
                     "sending it again.",
    "heic_image": "I can't open HEIC/HEIF pictures (the iPhone's format) here. Please send it as a "
                  "photo instead of a file (Telegram turns it into a JPEG), or as a JPEG or PNG "
                  "file.",
    "unsupported_format": "I can't open pictures in that format here. Please send it as a photo "
                          "instead of a file, or as a JPEG or PNG file.",
    "empty_file": "That file is empty. Please send a photo.",
    "image_too_large": "That image is too large for me. Please send a smaller photo.",
    "image_too_big": "That image has too many pixels for me to open safely. Please send a smaller "
                     "one, or send it as a photo instead of a file.",
    "image_too_small": "That image is too small to see any clothes. Please send a bigger photo.",
}
# A JPEG may claim up to this many times max_pixels: it is decoded at 1/2, 1/4 or 1/8 scale by
# the decoder, so its pixels stay within max_pixels (48-108 MP phone originals). Progressive
# JPEGs hold every coefficient while decoding (about 3 bytes a pixel), hence a ceiling.
JPEG_SHRINK_LIMIT = 3
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1",
               b"msf1"}


class BadImage(Exception):
    """A photo we refuse, with its reason code."""

    def __init__(self, reason: str, detail: str = "", message: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.message = message or BAD_INPUT_MESSAGES.get(reason,
                                                         BAD_INPUT_MESSAGES["unreadable_image"])


def too_large_message(max_bytes: int) -> str:
    """The image_too_large message with the configured limit, rounded down (20_000_000: 20 MB)."""
    mb = math.floor(max_bytes / 100_000) / 10
    limit = f"{mb:g} MB" if mb >= 1 else f"{max(1, max_bytes // 1000)} KB"
    return f"That image is too large for me. Please send a smaller photo (under {limit})."


def sniff(data: bytes) -> str:
    """The picture format the bytes begin with, by its magic number ("jpeg", "png", "gif",
    "webp", "bmp", "tiff", "avif", "heif", "jxl"), or "" when they begin like no picture."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and head[14:18] in {bytes([n, 0, 0, 0]) for n in (12, 40, 56, 108, 124)}:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":  # ISO media: the major brand, then the compatible ones
        end = min(int.from_bytes(head[:4], "big"), len(head))
        brands = {head[8:12]} | {head[i:i + 4] for i in range(16, end - 3, 4)}
        if brands & {b"avif", b"avis"}:
            return "avif"
        return "heif" if brands & HEIF_BRANDS else ""  # else a video (mp4, mov)
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        return "jxl"
    return ""


def unreadable(data: bytes, exc: Exception, opened: bool) -> BadImage:
    """Why Pillow could not read these bytes, judged by the bytes: a format it can't read here,
    a damaged or incomplete picture, or not a picture at all."""
    kind, detail = sniff(data), f"{type(exc).__name__}: {exc}"
    if kind == "heif":
        return BadImage("heic_image", detail)
    if kind == "jxl" or (kind in ("avif", "webp") and not opened and not features.check(kind)):
        return BadImage("unsupported_format", detail)  # this Pillow was built without it
    if opened or kind:  # Pillow knew the format from its header, or the magic number says so
        return BadImage("damaged_image", detail)
    return BadImage("unreadable_image", detail)


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
    truncated files, and decompression bombs (checked from the header before decoding). A JPEG
    over max_pixels is decoded at a smaller scale (see `draft`) rather than refused.
    """
    if not data:
        raise BadImage("empty_file")
    if len(data) > max_bytes:
        raise BadImage("image_too_large", f"{len(data)} bytes", too_large_message(max_bytes))
    try:
        with warnings.catch_warnings():
            # Our limits, below, replace Pillow's warning (a 108 MP phone JPEG would trip it);
            # its DecompressionBombError (over about 179 MP) still stands.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise BadImage("image_too_big", str(exc)) from None
    except Exception as exc:  # PIL raises many types for broken files
        raise unreadable(data, exc, opened=False) from None
    w, h = image.size
    draft(image, max_pixels, work_side)
    if image.width * image.height > max_pixels:
        raise BadImage("image_too_big", f"{w}x{h}")
    try:
        image.load()
    except Exception as exc:
        raise unreadable(data, exc, opened=True) from None
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


def draft(image: Image.Image, max_pixels: int, work_side: int) -> None:
    """Let the JPEG decoder shrink the picture by 1/2, 1/4 or 1/8 as it decodes: as always, to no
    less than twice work_side on the shorter side (so normal photos decode exactly as before),
    and further when that would still be over max_pixels. Other formats are left as they are."""
    if not isinstance(image, JpegImageFile):  # MPO, the phones' multi-picture JPEG, included
        return
    w, h = image.size
    if w * h > max_pixels * JPEG_SHRINK_LIMIT:
        return  # refused by the caller
    usual = next((s for s in (8, 4, 2, 1) if min(w, h) // (2 * work_side) >= s), 1)  # Pillow's rule
    fits = next((s for s in (1, 2, 4, 8) if -(-w // s) * -(-h // s) <= max_pixels), 8)
    if fits <= usual:
        image.draft("RGB", (work_side * 2, work_side * 2))
    else:
        image.draft("RGB", (w // fits, h // fits))


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
