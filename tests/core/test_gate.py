"""The full-shot gate on real labelled photos, and its rules on crafted landmarks."""
from __future__ import annotations

import csv
from collections import Counter

import pytest

from core.gate import GateThresholds, PoseGate
from core.imageio import load_rgb
from tests.helpers import FIXTURES, shared


@pytest.fixture(scope="module")
def gate() -> PoseGate:
    return PoseGate()


@pytest.mark.parametrize("name,reason", [
    ("full_ccp_0032.jpg", "ok"),
    ("full_tests_0000003.jpg", "ok"),
    ("half_to_thigh.jpg", "feet_out_of_frame"),
    ("half_upper_body.jpg", "feet_out_of_frame"),
    ("product_pants.jpg", "no_person"),
])
def test_gate_verdicts_on_fixture_photos(gate, name, reason):
    verdict = gate.check(load_rgb(str(FIXTURES / "people" / name)).rgb)
    assert verdict.reason == reason
    assert verdict.full_shot == (reason == "ok")
    assert verdict.message


def test_portrait_is_rejected_for_missing_feet_or_person(gate):
    verdict = gate.check(load_rgb(str(FIXTURES / "people" / "portrait.jpg")).rgb)
    assert not verdict.full_shot
    assert verdict.reason in ("feet_out_of_frame", "no_person", "person_too_small")


@pytest.mark.slow
def test_gate_meets_goal_on_all_labelled_people(gate):
    people = shared("people")
    counts: Counter = Counter()
    with open(people / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["label"] not in ("fullshot", "not_fullshot"):
                continue
            verdict = gate.check(load_rgb(str(people / row["file"])).rgb)
            counts[(row["label"], verdict.full_shot)] += 1
    full = counts[("fullshot", True)] / (counts[("fullshot", True)] + counts[("fullshot", False)])
    rejected = counts[("not_fullshot", False)] / (
        counts[("not_fullshot", False)] + counts[("not_fullshot", True)])
    assert full >= 0.95, counts
    assert rejected >= 0.95, counts


def standing(width=600, height=900, vis=0.95):
    """33 landmarks of an upright person filling most of a 600x900 frame."""
    lms = [(300.0, 450.0, vis)] * 33
    pts = {0: (300, 95), 1: (290, 90), 4: (310, 90), 11: (250, 200), 12: (350, 200),
           13: (230, 320), 14: (370, 320), 15: (225, 430), 16: (375, 430), 23: (265, 460),
           24: (335, 460), 25: (265, 620), 26: (335, 620), 27: (265, 790), 28: (335, 790),
           29: (262, 810), 30: (338, 810), 31: (280, 830), 32: (320, 830)}
    for i, (x, y) in pts.items():
        lms[i] = (float(x), float(y), vis)
    return lms


def test_rules_accept_an_upright_full_person():
    assert PoseGate().judge(standing(), 600, 900).reason == "ok"


def test_rules_check_coordinates_not_only_visibility():
    lms = standing()
    lms[1] = (290.0, -15.0, 0.99)  # MediaPipe extrapolates the eye above the frame
    assert PoseGate().judge(lms, 600, 900).reason == "head_out_of_frame"
    lms = standing()
    lms[29] = (262.0, 1000.0, 0.99)  # heel far below the frame
    assert PoseGate().judge(lms, 600, 900).reason == "feet_out_of_frame"


def test_rules_reject_invisible_feet_small_people_and_lying_people():
    lms = standing()
    for i in (29, 30, 31, 32):
        lms[i] = (lms[i][0], lms[i][1], 0.1)
    assert PoseGate().judge(lms, 600, 900).reason == "feet_out_of_frame"
    assert PoseGate().judge(standing(), 600, 2400).reason == "person_too_small"
    lying = [(y, x, v) for x, y, v in standing()]  # rotated 90 degrees
    assert PoseGate().judge(lying, 900, 900).reason == "not_upright"
    assert PoseGate().judge(None, 600, 900).reason == "no_person"


def test_thresholds_are_configurable():
    strict = PoseGate(GateThresholds(min_height=0.9))
    assert strict.judge(standing(), 600, 900).reason == "person_too_small"
