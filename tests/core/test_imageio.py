"""Every kind of bad input becomes a reason code and a message, never an exception."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.imageio import BadImage, decode
from tests.helpers import FIXTURES

PHOTO = (FIXTURES / "people" / "full_ccp_0032.jpg").read_bytes()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions: the shape of a decompression bomb."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("data,reason", [
    (b"", "empty_file"),
    (b"this is not a picture at all", "unreadable_image"),
    (PHOTO[: len(PHOTO) // 3], "damaged_image"),
    (png_header_only(60000, 60000), "image_too_big"),
    (b"\xff" * 25_000_001, "image_too_large"),
    (encode(Image.new("RGB", (10, 10)), "PNG"), "image_too_small"),
])
def test_bad_inputs_get_reason_codes(data, reason):
    with pytest.raises(BadImage) as err:
        decode(data)
    assert err.value.reason == reason
    assert err.value.message


def test_real_photo_decodes_with_its_true_size():
    photo = decode(PHOTO)
    with Image.open(io.BytesIO(PHOTO)) as im:
        assert (photo.width, photo.height) == im.size
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape[2] == 3


def test_huge_photo_is_downscaled_for_work_but_keeps_input_size():
    big = Image.open(io.BytesIO(PHOTO)).resize((2200, 3330))
    photo = decode(encode(big, "JPEG"), work_side=1024)
    assert (photo.width, photo.height) == (2200, 3330)
    assert max(photo.rgb.shape[:2]) <= 1024
    assert photo.scale == pytest.approx(2200 / photo.rgb.shape[1])


def test_png_alpha_is_composited_on_white():
    rgba = Image.new("RGBA", (64, 64), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (16, 16, 48, 48))
    photo = decode(encode(rgba, "PNG"))
    assert tuple(photo.rgb[2, 2]) == (255, 255, 255)
    assert tuple(photo.rgb[32, 32]) == (0, 0, 255)


def test_grayscale_and_palette_become_rgb():
    gray = Image.open(io.BytesIO(PHOTO)).convert("L")
    assert decode(encode(gray, "JPEG")).rgb.shape[2] == 3
    pal = Image.open(io.BytesIO(PHOTO)).convert("P")
    assert decode(encode(pal, "PNG")).rgb.shape[2] == 3


def test_exif_rotation_is_applied():
    image = Image.open(io.BytesIO(PHOTO))  # 550 wide, 871 high
    sideways = image.transpose(Image.Transpose.ROTATE_90)  # stored lying down
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    photo = decode(encode(sideways, "JPEG", exif=exif.tobytes()))
    assert (photo.width, photo.height) == image.size
    assert photo.rgb.shape[0] > photo.rgb.shape[1]
