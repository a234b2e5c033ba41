"""Phone originals over the pixel limit are decoded at a smaller scale (JPEG draft), bombs are
still refused, and a picture that can't be read is told apart by its bytes: damaged, HEIC, or
not a picture at all. Real bytes throughout: a fixture photo upscaled in memory."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from core.config import Config
from core.imageio import BAD_INPUT_MESSAGES, JPEG_SHRINK_LIMIT, BadImage, decode, sniff, \
    too_large_message
from tests.helpers import FIXTURES

PHOTO = (FIXTURES / "people" / "full_ccp_0032.jpg").read_bytes()  # 550 x 871


def jpeg(size: tuple[int, int], quality: int = 85, **kw) -> bytes:
    """The fixture photo upscaled to `size`, as a phone would save it (a real, full JPEG)."""
    big = Image.open(io.BytesIO(PHOTO)).convert("RGB").resize(size, Image.BILINEAR)
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def phone_48mp() -> bytes:
    return jpeg((6000, 8000))  # a 48 MP phone original, portrait


def test_48mp_phone_jpeg_is_decoded_at_half_scale_not_refused(phone_48mp):
    photo = decode(phone_48mp)  # the defaults: 40 MP limit, 1024 px work side
    assert (photo.width, photo.height) == (6000, 8000)  # the input's size, for boxes
    assert photo.rgb.shape == (1024, 768, 3)
    assert photo.scale == pytest.approx(6000 / 768)
    # the same pixels as decoding the whole 48 MP and shrinking it, give or take the
    # decoder's 1/2-scale IDCT
    with Image.open(io.BytesIO(phone_48mp)) as full:
        full.load()
        reference = np.asarray(full.resize((768, 1024), Image.BILINEAR), dtype=np.int16)
    assert np.abs(photo.rgb.astype(np.int16) - reference).mean() < 3


def test_108mp_phone_jpeg_with_exif_rotation_is_accepted():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored lying down, "rotate 90 CW to display"
    data = jpeg((12000, 9000), quality=80, exif=exif.tobytes())
    assert len(data) < Config().max_image_bytes
    photo = decode(data)
    assert (photo.width, photo.height) == (9000, 12000)
    assert photo.rgb.shape == (1024, 768, 3)


def test_draft_goes_further_when_the_usual_scale_is_still_over_the_limit(phone_48mp):
    # a work side of 4096 would keep the full 48 MP: 1/2 scale (12 MP) is what fits 40 MP
    photo = decode(phone_48mp, work_side=4096)
    assert photo.rgb.shape == (4000, 3000, 3) and photo.scale == 2
    # the ceiling follows the setting: 48 MP is more than 3 x 15 MP
    assert decode(phone_48mp, max_pixels=16_000_000, work_side=4096).scale == 2
    with pytest.raises(BadImage, match="image_too_big"):
        decode(phone_48mp, max_pixels=15_000_000, work_side=4096)


def test_normal_photos_decode_exactly_as_before():
    """Under the limit nothing changes: the draft is the one the decoder always had (to twice
    the work side), so the pixels are those of the plain decode-and-shrink."""
    for size in [(550, 871), (3000, 4000), (4000, 3000), (4096, 8192)]:
        data = PHOTO if size == (550, 871) else jpeg(size)
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (2048, 2048))
            image = ImageOps.exif_transpose(image).convert("RGB")
            if max(image.size) > 1024:
                ratio = 1024 / max(image.size)
                image = image.resize((round(image.width * ratio), round(image.height * ratio)),
                                     Image.BILINEAR)
            expected = np.asarray(image)
        assert np.array_equal(decode(data).rgb, expected), size


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header claims other dimensions (a JPEG bomb's shape)."""
    data = bytearray(jpeg((64, 64)))
    sof = next(i for i in range(2, len(data)) if data[i] == 0xFF and data[i + 1] == 0xC0)
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("data", [
    png_claiming(6000, 8000),  # 48 MP: no draft for PNG, so still refused
    png_claiming(60000, 60000),
    jpeg_claiming(12000, 12000),  # 144 MP: over 3 x 40 MP even for a JPEG
    jpeg_claiming(65000, 65000),  # absurd
])
def test_bombs_and_absurd_sizes_are_still_refused(data):
    with pytest.raises(BadImage) as err:
        decode(data)
    assert err.value.reason == "image_too_big"
    assert err.value.message == BAD_INPUT_MESSAGES["image_too_big"]
    assert "too many pixels" in err.value.message


def test_the_settings_description_says_the_jpeg_ceiling():
    assert JPEG_SHRINK_LIMIT * 40_000_000 >= 108_000_000  # a 108 MP phone original fits
    described = Config.model_fields["max_image_pixels"].description
    assert f"up to {JPEG_SHRINK_LIMIT} times larger" in described


def heic_bytes() -> bytes:
    """The start of an iPhone .HEIC: an ISO media ftyp box with the heic brand."""
    ftyp = b"ftypheic" + b"\0\0\0\0" + b"mif1heicmiaf"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + b"\0\0\0\x22meta" + b"\0" * 200


@pytest.mark.parametrize("data, reason", [
    (PHOTO[: len(PHOTO) // 2], "damaged_image"),  # a truncated JPEG
    (PHOTO[:200], "damaged_image"),  # cut inside its header: the magic number says JPEG
    (png_claiming(64, 64)[:40], "damaged_image"),
    (b"GIF89a garbage", "damaged_image"),
    (heic_bytes(), "heic_image"),
    (b"\xff\x0a\xfa\x7f" + b"\0" * 100, "unsupported_format"),  # JPEG XL
    (b"%PDF-1.4 not a photo", "unreadable_image"),
    (b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom" + b"\0" * 64, "unreadable_image"),  # a video
])
def test_what_cannot_be_read_is_told_by_its_bytes(data, reason):
    with pytest.raises(BadImage) as err:
        decode(data)
    assert err.value.reason == reason
    assert err.value.message == BAD_INPUT_MESSAGES[reason]


def test_the_messages_say_what_to_do():
    damaged = BAD_INPUT_MESSAGES["damaged_image"]
    assert "damaged or incomplete" in damaged and "again" in damaged and "JPEG" not in damaged
    heic = BAD_INPUT_MESSAGES["heic_image"]
    assert "HEIC" in heic and "as a photo" in heic and "JPEG or PNG" in heic


def test_sniff_names_formats_by_their_magic_numbers():
    assert sniff(PHOTO) == "jpeg" and sniff(png_claiming(1, 1)) == "png"
    assert sniff(heic_bytes()) == "heif"
    avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf" + b"\0" * 32
    assert sniff(avif) == "avif"
    assert sniff(b"hello") == "" and sniff(b"BM not really a bitmap header") == ""


@pytest.mark.parametrize("limit, said", [(20_000_000, "under 20 MB"), (5_500_000, "under 5.5 MB"),
                                         (20_971_520, "under 20.9 MB"), (300_000, "under 300 KB")])
def test_too_large_names_the_configured_limit(limit, said):
    with pytest.raises(BadImage) as err:
        decode(b"\xff" * (limit + 1), max_bytes=limit)
    assert err.value.reason == "image_too_large"
    assert said in err.value.message and err.value.message == too_large_message(limit)


def test_an_avif_this_pillow_cannot_read_is_an_unsupported_format(monkeypatch):
    from core import imageio
    avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf" + b"\0" * 64
    with pytest.raises(BadImage, match="damaged_image"):  # Pillow reads AVIF: so it's broken
        decode(avif)
    monkeypatch.setattr(imageio.features, "check", lambda name: False)  # built without AVIF
    with pytest.raises(BadImage, match="unsupported_format"):
        decode(avif)
