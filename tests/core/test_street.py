"""The street model: the wearer's vote (crafted log-odds, the unsure band), how its hints order
search results, and the shipped model on real CCP photos it never trained on."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.ccp_types import likeliest
from core.rerank import Candidate, rerank
from core.street import (STREET_FILE, ArticleHint, WearerCall, load_street_model, resolve_gender,
                         vote)
from tests.helpers import REPO

WEIGHTS = (1.0, 1.0, 1.0, 0.0)  # garment mean, person box, head box, bias


def test_the_outfit_votes_in_log_odds():
    assert vote([3.0, 2.0, 4.0], 2.0, 1.0, WEIGHTS) > 0.99  # everything says women
    assert vote([-3.0, -4.0], -2.0, None, WEIGHTS) < 0.01  # everything says men
    # one garment's strong vote is averaged with the others, not counted alone
    assert vote([6.0, -2.0, -2.0, -2.0], None, None, WEIGHTS) == pytest.approx(0.5)
    # the head disagrees with the clothes: the sum decides, here for the head
    assert vote([1.0, 1.0], None, -3.0, WEIGHTS) == pytest.approx(1 / (1 + np.exp(2.0)))
    assert vote([], None, None, (1.0, 1.0, 1.0, 0.3)) == pytest.approx(1 / (1 + np.exp(-0.3)))
    assert vote([1.0], 1.0, None, (0.0, 2.0, 0.0, 0.0)) == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_the_unsure_band_and_the_leaning():
    assert WearerCall(0.9, 0.3, 0.7).gender == "women"
    assert WearerCall(0.1, 0.3, 0.7).gender == "men"
    unsure = WearerCall(0.45, 0.3, 0.7)
    assert unsure.gender == "unsure" and unsure.leaning == "men"
    assert WearerCall(0.3, 0.3, 0.7).gender == "men"  # the edges belong to the sides
    # a P(women) fitted with the genders weighted alike leans women from the share of men in
    # the photos it learnt from: on the street 0.3 is more often a woman than a man
    assert WearerCall(0.3, 0.1, 0.7, lean=0.16).leaning == "women"
    assert WearerCall(0.15, 0.1, 0.7, lean=0.16).leaning == "men"


def test_the_shopper_s_choice_beats_the_photo_and_unsure_shows_unisex_first():
    women = WearerCall(0.95, 0.3, 0.7)
    assert resolve_gender("auto", women) == ("women", False, "photo")
    for choice in ("men", "women", "any"):
        assert resolve_gender(choice, women) == (choice, False, "you")
    # unsure: unisex first, then the leaning gender, never the other one
    assert resolve_gender("auto", WearerCall(0.6, 0.3, 0.7)) == ("women", True, "photo")
    assert resolve_gender("auto", WearerCall(0.4, 0.3, 0.7)) == ("men", True, "photo")
    assert resolve_gender("auto", None) == ("any", False, "none")


def _cands():
    # nearest first: a shirt, a jacket, a black jacket, a unisex jacket
    rows = [("a", 0.50, "Shirts", "Blue", "Women"), ("b", 0.52, "Jackets", "Blue", "Women"),
            ("c", 0.60, "Jackets", "Black", "Women"), ("d", 0.70, "Jackets", "Navy Blue", "Unisex")]
    return [Candidate(k, d, {"article_type": t, "colour": c, "gender": g}) for k, d, t, c, g in rows]


def test_a_sure_hint_filters_and_an_unsure_one_reranks():
    keys = lambda cs: [c.key for c in cs]
    assert keys(rerank(_cands(), weight=0.0)) == ["a", "b", "c", "d"]
    sure = ArticleHint({"Jackets": 0.95}, {"blue": 0.9}, frozenset({"Jackets"}), "blue")
    # the blue jackets agree with both sure predictions and come first; the black jacket breaks
    # the sure colour and the blue shirt the sure type: one each, and the likelier type
    # (0.95 x 5 against 0.9 x 3) puts the black jacket before the blue shirt
    assert keys(rerank(_cands(), weight=0.0, hint=sure)) == ["b", "d", "c", "a"]
    unsure = ArticleHint({"Jackets": 0.15}, {})
    # no filter: each jacket gains 5 x 0.15 = 0.75 in distance and passes the shirt
    assert keys(rerank(_cands(), weight=0.0, hint=unsure)) == ["b", "c", "d", "a"]
    first = ArticleHint({"Jackets": 0.95}, {}, frozenset({"Jackets"}), None, unisex_first=True)
    assert keys(rerank(_cands(), weight=0.0, hint=first)) == ["d", "b", "c", "a"]
    # but not before a sure type: the women's shirt, then the unisex jacket before the others
    shirt = ArticleHint({"Shirts": 0.95}, {}, frozenset({"Shirts"}), None, unisex_first=True)
    assert keys(rerank(_cands(), weight=0.0, hint=shirt)) == ["a", "d", "b", "c"]


def test_a_right_colour_can_beat_a_likely_but_unsure_type():
    keys = lambda cs: [c.key for c in cs]
    # the sure colour is black; jackets are only somewhat likelier than shirts
    hint = ArticleHint({"Jackets": 0.45, "Shirts": 0.40}, {"black": 0.95, "blue": 0.05},
                       frozenset({"Jackets"}), "black")
    rows = [("blue jacket", 0.50, "Jackets", "Blue"), ("black shirt", 0.55, "Shirts", "Black"),
            ("black jacket", 0.70, "Jackets", "Black")]
    cands = [Candidate(k, d, {"article_type": t, "colour": c, "gender": "Women"})
             for k, d, t, c in rows]
    # the black jacket agrees with both; the blue jacket and the black shirt break one each,
    # and the shirt's sure colour outweighs the jacket's small lead in type
    assert keys(rerank(cands, weight=0.0, hint=hint)) == ["black jacket", "black shirt",
                                                          "blue jacket"]


def test_a_hint_filters_to_its_likeliest_type():
    assert likeliest({"Tops": 0.62, "Shirts": 0.30, "Tunics": 0.62}, 0.0) == {"Tops", "Tunics"}
    assert likeliest({"Sweaters": 0.35, "Tops": 0.34}, 0.0) == {"Sweaters"}
    assert likeliest({"Sweaters": 0.35, "Tops": 0.34}, 0.5) == frozenset()
    assert likeliest({}, 0.0) == frozenset()


MODEL = REPO / "data" / "models" / STREET_FILE
needs_model = pytest.mark.skipif(not MODEL.exists(), reason="no street model")


@needs_model
def test_the_shipped_model_loads_offline_with_its_report(no_network):
    model = load_street_model(MODEL, 1280)
    report = json.loads((MODEL.parent / "street_report.json").read_text())
    assert model.labels and set(model.label_category) <= {"topwear", "bottomwear", "footwear",
                                                          "eyewear", "handbag"}
    low, high = model.gender_low, model.gender_high
    assert 0.0 < low <= 0.5 <= high < 1.0
    women, men = report["wearer"]["photos"]["women"], report["wearer"]["photos"]["men"]
    assert low < model.gender_lean < 0.5 and model.gender_lean == pytest.approx(men / (men + women))
    assert report["file"] == STREET_FILE and report["split"] == "detector_split.json:train"


def test_a_garment_s_place_on_the_person_does_not_depend_on_the_photo_s_size():
    from core.garment_geometry import garment_geometry, outfit_box

    coat, blouse = [(100, 100, 300, 500)], [(150, 110, 250, 300)]
    shoes = [(120, 560, 170, 600), (230, 560, 280, 600)]
    outfit = outfit_box(coat + blouse + shoes)
    assert outfit == (100, 100, 300, 600)
    g_coat, g_blouse = garment_geometry(coat, outfit), garment_geometry(blouse, outfit)
    assert g_coat[0] == pytest.approx(0.8) and g_blouse[0] == pytest.approx(0.38)  # height share
    assert g_coat[1] == pytest.approx(1.0) and g_blouse[1] == pytest.approx(0.5)  # width share
    g_shoes = garment_geometry(shoes, outfit)
    assert g_shoes[5] == 2 and g_shoes[2] == pytest.approx(0.92)  # two boxes, near the bottom
    twice = lambda bs: [tuple(2 * v for v in b) for b in bs]
    np.testing.assert_allclose(garment_geometry(twice(coat), outfit_box(twice(coat + shoes))),
                               garment_geometry(coat, outfit_box(coat + shoes)), rtol=1e-6)


@needs_model
def test_a_model_from_other_features_is_served_with_a_warning(tmp_path, caplog):
    """Features of another runtime (OpenVINO's int8 against ONNX Runtime's) are close, not the
    same: the model still serves, and the log says to retrain it; another backbone refuses it."""
    from types import SimpleNamespace

    import torch

    from core.config import Config
    from core.street import street_model_for

    state = torch.load(MODEL, map_location="cpu", weights_only=True)
    backbone = state["meta"]["backbone"]
    state["meta"]["features"] = backbone + "-int8-ov"
    torch.save(state, tmp_path / STREET_FILE)
    config = Config.from_env(models_dir=tmp_path)
    served = SimpleNamespace(backbone=SimpleNamespace(dim=1280), backbone_version=backbone,
                             features_key=backbone + "-int8")
    assert street_model_for(config, served) is not None
    assert "learnt from " + backbone + "-int8-ov features, not " + backbone + "-int8" in caplog.text
    caplog.clear()
    assert street_model_for(config, SimpleNamespace(**{**vars(served), "features_key": backbone + "-int8-ov"}))
    assert "retrain" not in caplog.text
    other = SimpleNamespace(**{**vars(served), "backbone_version": "resnet50-224"})
    assert street_model_for(config, other) is None and "looking without it" in caplog.text
