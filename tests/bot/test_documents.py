"""Pictures sent as files (documents), through the fake Bot API: the bytes, not the declared type,
decide whether a file is a picture, and each kind of unreadable one gets its own plain answer.
The engine is a stand-in that decodes as the real one does (core/imageio.py) and says what it
saw, so no models are needed."""
from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from bot import cards
from bot.photos import may_be_picture
from core.config import Config
from core.imageio import BAD_INPUT_MESSAGES, BadImage, decode
from core.records import GateVerdict, LookResult
from tests.helpers import FIXTURES, bot_on_fake_telegram

PHOTO = (FIXTURES / "people" / "full_ccp_0032.jpg").read_bytes()  # 550 x 871


class DecodingEngine:
    """Decodes like Engine.look; answers "decoded WxH" instead of looking for clothes."""

    embedding_version = "stand-in"

    def __init__(self, config: Config):
        self.config = config

    def look(self, data: bytes, photo: str = "photo", options=None) -> LookResult:
        c = self.config
        try:
            image = decode(data, max_bytes=c.max_image_bytes, max_pixels=c.max_image_pixels,
                           work_side=c.work_side)
        except BadImage as exc:
            return LookResult(photo, GateVerdict(False, exc.reason, exc.message))
        return LookResult(photo, GateVerdict(False, "stand_in",
                                             f"decoded {image.width}x{image.height}"))


def phone_original() -> bytes:
    """A 48 MP phone JPEG: the fixture photo upscaled in memory."""
    buf = io.BytesIO()
    Image.open(io.BytesIO(PHOTO)).convert("RGB").resize((6000, 8000)).save(buf, "JPEG",
                                                                          quality=85)
    return buf.getvalue()


def heic() -> bytes:
    ftyp = b"ftypheic\0\0\0\0mif1heicmiaf"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + b"\0" * 256


async def test_documents_are_judged_by_their_bytes(tmp_path):
    config = Config(data_dir=tmp_path, bot_db=str(tmp_path / "bot.db"), crawl_time="off")
    async with bot_on_fake_telegram(config, DecodingEngine(config)) as (fake, app):
        expected = {
            # QA's cases: a 48 MP original as a file, a JPEG with the generic type, an iPhone
            # HEIC, and a truncated JPEG sent as a photo
            fake.send_document(201, phone_original(), "image/jpeg", "IMG_0001.jpg")["chat"]["id"]:
                "decoded 6000x8000",
            fake.send_document(202, PHOTO, "application/octet-stream", "IMG_0002")["chat"]["id"]:
                "decoded 550x871",
            fake.send_document(203, heic(), "image/heic", "IMG_0003.HEIC")["chat"]["id"]:
                BAD_INPUT_MESSAGES["heic_image"],
            fake.send_photo(204, PHOTO[: len(PHOTO) // 2])["chat"]["id"]:
                BAD_INPUT_MESSAGES["damaged_image"],
            # a JPEG named and typed as something else is still a JPEG
            fake.send_document(205, PHOTO, "application/x-whatever", "photo.jpeg")["chat"]["id"]:
                "decoded 550x871",
            # a file of no known type that is no picture: downloaded, then refused by its bytes
            fake.send_document(206, b"PK\x03\x04 a zip", "application/octet-stream", "x.bin"
                               )["chat"]["id"]: BAD_INPUT_MESSAGES["unreadable_image"],
            # one that says it is something else is answered at once, without a download
            (pdf := fake.send_document(207, b"%PDF-1.4 a cv", "application/pdf", "cv.pdf")
             )["chat"]["id"]: cards.OTHER_INPUT["document"],
        }
        await fake.wait_for(lambda: all(fake.sent(chat, "sendMessage") for chat in expected), 60)
        for chat, text in expected.items():
            answers = [c.text for c in fake.sent(chat, "sendMessage")]
            assert len(answers) == 1 and answers[0] == text, (chat, answers)
        fetched = {c.params.get("file_id") for c in fake.sent(None, "getFile")}
        assert fetched and pdf["document"]["file_id"] not in fetched


@pytest.mark.parametrize("mime, name, maybe", [
    ("image/jpeg", "a.jpg", True), ("image/heic", "IMG_1.HEIC", True),
    ("application/octet-stream", "IMG_1", True), (None, None, True), ("", "scan", True),
    ("application/pdf", "photo.JPG", True),  # the picture's extension wins
    ("application/pdf", "cv.pdf", False), ("video/mp4", "clip.mp4", False),
    ("text/plain", "notes.txt", False),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "cv.docx", False),
])
def test_only_files_that_say_they_are_something_else_are_refused_unseen(mime, name, maybe):
    assert may_be_picture(mime, name) is maybe
