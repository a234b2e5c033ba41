"""Fusion and precision rules on crafted detection lists: per-class shown thresholds, pose fill-ins,
handbags that cannot be carried, and the shown-box precision measure."""
from __future__ import annotations

import numpy as np
import pytest

from core.config import Config
from core.fusion import FusedDetector, fuse, implausible_handbag, parse_class_scores
from core.records import Detection, GateVerdict
from core.regions import PoseRegionFinder
from measure.eval_metrics import shown_precision_recall
from tests.helpers import standing


def det(category, box, score, source="yolo"):
    return Detection(category, tuple(float(v) for v in box), score, source)


class CraftedDetector:
    """Stands in for the trained detector: returns a fixed list, so the fusion rules are what runs."""

    name = "crafted"

    def __init__(self, detections):
        self.detections = detections

    def detect(self, image, verdict=None):
        return list(self.detections)


# An upright person in a 600x900 photo (tests.helpers.standing): shoulders y 200, hips 460,
# hands near (225, 440) and (375, 440), eyes y 90, ears x 278..322.
PERSON = standing()
FULL = GateVerdict(True, "ok", "", PERSON)
IMAGE = np.zeros((900, 600, 3), np.uint8)
TOP = det("topwear", (230, 190, 370, 470), 0.9)
BOTTOM = det("bottomwear", (240, 450, 360, 790), 0.8)
SHOE = det("footwear", (240, 780, 290, 840), 0.32)
SUNGLASSES = det("eyewear", (280, 80, 320, 100), 0.38)
BAG_IN_HAND = det("handbag", (360, 420, 440, 520), 0.62)
BAG_ON_HAIR = det("handbag", (265, 60, 335, 230), 0.9)  # hair over a shoulder: centred above it
BAG_FAR = det("handbag", (500, 700, 590, 800), 0.9)  # beside the feet, far from both hands


def test_class_scores_parse_and_refuse_unknown_categories():
    assert parse_class_scores("footwear=0.35, handbag=0.6") == {"footwear": 0.35, "handbag": 0.6}
    assert parse_class_scores("") == {} and parse_class_scores("none") == {}
    with pytest.raises(ValueError):
        parse_class_scores("bag=0.3")


def test_each_category_is_shown_from_its_own_threshold():
    scores = {"topwear": 0.25, "bottomwear": 0.25, "footwear": 0.35, "eyewear": 0.4,
              "handbag": 0.6}
    kept = fuse([TOP, BOTTOM, SHOE, SUNGLASSES, BAG_IN_HAND], [], True, scores)
    assert {d.category for d in kept} == {"topwear", "bottomwear", "handbag"}
    kept = fuse([SHOE, SUNGLASSES], [], True, 0.3)  # one threshold for all still works
    assert [d.category for d in kept] == ["footwear", "eyewear"]


def test_pose_fills_only_the_configured_categories():
    pose = [det("topwear", (220, 170, 380, 480), 0.5, "pose"),
            det("footwear", (230, 770, 300, 850), 0.5, "pose")]
    kept = fuse([BOTTOM], pose, True, 0.25, fill_categories=("topwear",))
    assert sorted((d.category, d.source) for d in kept) == [("bottomwear", "yolo"),
                                                            ("topwear", "pose")]
    assert fuse([BOTTOM], pose, False, 0.25, fill_categories=("topwear",)) == [BOTTOM]


def test_handbags_that_cannot_be_carried():
    assert implausible_handbag(BAG_IN_HAND.box, PERSON) is None
    assert implausible_handbag(BAG_ON_HAIR.box, PERSON) == "above the shoulders"
    assert implausible_handbag((270, 150, 330, 270), PERSON) == "on the head"
    assert implausible_handbag(BAG_FAR.box, PERSON) == "away from the arms"
    strap = (300, 190, 420, 470)  # a shoulder bag: strap from the shoulder, bag at the hip
    assert implausible_handbag(strap, PERSON) is None


def test_fused_detector_applies_the_configured_rules():
    config = Config(detector_score=0.25, detector_class_scores="footwear=0.35,handbag=0.6",
                    pose_fill="topwear")
    crafted = CraftedDetector([TOP, BOTTOM, SHOE, BAG_IN_HAND, BAG_ON_HAIR, BAG_FAR])
    fused = FusedDetector(crafted, PoseRegionFinder(), config)
    shown = fused.detect(IMAGE, FULL)
    assert [(d.category, d.score) for d in shown] == [("topwear", 0.9), ("bottomwear", 0.8),
                                                     ("handbag", 0.62)]
    # `lookbot detect` measures from 0.01: thresholds off, the handbag rule still on
    raw = fused.detect(IMAGE, FULL, min_score=0.01)
    assert {d.category for d in raw} == {"topwear", "bottomwear", "footwear", "handbag"}
    assert [d.box for d in raw if d.category == "handbag"] == [BAG_IN_HAND.box]
    # not a full shot: no landmarks to judge by, nothing filled in, every bag above threshold kept
    refused = fused.detect(IMAGE, GateVerdict(False, "feet_out_of_frame", "", None))
    assert sum(d.category == "handbag" for d in refused) == 3


def test_shown_precision_and_recall_by_hand():
    truth = {"a": [("handbag", (0, 0, 10, 10)), ("footwear", (0, 0, 10, 10)),
                   ("footwear", (20, 0, 30, 10))],
             "b": [("handbag", (0, 0, 10, 10))]}
    shown = {"a": [("handbag", (0, 0, 10, 10), 0.9), ("handbag", (1, 1, 10, 10), 0.8),
                   ("footwear", (20, 0, 30, 10), 0.7)],
             "b": [("footwear", (50, 50, 60, 60), 0.5)]}
    pr = shown_precision_recall(shown, truth)
    assert pr["handbag"] == {"precision": 0.5, "recall": 0.5, "n_shown": 2, "n_true": 2}
    assert pr["footwear"] == {"precision": 0.5, "recall": 0.5, "n_shown": 2, "n_true": 2}
    assert pr["eyewear"] == {"precision": None, "recall": None, "n_shown": 0, "n_true": 0}
