"""The `look`, `detect` and `similar` contract, through the real CLI and the Python API."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter

import pytest
from PIL import Image

from core.records import CATEGORIES, SearchOptions
from tests.helpers import FIXTURES, REPO

PEOPLE = FIXTURES / "people"


def run_cli(*args: str) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "lookbot.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    photo = (PEOPLE / "full_ccp_0032.jpg").read_bytes()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(photo[:4000])
    (folder / "text.jpg").write_bytes(b"hello, this is not an image")
    return folder


@pytest.mark.slow
def test_look_json_contract_and_batch_goes_on_after_bad_input(bad_files):
    photos = [str(PEOPLE / "full_ccp_0032.jpg"), str(bad_files / "empty.jpg"),
              str(bad_files / "truncated.jpg"), str(bad_files / "missing.jpg"),
              str(PEOPLE / "half_upper_body.jpg"), str(bad_files / "text.jpg"),
              str(PEOPLE / "full_tests_0000003.jpg")]
    lines = run_cli("look", *photos, "--json", "--k", "3", "--gender", "women")
    assert [line["photo"] for line in lines] == photos  # one line per photo, nothing lost
    by_name = {line["photo"].rsplit("/", 1)[-1]: line for line in lines}
    assert by_name["empty.jpg"]["reason"] == "empty_file"
    assert by_name["truncated.jpg"]["reason"] == "damaged_image"
    assert by_name["missing.jpg"]["reason"] == "unreadable_file"
    assert by_name["missing.jpg"]["message"] == "There is no such file."
    assert by_name["empty.jpg"]["people"] == 0  # not looked at: no one seen
    assert by_name["text.jpg"]["reason"] == "unreadable_image"
    assert by_name["half_upper_body.jpg"]["reason"] == "feet_out_of_frame"
    for line in lines:
        assert set(line) == {"photo", "full_shot", "reason", "message", "people", "gender",
                             "articles"}
        assert isinstance(line["message"], str) and line["message"]
        assert line["full_shot"] == (line["reason"] == "ok")
    full = by_name["full_ccp_0032.jpg"]
    assert full["full_shot"] and full["reason"] == "ok"
    assert full["gender"]["shown"] == "women" and full["gender"]["source"] == "you"  # chosen
    cats = {a["category"] for a in full["articles"]}
    assert {"topwear", "bottomwear", "footwear"} <= cats | {"dress"}
    with Image.open(PEOPLE / "full_ccp_0032.jpg") as im:
        width, height = im.size
    for article in full["articles"]:
        assert set(article) - {"predicted"} == {"category", "box", "score", "source", "products"}
        assert article["category"] in CATEGORIES and article["source"] in ("pose", "yolo")
        x1, y1, x2, y2 = article["box"]
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert len(article["products"]) == 3
        for p in article["products"]:
            assert set(p) == {"id", "title", "brand", "price", "url", "image", "article_type",
                              "gender", "colour", "distance"}
            assert p["gender"] in ("Women", "Unisex")  # --gender women: what was searched
            assert p["url"].startswith("https://www.myntra.com/")
            assert p["distance"] >= 0
    assert all(line["articles"] == [] for line in lines if not line["full_shot"])


@pytest.mark.slow
def test_detect_json_is_raw_and_in_input_pixels():
    lines = run_cli("detect", str(FIXTURES / "ccp" / "0007.jpg"), "--json")
    assert len(lines) == 1 and set(lines[0]) == {"photo", "detections"}
    dets = lines[0]["detections"]
    assert dets and all(d["score"] >= 0.01 for d in dets)
    assert all(0 <= d["box"][0] < d["box"][2] <= 550 for d in dets)


def catalog_rows() -> list[dict]:
    with open(FIXTURES / "catalog" / "products.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_similar_finds_the_same_kind_of_product(engine):
    rows = catalog_rows()
    agree = Counter()
    for row in rows:
        data = (FIXTURES / "catalog" / f"{row['id']}.jpg").read_bytes()
        result = engine.similar(data, row["category"], photo=row["id"],
                                options=SearchOptions(k=5))
        assert result.reason == "ok" and len(result.products) == 5
        assert all(p.category == row["category"] for p in result.products)
        # the product itself is in the demo catalog (re-encoded without metadata): it comes first
        assert result.products[0].id == f"demo:{row['id']}"
        assert result.products[0].distance < 0.7 * result.products[1].distance
        agree[row["category"]] += sum(p.article_type == row["article_type"]
                                      for p in result.products[1:])
    assert sum(agree.values()) >= 0.5 * 4 * len(rows)


@pytest.mark.slow
def test_look_honours_gender_and_paging(engine):
    data = (PEOPLE / "full_ccp_0032.jpg").read_bytes()
    first = engine.look(data, options=SearchOptions(gender="men", k=4))
    assert first.full_shot
    for article in first.articles:
        assert all(p.gender in ("Men", "Unisex") for p in article.products)
        page2 = engine.search(article.vector, article.detection.category,
                              SearchOptions(gender="men", k=4, offset=4))
        assert not {p.id for p in page2} & {p.id for p in article.products}


def test_k_comes_from_lookbot_k_unless_given(monkeypatch):
    from lookbot.engine_commands import _options

    monkeypatch.setenv("LOOKBOT_K", "2")
    assert _options("auto", None, None).k == 2 and _options("auto", 7, None).k == 7


def test_a_path_that_is_no_file_is_named_for_what_it_is(engine, tmp_path):
    from core.files import detect_files, look_files

    (path, missing), (_, folder) = look_files(engine, [str(tmp_path / "nope.jpg"), str(tmp_path)])
    assert (missing.verdict.reason, missing.verdict.message) == ("unreadable_file",
                                                                 "There is no such file.")
    assert folder.verdict.message == "That is a folder, not a photo." and path.endswith("nope.jpg")
    ((_, detected),) = detect_files(engine, [str(tmp_path)])
    assert detected.reason == "unreadable_file" and not detected.detections


def test_a_thumbnail_is_asked_for_again_bigger(engine):
    from tests.helpers import small_jpeg

    # the same full shot: refused as a 200 px thumbnail, looked at from 320 px
    tiny = engine.look(small_jpeg(PEOPLE / "full_ccp_0032.jpg", 200), "tiny.jpg")
    assert tiny.verdict.reason == "image_too_small" and "bigger photo" in tiny.verdict.message
    assert not tiny.articles
    assert engine.look(small_jpeg(PEOPLE / "full_ccp_0032.jpg", 320)).verdict.reason == "ok"


def test_unknown_gender_is_refused_clearly():
    from core.index import normalise_gender

    assert normalise_gender("Women") == "women" and normalise_gender(None) == "any"
    # the words the bot's /gender takes (one table, core.index.GENDER_ALIASES)
    assert normalise_gender("everyone") == "any" and normalise_gender(" ") == "any"
    with pytest.raises(ValueError):
        normalise_gender("robots")


def test_looks_in_flight_pick_the_lean_embedder_and_are_released(engine, monkeypatch):
    """A look alone embeds on every thread; one among others on one thread; bad input and
    refused photos leave the count as it was."""
    assert engine.looks.count == 0
    assert not engine.look(b"not an image").full_shot
    assert not engine.look((PEOPLE / "half_upper_body.jpg").read_bytes()).full_shot
    assert engine.looks.count == 0
    seen = []
    features = engine.embedder.backbone_features
    monkeypatch.setattr(engine.embedder, "backbone_features",
                        lambda crops, lean=False: seen.append(lean) or features(crops, lean=lean))
    data = (PEOPLE / "full_ccp_0032.jpg").read_bytes()
    alone = engine.look(data)
    with engine.looks:  # another look in progress
        among_others = engine.look(data)
    assert seen == [False, True] and engine.looks.count == 0
    assert [a.detection.category for a in alone.articles] == \
        [a.detection.category for a in among_others.articles]
    assert [p.id for p in alone.articles[0].products] == \
        [p.id for p in among_others.articles[0].products]
