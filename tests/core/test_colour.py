"""Garment colour features: the batched and table-driven paths give what the arithmetic of one
crop at a time gives, on real crops (plain and cut out with a garment mask)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from core.colour import (COLOUR_FEATURE_DIM, _LINEAR_LEVELS, _linearise, border_connected,
                         colour_bands, colour_features, srgb_to_lab)
from core.segment import cut_out
from tests.helpers import FIXTURES, street_crops


def cut_outs() -> list[Image.Image]:
    """RGBA crops of the CCP mask fixtures, one per labelled garment, whitened and not."""
    crops = []
    for photo in sorted((FIXTURES / "ccp_masks").glob("*.jpg")):
        rgb = np.asarray(Image.open(photo).convert("RGB"))
        labelled = np.asarray(Image.open(photo.with_suffix(".png")))
        for value in np.unique(labelled[labelled > 0]):
            ys, xs = np.nonzero(labelled == value)
            window = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            crops += [cut_out(rgb, window, labelled == value, whiten=w) for w in (True, False)]
    return crops


def test_batched_features_equal_each_crop_on_its_own():
    crops = street_crops(12) + cut_outs()
    assert {c.mode for c in crops} == {"RGB", "RGBA"}
    batched = colour_features(crops)
    assert batched.shape == (len(crops), COLOUR_FEATURE_DIM) and batched.dtype == np.float32
    for crop, row in zip(crops, batched):
        # equal up to one float32 step: numpy's sums of the same values can differ in the last
        # bit with the arrays' memory alignment, in the one-crop path too (seen 2 in 381 looks)
        np.testing.assert_allclose(row, colour_bands(crop), rtol=0, atol=1e-6)
    assert colour_features([]).shape == (0, COLOUR_FEATURE_DIM)


def test_the_linear_light_table_is_the_arithmetic():
    levels = np.arange(256, dtype=np.uint8)
    image = np.stack([levels, levels[::-1], np.roll(levels, 7)], -1).reshape(16, 16, 3)
    assert np.array_equal(_LINEAR_LEVELS[levels], _linearise(levels.astype(np.float32) / 255.0))
    # the uint8 path (a table lookup) and any other integer type (the arithmetic) agree
    assert np.array_equal(srgb_to_lab(image), srgb_to_lab(image.astype(np.int64)))


def test_border_connected_keeps_only_what_touches_the_border():
    mask = np.zeros((6, 7), bool)
    mask[0, 2:4] = mask[1, 3] = True  # touches the top edge
    mask[3:5, 3:5] = True  # an island inside
    out = border_connected(mask)
    assert out.dtype == bool and out[0, 2:4].all() and out[1, 3] and not out[3:5, 3:5].any()
    assert not border_connected(np.pad(np.ones((2, 2), bool), 2)).any()
