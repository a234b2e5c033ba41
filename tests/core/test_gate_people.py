"""The gate counts the people in a photo and refuses a group: real photos, and the counting rule
on crafted landmarks."""
from __future__ import annotations

import pytest

from core.gate import MESSAGES, GateThresholds, PoseGate, count_people
from core.imageio import load_rgb
from core.records import GateVerdict, LookResult
from tests.helpers import FIXTURES

# Three friends side by side in a park (seralexger/clothing-detection-dataset, MIT; the
# people set's multi_person/clothing__dataset_df5wx...jpg, resized to 640 x 800).
GROUP = FIXTURES / "multi_person" / "group_of_three_df5wx.jpg"
FULL = FIXTURES / "people" / "full_ccp_0032.jpg"


@pytest.fixture(scope="module")
def gate() -> PoseGate:
    return PoseGate()


def test_a_group_is_refused_as_several_people(gate):
    verdict = gate.check(load_rgb(str(GROUP)).rgb)
    assert verdict.people >= 2
    assert (verdict.full_shot, verdict.reason) == (False, "several_people")
    assert verdict.message == MESSAGES["several_people"]
    assert "several people" in verdict.message and "one person" in verdict.message
    # the person it would have read alone passes: the count alone refuses the photo
    lms = gate.landmarks(load_rgb(str(GROUP)).rgb)
    assert gate.judge(lms, 640, 800).reason == "ok"


def test_one_person_in_a_street_photo_counts_one(gate):
    verdict = gate.check(load_rgb(str(FULL)).rgb)
    assert (verdict.reason, verdict.people) == ("ok", 1)


def test_mediapipe_runtime_cannot_count_and_says_one():
    gate = PoseGate(runtime="mediapipe")
    verdict = gate.check(load_rgb(str(GROUP)).rgb)
    assert verdict.people == 1
    assert verdict.reason != "several_people"


@pytest.mark.slow
def test_engine_keeps_the_count_through_the_shoe_check(engine):
    verdict, _ = engine.check_gate(engine.decode(GROUP.read_bytes()))
    assert verdict.reason == "several_people" and verdict.people >= 2
    wire = LookResult("group.jpg", verdict).to_json()
    assert wire["people"] == verdict.people and wire["reason"] == "several_people"


def person(x: float, top: float, height: float) -> list[tuple[float, float, float]]:
    """Crafted landmarks of someone standing at `x`: eyes at `top`, heels `height` below,
    shoulders a sixth and hips a half of the way down."""
    lms = [(x, top + height / 2, 1.0)] * 33
    for i in (1, 4):
        lms[i] = (x, top, 1.0)
    for i, dy in ((11, 1 / 6), (12, 1 / 6), (23, 0.5), (24, 0.5), (29, 1.0), (30, 1.0)):
        lms[i] = (x + (-0.05 if i % 2 else 0.05) * height, top + dy * height, 1.0)
    return lms


def test_count_people_rule_on_crafted_landmarks():
    t = GateThresholds()
    one = person(300, 100, 600)
    assert count_people([], t) == 0
    assert count_people([one], t) == 1
    # side by side, as tall: two; a third further along: three
    assert count_people([one, person(500, 110, 580), person(700, 100, 600)], t) == 3
    # a passer-by behind, under people_min_height of the person, does not count
    assert count_people([one, person(500, 250, 0.7 * 600)], t) == 1
    # a second read of the same person (shoulders within people_min_apart torsos) does not count
    assert count_people([one, person(310, 105, 590)], t) == 1


def test_verdict_people_defaults_to_one_and_reaches_the_json():
    verdict = GateVerdict(True, "ok", "")
    assert verdict.people == 1
    assert LookResult("p.jpg", verdict).to_json()["people"] == 1


def test_judge_refuses_two_people_whatever_the_one_persons_verdict(gate):
    lms = person(300, 100, 600)
    assert gate.judge(lms, 800, 800).reason == "ok"
    refused = gate.judge(lms, 800, 800, people=2)
    assert (refused.full_shot, refused.reason, refused.people) == (False, "several_people", 2)
    assert gate.judge(None, 800, 800, people=2).reason == "no_person"
