"""The shipped detector ensemble: weighted box fusion rules, its configuration, real CCP photos."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import Config
from core.detector_ensemble import EnsembleDetector, weighted_box_fusion
from core.records import Detection
from tests.helpers import shared

MODELS = Config.from_env().models_dir
WEIGHTS = MODELS / "detector.pt"
SPLIT = MODELS / "detector_split.json"


def Y(cat, box, score):
    return Detection(cat, box, score, "yolo")


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


# ---------------------------------------------------------------- weighted box fusion

def test_boxes_the_models_agree_on_become_their_weighted_mean():
    a = [Y("footwear", (100, 700, 160, 760), 0.9)]
    b = [Y("footwear", (110, 700, 170, 760), 0.3)]  # IoU 0.71 with a's
    (shoe,) = weighted_box_fusion([a, b])
    assert shoe.category == "footwear" and shoe.source == "yolo"
    assert shoe.box == pytest.approx((102.5, 700, 162.5, 760))  # pulled toward the surer box
    assert shoe.score == pytest.approx(0.6)  # the mean of both models' scores


def test_a_box_only_one_model_found_keeps_half_its_score():
    a = [Y("handbag", (300, 400, 380, 520), 0.8), Y("topwear", (90, 110, 310, 420), 0.9)]
    b = [Y("topwear", (95, 110, 310, 425), 0.7)]
    out = weighted_box_fusion([a, b])
    assert [d.category for d in out] == ["topwear", "handbag"]  # by score
    assert out[1].score == pytest.approx(0.4) and out[1].box == (300, 400, 380, 520)


def test_categories_and_distinct_boxes_never_merge():
    same_place = [Y("topwear", (0, 0, 100, 100), 0.9)], [Y("bottomwear", (0, 0, 100, 100), 0.8)]
    assert len(weighted_box_fusion(same_place)) == 2
    # two shoes side by side (IoU 0.54, below the ensemble's 0.6) stay two shoes
    pair = [Y("footwear", (100, 700, 200, 760), 0.8), Y("footwear", (130, 700, 230, 760), 0.7)]
    out = weighted_box_fusion([pair, pair])
    assert [d.box for d in out] == [pytest.approx(d.box) for d in pair]
    assert [d.score for d in out] == pytest.approx([0.8, 0.7])


def test_one_model_passes_through_and_none_gives_nothing():
    dets = [Y("eyewear", (10, 10, 20, 15), 0.2), Y("topwear", (0, 0, 50, 50), 0.9)]
    assert weighted_box_fusion([dets]) == sorted(dets, key=lambda d: -d.score)
    assert weighted_box_fusion([]) == [] and weighted_box_fusion([[], []]) == []
    with pytest.raises(ValueError):
        EnsembleDetector([])


# ---------------------------------------------------------------- the shipped ensemble

def test_config_names_the_members(tmp_path, caplog):
    from core.detect import build_trained_detector
    from core.yolo import YoloDetector

    alone = build_trained_detector(Config(detector_ensemble="none", detector_runtime="torch"))
    assert isinstance(alone, YoloDetector) and alone.weights == WEIGHTS
    with caplog.at_level(logging.WARNING, logger="core.detect"):
        partial = build_trained_detector(Config(detector_ensemble="missing.pt", detector_runtime="torch"))
    assert isinstance(partial, YoloDetector) and "missing.pt" in caplog.text


@pytest.mark.slow
def test_shipped_ensemble_loads_offline_and_runs_both_detectors_at_one_size(no_network):
    from core.detect import build_detector, build_trained_detector

    assert build_detector(Config.from_env()).name == "yolo-ensemble+pose"  # in eval, bench and /stats
    ensemble = build_trained_detector(Config.from_env())
    assert isinstance(ensemble, EnsembleDetector) and len(ensemble.members) == 2
    main, other = ensemble.members
    assert other.weights.name == "detector-576.pt" and other.imgsz == main.imgsz  # trained at 576
    assert all(m.runtime == "openvino" for m in ensemble.members)  # the default runtime
    img = _rgb(shared("ccp", "photos", json.loads(SPLIT.read_text())["val"][0]))
    merged = ensemble.detect(img)
    alone = [m.detect(img) for m in ensemble.members]
    assert merged == weighted_box_fusion(alone)
    assert len(merged) < sum(len(a) for a in alone)  # the boxes both models found became one
