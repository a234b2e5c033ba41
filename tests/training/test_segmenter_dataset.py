"""The segmenter's labels: CCP's category pixels become YOLO polygons that redraw them."""
from __future__ import annotations

import numpy as np
from PIL import Image

from core.records import CATEGORIES
from training.ccp_dataset import LabelledPhoto
from training.segmenter_dataset import category_masks, instance_masks, mask_polygon
from tests.helpers import FIXTURES


def _fill(poly: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.round(poly).astype(np.int32)], 1)
    return out.astype(bool)


def test_polygons_redraw_the_labelled_garments():
    labelled = np.asarray(Image.open(FIXTURES / "ccp_masks" / "0030.png"))
    masks = {c: labelled == i + 1 for i, c in enumerate(CATEGORIES)}
    boxes = []
    for cat in ("topwear", "bottomwear", "handbag"):
        ys, xs = np.nonzero(masks[cat])
        boxes.append((cat, (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))))
    photo = LabelledPhoto("0030.jpg", labelled.shape[1], labelled.shape[0], boxes)
    instances = instance_masks(photo, masks)
    assert [c for c, _ in instances] == ["topwear", "bottomwear", "handbag"]
    for cat, inst in instances:
        drawn = _fill(mask_polygon(inst), inst.shape)
        iou = (drawn & inst).sum() / (drawn | inst).sum()
        assert iou >= 0.85, (cat, iou)


def test_dress_pixels_split_at_the_waist():
    label_mask = np.zeros((10, 4), int)
    label_mask[2:9, 1:3] = 14  # a dress
    label_mask[0:2, :] = 5  # a blouse above it
    cats = category_masks(label_mask, {14: "dress", 5: "topwear"}, waist_y=6)
    assert cats["topwear"][0:6].sum() == 8 + 8 and not cats["topwear"][6:].any()
    assert cats["bottomwear"][6:9, 1:3].all() and cats["bottomwear"].sum() == 6
    assert mask_polygon(np.zeros((10, 4), bool)) is None
