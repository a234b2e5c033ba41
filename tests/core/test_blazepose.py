"""MediaPipe's pose models under OpenVINO (core/blazepose.py) against MediaPipe's own graph, on
real photos, and its steps on crafted inputs."""
from __future__ import annotations

import numpy as np
import pytest

from core.blazepose import (BlazePose, Roi, model_files, refine_on_heatmap, ssd_anchors,
                            weighted_nms)
from core.gate import PoseGate
from core.imageio import load_rgb
from tests.helpers import FIXTURES

PHOTOS = sorted(p.name for p in (FIXTURES / "people").glob("*.jpg"))


@pytest.fixture(scope="module")
def gates() -> tuple[PoseGate, PoseGate]:
    ours, theirs = PoseGate(), PoseGate(runtime="mediapipe")
    assert (ours.runtime, theirs.runtime) == ("openvino", "mediapipe")
    return ours, theirs


@pytest.mark.parametrize("name", PHOTOS)
def test_landmarks_and_verdicts_match_mediapipe(gates, name):
    rgb = load_rgb(str(FIXTURES / "people" / name)).rgb
    ours, theirs = (g.landmarks(rgb) for g in gates)
    assert (ours is None) == (theirs is None)
    if ours is not None:
        a, b = np.array(ours), np.array(theirs)
        err = np.abs(a[:, :2] - b[:, :2]).max(axis=1) / max(rgb.shape[:2])
        assert np.median(err) < 0.01  # under 1% of the photo's long side
        assert np.median(np.abs(a[:, 2] - b[:, 2])) < 0.05  # visibility
    assert gates[0].check(rgb).reason == gates[1].check(rgb).reason


def test_anchors_are_the_detectors_outputs():
    import openvino as ov

    detector, _ = model_files()
    boxes = ov.Core().read_model(str(detector)).outputs[0].get_partial_shape()
    anchors = ssd_anchors()
    assert anchors.shape == (boxes[1].get_length(), 2)  # 2254 anchor centres
    assert anchors.min() > 0 and anchors.max() < 1
    assert tuple(anchors[0]) == pytest.approx((0.5 / 28, 0.5 / 28))  # stride 8 on 224 px


def test_weighted_nms_averages_the_overlapping_detections_only():
    # rows: cx, cy, w, h and two key points; the second overlaps the first, the third is apart
    raw = np.array([[0.50, 0.50, 0.2, 0.2, 0.50, 0.60, 0.50, 0.30],
                    [0.52, 0.50, 0.2, 0.2, 0.54, 0.60, 0.50, 0.30],
                    [0.10, 0.10, 0.1, 0.1, 0.10, 0.10, 0.10, 0.10]])
    best = weighted_nms(raw, np.array([0.9, 0.3, 0.95 - 0.9]))[0][0]
    assert best[0] == pytest.approx((0.50 * 0.9 + 0.52 * 0.3) / 1.2)
    assert best[4] == pytest.approx((0.50 * 0.9 + 0.54 * 0.3) / 1.2)
    alone = weighted_nms(raw[2:], np.array([0.8]))[0][0]
    assert alone == pytest.approx(raw[2])


def test_heatmap_refinement_moves_confident_landmarks_only():
    heatmap = np.full((64, 64, 2), -10.0, dtype=np.float32)
    heatmap[20, 30, 0] = 10.0  # a sure peak near landmark 0
    xy = np.array([[31.5 / 64, 21.5 / 64], [10 / 64, 10 / 64]])
    out = refine_on_heatmap(xy, heatmap)
    assert out[0] == pytest.approx((30 / 64, 20 / 64), abs=1e-3)
    assert out[1] == pytest.approx(xy[1])  # nothing confident around it: unchanged


def test_heatmap_refinement_at_the_edges_reads_only_the_inside_cells():
    heatmap = np.full((64, 64, 3), -10.0, dtype=np.float32)
    heatmap[0, 1, 0] = heatmap[0, 0, 0] = 10.0  # two sure cells in the top-left corner
    heatmap[63, 62, 1] = 10.0
    xy = np.array([[0.5 / 64, 0.5 / 64], [63.9 / 64, 63.9 / 64], [1.2, 0.5]])
    out = refine_on_heatmap(xy, heatmap)
    # the window is cut by the corner: the two sure cells decide, nothing wraps round
    assert out[0] == pytest.approx((0.5 / 64, 0.0), abs=1e-3)
    assert out[1] == pytest.approx((62 / 64, 63 / 64), abs=1e-3)
    assert out[2] == pytest.approx(xy[2])  # outside the heatmap: unchanged


def test_roi_maps_the_crop_centre_to_its_centre_and_turns_with_it():
    roi = Roi(cx=300.0, cy=400.0, side=512.0, angle=np.pi / 2)
    m = roi.matrix(256)
    centre = m[:, :2] @ [128, 128] + m[:, 2]
    assert centre == pytest.approx((300, 400))
    right = m[:, :2] @ [256, 128] + m[:, 2]  # the crop's right edge, turned a quarter
    assert right == pytest.approx((300, 400 + 256))


def test_no_person_on_a_product_photo():
    rgb = load_rgb(str(FIXTURES / "people" / "product_pants.jpg")).rgb
    assert BlazePose().landmarks(rgb) is None


def test_gate_falls_back_to_mediapipe_when_openvino_cannot_load(monkeypatch):
    import core.blazepose

    def missing():
        raise FileNotFoundError("no pose models")

    monkeypatch.setattr(core.blazepose, "model_files", missing)
    gate = PoseGate()
    assert gate.runtime == "mediapipe"
    rgb = load_rgb(str(FIXTURES / "people" / "full_ccp_0032.jpg")).rgb
    assert gate.check(rgb).reason == "ok"
