"""The garment segmenter: offline loading, masks against CCP's labelled pixels, cut-outs and their colour.

tests/fixtures/ccp_masks holds four CCP validation photos (detector_split.json's "val": neither the
detector nor the segmenter trained on them) and their labelled masks as PNG, one value per pixel:
0 none, 1 + the index of the lookbot category (dresses split at the waist, as training labels are).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.colour import colour_histogram
from core.config import Config
from core.records import CATEGORIES
from core.segment import SEGMENTER_FILE, Segment, cut_out, mask_for
from tests.helpers import FIXTURES

MODELS = Config.from_env().models_dir
PHOTOS = sorted((FIXTURES / "ccp_masks").glob("*.jpg"))
MIN_PIXELS = 1500  # garments smaller than this (a shoe at the photo's edge, glasses) are not scored


def _labelled(photo: Path) -> np.ndarray:
    return np.asarray(Image.open(photo.with_suffix(".png")))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_fixture_photos_are_validation_photos():
    import json

    val = set(json.loads((MODELS / "detector_split.json").read_text())["val"])
    assert len(PHOTOS) == 4 and all(p.name in val for p in PHOTOS)


@pytest.mark.slow
def test_segmenter_loads_offline_and_masks_overlap_labelled_pixels(tmp_path, no_network):
    from core.segment import Segmenter

    weights = MODELS / SEGMENTER_FILE
    assert weights.is_file(), f"{weights} is committed with the project; it is missing"
    segmenter = Segmenter(weights, tmp_path)  # exported to ONNX and loaded with the network refused
    scores: dict[str, list[float]] = {}
    for photo in PHOTOS:
        rgb = np.asarray(Image.open(photo).convert("RGB"))
        labelled = _labelled(photo)
        segments = segmenter.segment(rgb)
        assert segments and all(s.mask.shape == rgb.shape[:2] for s in segments)
        for i, cat in enumerate(CATEGORIES):
            truth = labelled == i + 1
            if truth.sum() < MIN_PIXELS:
                continue
            found = np.zeros_like(truth)
            for s in segments:
                if s.category == cat:
                    found |= s.mask
            scores.setdefault(cat, []).append(_iou(found, truth))
    garments = [v for vs in scores.values() for v in vs]
    assert len(garments) >= 12
    assert np.mean(garments) >= 0.5, scores
    for cat in ("topwear", "bottomwear"):  # the garments whose colour and crop matter most
        # a dress cut at the waist (0053) is the weakest: its upper half's IoU is 0.42 with segmenter.pt v1
        assert np.mean(scores[cat]) >= 0.6 and sorted(scores[cat])[1] >= 0.5, scores


def test_mask_for_keeps_the_boxes_category_inside_the_box():
    h, w = 100, 80
    top = np.zeros((h, w), bool)
    top[10:50, 10:70] = True
    other = np.zeros((h, w), bool)
    other[55:95, 15:65] = True
    segments = [Segment("topwear", (10, 10, 70, 50), 0.9, top), Segment("bottomwear", (15, 55, 65, 95), 0.8, other)]
    mask = mask_for(segments, "topwear", (20, 5, 70, 60))
    assert mask is not None and mask.sum() == 40 * 50  # the topwear pixels inside x 20..70, y 5..60
    assert not mask[55:].any()  # never the trousers below
    assert mask_for(segments, "handbag", (20, 5, 70, 60)) is None
    sliver = [Segment("topwear", (10, 10, 70, 50), 0.9, top & (np.arange(w) < 12)[None, :])]
    assert mask_for(sliver, "topwear", (10, 10, 70, 50)) is None  # 2 columns of a box: a miss


def test_cut_out_whitens_off_mask_pixels_and_colour_reads_the_mask_only():
    rgb = np.zeros((60, 40, 3), np.uint8)
    rgb[:] = (30, 160, 40)  # green background
    rgb[15:45, 10:30] = (200, 20, 20)  # a red garment
    mask = np.zeros((60, 40), bool)
    mask[15:45, 10:30] = True
    cut = cut_out(rgb, (0, 0, 40, 60), mask)
    assert cut.mode == "RGBA"
    arr = np.asarray(cut)
    assert (arr[0, 0, :3] == 255).all() and arr[0, 0, 3] == 0 and tuple(arr[20, 20, :3]) == (200, 20, 20)
    red = colour_histogram(Image.fromarray(np.full((30, 20, 3), (200, 20, 20), np.uint8)))
    assert float(colour_histogram(cut) @ red) > 0.99  # the green around it does not count
    assert float(colour_histogram(Image.fromarray(rgb)) @ red) < float(colour_histogram(cut) @ red)
    assert cut_out(rgb, (0, 0, 40, 60), None).mode == "RGB"  # no mask: the plain crop
