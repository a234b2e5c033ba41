"""`lookbot eval` figures on hand-made fixtures with known answers, and a tiny real end-to-end run."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from core.colour import srgb_to_lab
from measure.eval_gate import GATE_CLASSES
from measure.eval_labels import (COLOUR_FAMILIES, COLOUR_RGB, PLAUSIBLE_TYPES, SKIPPED_CCP_LABELS,
                              colour_family, dominant_colour, nearest_colour_names, plausible,
                              same_gender_group)
from measure.eval_metrics import (accuracy, average_precision, class_recall, confusion_matrix,
                               detection_map, exact_knn, iou, precision_at_k)
from measure.contact_sheets import contact_sheet
from measure.eval_retrieval import _category_knn
from measure.eval_street import street_garments
from measure.evaluate import format_eval
from core.records import CATEGORIES
from tests.helpers import REPO, SHARED

CCP = SHARED / "ccp"
CATALOG = SHARED / "catalog"
needs_shared = pytest.mark.skipif(not (CCP / "boxes.csv").exists(), reason="no ../shared/data")


# --------------------------------------------------------------------------- gate figures

def test_confusion_matrix_and_rates():
    truth = ["fullshot"] * 4 + ["not_fullshot"] * 3
    pred = ["fullshot", "fullshot", "fullshot", "not_fullshot",
            "not_fullshot", "not_fullshot", "fullshot"]
    m = confusion_matrix(truth, pred, GATE_CLASSES)
    assert m == {"fullshot": {"fullshot": 3, "not_fullshot": 1},
                 "not_fullshot": {"fullshot": 1, "not_fullshot": 2}}
    assert accuracy(m) == pytest.approx(5 / 7)
    assert class_recall(m, "fullshot") == pytest.approx(0.75)
    assert class_recall(m, "not_fullshot") == pytest.approx(2 / 3)
    assert accuracy(confusion_matrix([], [], GATE_CLASSES)) is None


# --------------------------------------------------------------------------- detector figures

def test_iou_known_values():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    assert iou((0, 0, 100, 100), (0, 0, 100, 62)) == pytest.approx(0.62)
    assert iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)


def test_all_point_ap_by_hand():
    # precision 1, 0.5, 2/3 at recall 0.5, 0.5, 1: envelope 1 up to 0.5, then 2/3.
    assert average_precision([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]) == pytest.approx(0.5 + 1 / 3)
    assert average_precision([1.0], [1.0]) == pytest.approx(1.0)
    assert average_precision([0.25, 0.5], [1.0, 0.5]) == pytest.approx(0.25 + 0.25 * 0.5)


def test_all_point_ap_agrees_with_ultralytics_101_point_ap():
    from ultralytics.utils.metrics import compute_ap

    rng = np.random.default_rng(0)
    for _ in range(5):
        tp = rng.random(60) < 0.6
        ctp = np.cumsum(tp)
        recall, precision = ctp / 50, ctp / np.arange(1, 61)
        ours = average_precision(recall, precision)
        theirs = compute_ap(list(recall), list(precision))[0]
        assert ours == pytest.approx(theirs, abs=0.01)  # 101-point sampling is a little lower
        assert ours >= theirs - 1e-9


HAND_TRUTH = {
    "a.jpg": [("topwear", (0, 0, 100, 100)), ("topwear", (200, 0, 300, 100)),
              ("footwear", (0, 200, 20, 220))],
    "b.jpg": [("bottomwear", (0, 0, 50, 50))],
}
HAND_PRED = {
    "a.jpg": [("topwear", (0, 0, 100, 100), 0.9),        # exact hit on the first top
              ("topwear", (500, 500, 600, 600), 0.8),    # nowhere near anything: false positive
              ("topwear", (200, 0, 300, 62), 0.7),       # IoU 0.62 with the second top
              ("topwear", (0, 0, 100, 100), 0.6),        # duplicate of a matched box: false positive
              ("eyewear", (0, 0, 5, 5), 0.9)],           # a class with no ground truth at all
    "b.jpg": [],                                          # the bottom is missed
}


def test_map_on_a_hand_made_box_set():
    m = detection_map(HAND_PRED, HAND_TRUTH)
    # topwear at IoU <= 0.60: TP FP TP FP -> P 1, .5, .667, .5 at R .5, .5, 1, 1 -> AP 0.5 + 0.5*2/3
    # above 0.60 the IoU-0.62 box misses: TP FP FP FP -> AP 0.5. Thresholds .50 .55 .60 hit: 3/10.
    ap_low, ap_high = 0.5 + 0.5 * 2 / 3, 0.5
    assert m["map50"]["topwear"] == pytest.approx(ap_low, abs=1e-4)
    assert m["map50_95"]["topwear"] == pytest.approx((3 * ap_low + 7 * ap_high) / 10, abs=1e-4)
    assert m["map50"]["bottomwear"] == 0.0 and m["map50"]["footwear"] == 0.0
    assert m["map50"]["eyewear"] is None and m["map50"]["handbag"] is None  # no ground truth
    assert m["n_true"] == {"topwear": 2, "bottomwear": 1, "footwear": 1, "eyewear": 0, "handbag": 0}
    assert m["mean"]["map50"] == pytest.approx(ap_low / 3, abs=1e-4)


def test_ap_interval_resamples_photos():
    # 20 photos with one top each: the even ones found, the odd ones missed with a box elsewhere
    truth = {f"{i}.jpg": [("topwear", (0, 0, 100, 100))] for i in range(20)}
    pred = {f"{i}.jpg": [("topwear", (0, 0, 100, 100) if i % 2 == 0 else (300, 300, 400, 400),
                          0.99 - 0.01 * i)] for i in range(20)}
    m = detection_map(pred, truth, intervals=True)
    lo, hi = m["map50_interval95"]["topwear"]
    assert 0.0 < lo < m["map50"]["topwear"] < hi < 1.0
    assert detection_map(pred, truth, intervals=True)["map50_interval95"]["topwear"] == [lo, hi]
    assert m["map50_interval95"]["eyewear"] is None  # no true box: no figure, no interval
    perfect = {img: [(c, b, 0.5) for c, b in boxes] for img, boxes in HAND_TRUTH.items()}
    assert detection_map(perfect, HAND_TRUTH, intervals=True)["map50_interval95"]["topwear"] == [1.0, 1.0]


def test_perfect_detections_score_one_at_every_threshold():
    pred = {img: [(c, b, 0.5) for c, b in boxes] for img, boxes in HAND_TRUTH.items()}
    m = detection_map(pred, HAND_TRUTH)
    for cls in ("topwear", "bottomwear", "footwear"):
        assert m["map50"][cls] == 1.0 and m["map50_95"][cls] == 1.0


# --------------------------------------------------------------------------- retrieval figures

def test_exact_knn_and_precision_at_k_on_a_toy_index():
    # Points on a line at 0, 1, 2.5 and 10: labels A A B B.
    gallery = np.array([[0.0, 0], [1, 0], [2.5, 0], [10, 0]])
    labels = ["A", "A", "B", "B"]
    nn = exact_knn(gallery, gallery, k=2, exclude=[0, 1, 2, 3])
    assert nn == [[1, 2], [0, 2], [1, 0], [2, 1]]
    p = precision_at_k(labels, [[labels[j] for j in row] for row in nn], k=2)
    assert p == pytest.approx((0.5 + 0.5 + 0.0 + 0.5) / 4)
    # Without self-exclusion each point finds itself first.
    assert [row[0] for row in exact_knn(gallery, gallery, k=1)] == [0, 1, 2, 3]
    # A gallery smaller than k returns what there is, never the excluded item.
    assert exact_knn(gallery[:2], gallery[:1], k=5, exclude=[0]) == [[1]]


def test_category_knn_stays_within_the_category():
    vecs = np.array([[0.0, 0], [0.1, 0], [0.2, 0], [0.05, 0]])
    cats = ["topwear", "topwear", "footwear", "footwear"]
    nn = _category_knn(vecs, cats, vecs, cats, k=3, qself=[0, 1, 2, 3])
    assert nn == [[1], [0], [3], [2]]


def test_gender_groups():
    assert same_gender_group("Men", "Boys")
    assert same_gender_group("Women", "Girls")
    assert same_gender_group("Unisex", "Women") and same_gender_group("Men", "Unisex")
    assert not same_gender_group("Men", "Women")
    assert precision_at_k(["Men"], [["Men", "Unisex", "Women", "Boys", "Girls"]], 5,
                             same_gender_group) == pytest.approx(3 / 5)


# --------------------------------------------------------------------------- colours, types

def test_lab_conversion_known_values():
    lab = srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]]))
    assert lab[0] == pytest.approx([100, 0, 0], abs=0.05)
    assert lab[1] == pytest.approx([0, 0, 0], abs=0.05)
    assert lab[2] == pytest.approx([53.24, 80.09, 67.20], abs=0.05)


def test_colour_names_and_families():
    names = nearest_colour_names(np.array([[0, 0, 0], [250, 250, 250], [20, 30, 80],
                                              [50, 100, 190], [210, 20, 30], [40, 150, 60]]))
    assert names == ["Black", "White", "Navy Blue", "Blue", "Red", "Green"]
    assert colour_family("Navy Blue") == colour_family("Blue") == "blue"
    assert colour_family("Multi") is None and colour_family(None) is None
    # 70 % red pixels, 30 % white ones: the garment is red.
    pixels = np.array([[200, 30, 40]] * 70 + [[250, 250, 250]] * 30, dtype=np.uint8)
    assert dominant_colour(pixels) == ("red", "Red")
    assert dominant_colour(np.zeros((0, 3))) == (None, None)


@needs_shared
def test_every_catalog_colour_and_type_is_covered():
    rows = list(csv.DictReader(open(CATALOG / "products.csv")))
    colours = {r["colour"] for r in rows} - {"Multi", "Metallic", "NA", ""}
    assert colours <= set(COLOUR_FAMILIES) == set(COLOUR_RGB)
    types = {r["article_type"] for r in rows}
    for label, accepted in PLAUSIBLE_TYPES.items():
        assert accepted <= types, label
    ccp_labels = {r["ccp_label"] for r in csv.DictReader(open(CCP / "boxes.csv"))}
    assert ccp_labels - set(SKIPPED_CCP_LABELS) <= set(PLAUSIBLE_TYPES)
    assert plausible("skirt", "Skirts") and not plausible("skirt", "Jeans")
    assert plausible("shoes", "Heels") and not plausible("shoes", "Handbags")


@needs_shared
def test_street_garments_from_real_masks():
    garments = street_garments(CCP, ["0001.jpg"])
    rows = [r for r in csv.DictReader(open(CCP / "boxes.csv")) if r["image"] == "0001.jpg"]
    want = {r["ccp_label"] for r in rows if r["ccp_label"] not in SKIPPED_CCP_LABELS}
    assert {g.ccp_label for g in garments} == want
    shoes = [g for g in garments if g.ccp_label == "shoes"][0]
    assert len(shoes.boxes) == 2 and shoes.category == "footwear"  # both shoes, one garment
    for g in garments:
        assert g.family in set(COLOUR_FAMILIES.values())
        assert COLOUR_FAMILIES[g.colour] == g.family


def test_contact_sheet_png(tmp_path):
    from PIL import Image

    q = Image.new("RGB", (50, 100), "red")
    r = Image.new("RGB", (60, 80), "blue")
    path = contact_sheet([(q, "skirt\nred", [(r, "Skirts\nBlue")] * 5)] * 2,
                            tmp_path / "sheet.png", cell=(96, 128))
    im = Image.open(path)
    assert im.size == (6 * (96 + 6) + 6, 2 * (128 + 26 + 6) + 6)
    assert im.getpixel((6 + 48, 6 + 64)) == (255, 0, 0)  # the query sits in the first column


# --------------------------------------------------------------------------- end to end

@needs_shared
@pytest.mark.slow
def test_eval_command_end_to_end_on_a_tiny_subset(tmp_path, capsys):
    from lookbot.cli import main

    rc = main(["eval", "--limit", "1", "--json", "--out", str(tmp_path)])
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report) >= {"meta", "gate", "detector", "catalog", "street", "contact_sheet"}
    assert report["gate"]["n"] == 2  # one photo of each labelled class
    assert set(report["detector"]["variants"]) >= {"pose"}
    for v in report["detector"]["variants"].values():
        assert set(v["map50"]) == set(CATEGORIES)
    for v in report["catalog"]["variants"].values():
        for key in ("p5_article_type", "p5_colour", "p5_gender"):
            assert 0.0 <= v[key] <= 1.0
    for v in report["street"]["variants"].values():
        assert 0.0 <= v["colour_family_at5"] <= 1.0
    picks = report["street_picks"]  # the street part: one validation photo
    assert picks["n_photos"] == 1 and picks["n_garments"] >= 1
    from core.street import STREET_FILE

    has_model = (REPO / "data" / "models" / STREET_FILE).exists()
    assert set(picks["variants"]) == ({"today", "gender", "street"} if has_model else {"today"})
    for v in picks["variants"].values():
        for key in ("type_at5", "colour_at5"):
            assert 0.0 <= v[key] <= 1.0
        assert set(v["per_category"]) <= set(CATEGORIES)
    if has_model:  # one photo: every draw is that photo, so the interval is the figure itself
        iv = picks["variants"]["street"]["interval95"]["type_at5"]
        assert iv == [picks["variants"]["street"]["type_at5"]] * 2
        from PIL import Image

        with Image.open(picks["contact_sheet"]) as sheet:  # the photo's garments and their picks
            assert sheet.height > 128 * picks["n_garments"] and sheet.width > 6 * 96
    assert Path(report["contact_sheet"]).exists()
    assert json.loads((tmp_path / "eval.json").read_text())["gate"] == report["gate"]
    text = format_eval(report)
    assert "Gate (2 labelled photos)" in text and "Street to shop" in text
    assert "Street picks @5" in text

    from measure.measurements import measurements_markdown

    md = measurements_markdown(report, None)
    # the command that made the figures, and that it was a quick run
    assert "## Quality" in md and f"`lookbot eval --limit 1 --json --out {tmp_path}`" in md
    assert "at most 1 per set: a quick run, not the figures" in md
    rate = report["gate"]["fullshot_pass_rate"]
    assert f"| {rate:.3f} | 0.97 | {'met' if rate >= 0.97 else '**not met**'} |" in md


def test_photo_interval_resamples_photos_not_garments():
    from measure.eval_picks import photo_interval

    # one photo of 9 right garments and 9 photos of one wrong garment each: by garment the mean is
    # 0.5, by photo a draw picks the right photo 1 time in 10 on average
    values = [1.0] * 9 + [0.0] * 9
    photos = ["a"] * 9 + [f"b{i}" for i in range(9)]
    lo, hi = photo_interval(values, photos)
    assert 0.0 <= lo < 0.5 < hi <= 1.0
    assert photo_interval(values, photos) == [lo, hi], "seeded: the same interval every run"
    same = photo_interval([0.6] * 12, [f"p{i % 4}" for i in range(12)])
    assert same == [0.6, 0.6]
    assert photo_interval([], []) is None
    wide = photo_interval([1.0, 0.0] * 10, [f"p{i}" for i in range(20)])
    narrow = photo_interval([1.0, 0.0] * 200, [f"p{i}" for i in range(400)])
    assert wide[1] - wide[0] > 2 * (narrow[1] - narrow[0]), "more photos, a tighter interval"
