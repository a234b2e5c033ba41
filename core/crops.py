"""What a look embeds: the articles of an outfit (one per category, both shoes as one) and the
crops of the work image the embedder and the colour histograms see."""
from __future__ import annotations

from typing import Optional

import numpy as np
from PIL import Image

from .imageio import Photo
from .records import Box, Detection
from .segment import cut_out

# How far a crop reaches past its box, as a fraction of the box size: a little context
# helps the embedder see the garment's outline.
CROP_MARGIN = 0.06


def crop(photo: Photo, box_work: Box, margin: float = CROP_MARGIN, mask: Optional[np.ndarray] = None,
         whiten: bool = True) -> Image.Image:
    """A crop of the work image around a box given in work pixels; with the garment's `mask`
    (work pixels), a cut-out whose other pixels are white unless `whiten` is off (core/segment.py)."""
    h, w = photo.rgb.shape[:2]
    x1, y1, x2, y2 = box_work
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    x1, y1 = int(max(0, x1 - mx)), int(max(0, y1 - my))
    x2, y2 = int(min(w, x2 + mx + 1)), int(min(h, y2 + my + 1))
    return cut_out(photo.rgb, (x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)), mask, whiten)


def articles_of(detections: list[Detection]) -> list[list[Detection]]:
    """Group detections into the articles one outfit has: one per category, both shoes as one."""
    groups: list[list[Detection]] = []
    by_cat: dict[str, list[Detection]] = {}
    for d in sorted(detections, key=lambda d: -d.score):
        by_cat.setdefault(d.category, []).append(d)
    for cat, dets in by_cat.items():
        groups.append(dets[:2] if cat == "footwear" else dets[:1])
    order = {"topwear": 0, "bottomwear": 1, "footwear": 2, "handbag": 3, "eyewear": 4}
    groups.sort(key=lambda g: order.get(g[0].category, 9))
    return groups
