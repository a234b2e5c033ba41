"""Where a garment sits on the person: its box's size and place, relative to the outfit's box.

A coat reaches the knees where a blouse stops at the waist, and a blazer is wider than the shirt
under it; the street model's type prediction (core/street.py) reads these besides the pixels.
The outfit's box is the union of all the photo's garment boxes, as `look` and
training/street_data.py both form it, so the figures do not depend on the photo's size or framing.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .records import Box

GEOMETRY_DIM = 6


def garment_geometry(boxes: Sequence[Box], outfit: Box) -> np.ndarray:
    """(height, width, top, bottom) of the union of `boxes` as shares of the `outfit` box, the
    log of its height-to-width ratio, and how many boxes it has (two shoes: 2)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    ox1, oy1, ox2, oy2 = outfit
    ow, oh = max(ox2 - ox1, 1.0), max(oy2 - oy1, 1.0)
    return np.array([(y2 - y1) / oh, (x2 - x1) / ow, (y1 - oy1) / oh, (y2 - oy1) / oh,
                     np.log(max(y2 - y1, 1.0) / max(x2 - x1, 1.0)), len(b)], dtype=np.float32)


def outfit_box(boxes: Sequence[Box]) -> Box:
    """The union of `boxes`: one article's boxes (two shoes), or all of an outfit's."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def geometry_inputs(geometry: np.ndarray, mean: np.ndarray, std: np.ndarray, scale: float
                    ) -> np.ndarray:
    """The type model's geometry inputs: standardised values and their squares (a linear model
    then also sees 'far from typical'), times `scale` so the L2 penalty lets them count."""
    z = (np.asarray(geometry, dtype=np.float32).reshape(-1, GEOMETRY_DIM) - mean) / std
    return scale * np.concatenate([z, z ** 2], axis=1)
