"""The full-shot gate on real labelled photos, and its rules on crafted landmarks."""
from __future__ import annotations

import csv
from collections import Counter

import pytest

from core.gate import GateThresholds, PoseGate
from core.imageio import load_rgb
from tests.helpers import FIXTURES, shared, standing


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


# Full shots whose feet MediaPipe cannot see (covered by a hem) but places in frame: the pose alone
# leaves them in doubt, and the legs ending well above the bottom edge settle it.
COVERED = ["covered_maxi_skirt_ccp_0485.jpg", "covered_wide_trousers_ccp_0540.jpg",
           "covered_long_skirt_shoes_ccp_0493.jpg", "covered_pale_shoes_0849.jpg"]


@pytest.mark.parametrize("name", COVERED)
def test_covered_feet_are_in_doubt_then_pass(gate, name):
    rgb = load_rgb(str(FIXTURES / "people" / name)).rgb
    lms = gate.landmarks(rgb)
    h, w = rgb.shape[:2]
    assert gate.judge(lms, w, h).reason == "feet_unsure"  # the detector must be asked
    assert gate.judge(lms, w, h, shoes=[]).reason == "ok"


def cut(name: str, keep: float) -> bytes:
    """The photo's top `keep` fraction, as JPEG bytes: a real photo with its feet cut off."""
    import io

    from PIL import Image

    with Image.open(FIXTURES / "people" / name) as im:
        out = io.BytesIO()
        im.convert("RGB").crop((0, 0, im.width, int(im.height * keep))).save(out, "JPEG")
        return out.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("name,keep", [("covered_maxi_skirt_ccp_0485.jpg", 0.78),
                                       ("full_ccp_0032.jpg", 0.80), ("full_ccp_0032.jpg", 0.84)])
def test_engine_refuses_the_same_photos_cut_through_the_legs(engine, name, keep):
    verdict, _ = engine.check_gate(engine.decode(cut(name, keep)))
    assert verdict.reason == "feet_out_of_frame"
    assert "feet" in verdict.message


@pytest.mark.slow
def test_engine_passes_feet_at_the_edge_on_the_detectors_shoes(engine, gate):
    """Feet MediaPipe places below the bottom edge count only with a shoe box at them."""
    photo = engine.decode((FIXTURES / "people" / "full_shoes_at_edge.jpg").read_bytes())
    h, w = photo.rgb.shape[:2]
    lms = engine.gate.landmarks(photo.rgb)
    assert engine.gate.judge(lms, w, h).reason == "feet_unsure"
    assert engine.gate.judge(lms, w, h, shoes=[]).reason == "feet_out_of_frame"
    verdict, raw = engine.check_gate(photo)
    assert verdict.reason == "ok"
    assert any(d.category == "footwear" and d.score >= engine.shoe_score for d in raw)
    # the detect stage reuses the gate's boxes instead of running the detector again
    dets = engine.detect_photo(photo, verdict, raw=raw)
    assert any(d.category == "footwear" for d in dets)


@pytest.mark.slow
@pytest.mark.parametrize("name", COVERED)
def test_engine_passes_covered_feet(engine, name):
    verdict, _ = engine.check_gate(engine.decode((FIXTURES / "people" / name).read_bytes()))
    assert verdict.reason == "ok"


def test_portrait_is_rejected_for_missing_feet_or_person(gate):
    verdict = gate.check(load_rgb(str(FIXTURES / "people" / "portrait.jpg")).rgb)
    assert not verdict.full_shot
    assert verdict.reason in ("feet_out_of_frame", "no_person", "person_too_small")


@pytest.mark.slow
def test_gate_meets_goal_on_all_labelled_people(engine):
    people = shared("people")
    counts: Counter = Counter()
    with open(people / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["label"] not in ("fullshot", "not_fullshot"):
                continue
            verdict, _ = engine.check_gate(engine.decode((people / row["file"]).read_bytes()))
            counts[(row["label"], verdict.full_shot)] += 1
    full = counts[("fullshot", True)] / (counts[("fullshot", True)] + counts[("fullshot", False)])
    rejected = counts[("not_fullshot", False)] / (
        counts[("not_fullshot", False)] + counts[("not_fullshot", True)])
    assert full >= 0.97, counts
    assert rejected >= 0.97, counts


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
    for i in (27, 28, 29, 30, 31, 32):  # unsure feet placed below the frame: cut off
        lms[i] = (lms[i][0], lms[i][1] + 120, 0.1)
    assert PoseGate().judge(lms, 600, 900).reason == "feet_out_of_frame"
    assert PoseGate().judge(standing(), 600, 2400).reason == "person_too_small"
    lying = [(y, x, v) for x, y, v in standing()]  # rotated 90 degrees
    assert PoseGate().judge(lying, 900, 900).reason == "not_upright"
    assert PoseGate().judge(None, 600, 900).reason == "no_person"


def test_rules_on_unsure_feet():
    lms = standing()
    for i in (29, 30, 31, 32):  # feet under a hem: placed in frame, MediaPipe unsure
        lms[i] = (lms[i][0], lms[i][1], 0.1)
    gate = PoseGate()
    assert gate.judge(lms, 600, 900).reason == "feet_unsure"
    assert gate.judge(lms, 600, 900, shoes=[]).reason == "ok"  # toes 70 px above the edge
    assert gate.judge(lms, 600, 845, shoes=[]).reason == "feet_out_of_frame"  # toes at the edge
    assert gate.judge(lms, 600, 845, shoes=[(250, 800, 300, 845)]).reason == "ok"
    assert gate.judge(lms, 600, 845, shoes=[(250, 300, 300, 340)]).reason == "feet_out_of_frame"
    seen = standing()  # feet seen, but placed below the bottom edge: a shoe box must be there
    assert gate.judge(seen, 600, 820).reason == "feet_unsure"
    assert gate.judge(seen, 600, 820, shoes=[]).reason == "feet_out_of_frame"
    assert gate.judge(seen, 600, 820, shoes=[(300, 790, 350, 820)]).reason == "ok"
    short = [list(p) for p in lms]  # legs squashed under the hips: cut at the thighs
    for i in (25, 26, 27, 28, 29, 30, 31, 32):
        short[i] = [short[i][0], 470.0 + i, 0.1]
    assert gate.judge([tuple(p) for p in short], 600, 900).reason in ("feet_out_of_frame",
                                                                        "not_upright")
    lms[1] = (290.0, 90.0, 0.1)  # a doubt about the feet never hides another reason
    assert gate.judge(lms, 600, 900).reason == "head_out_of_frame"


def test_thresholds_are_configurable():
    strict = PoseGate(GateThresholds(min_height=0.9))
    assert strict.judge(standing(), 600, 900).reason == "person_too_small"
