"""Catalog colour names and their families, and naming the colour of garment pixels.

Colours are named by the nearest catalog colour in CIE Lab (COLOUR_RGB) and grouped into families
(COLOUR_FAMILIES). `lookbot eval` names a CCP garment's colour from its mask pixels with these;
the street model (core/street.py) ranks catalog products by the family it predicts.
"""
from __future__ import annotations

from collections import Counter
from typing import Optional

import numpy as np

from .colour import srgb_to_lab

# A reference sRGB value for each catalog colour name (the Myntra names in products.csv).
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "Black": (25, 25, 27), "Charcoal": (60, 62, 66), "White": (245, 245, 245),
    "Off White": (238, 234, 222), "Cream": (243, 233, 205), "Grey": (128, 128, 130),
    "Grey Melange": (165, 165, 165), "Silver": (192, 192, 196), "Steel": (110, 120, 128),
    "Blue": (45, 95, 180), "Navy Blue": (28, 36, 70), "Turquoise Blue": (60, 190, 205),
    "Teal": (0, 120, 125), "Red": (200, 30, 40), "Maroon": (110, 22, 38),
    "Burgundy": (120, 10, 40), "Rust": (175, 70, 30), "Pink": (240, 145, 175),
    "Magenta": (200, 35, 140), "Peach": (250, 195, 165), "Mauve": (185, 140, 165),
    "Purple": (105, 50, 140), "Lavender": (185, 170, 220), "Green": (40, 140, 65),
    "Olive": (105, 105, 50), "Sea Green": (46, 139, 87), "Yellow": (240, 210, 45),
    "Mustard": (205, 160, 35), "Gold": (200, 165, 75), "Orange": (240, 120, 30),
    "Copper": (184, 115, 51), "Bronze": (150, 110, 50), "Brown": (105, 68, 40),
    "Coffee Brown": (80, 55, 38), "Mushroom Brown": (150, 130, 112), "Taupe": (135, 120, 105),
    "Tan": (205, 170, 125), "Khaki": (190, 175, 140), "Beige": (222, 203, 172),
}

# Catalog colour name -> colour family. Names not listed (Multi, Metallic, NA) have no family and
# never agree with a query.
COLOUR_FAMILIES: dict[str, str] = {
    "Black": "black", "Charcoal": "black",
    "White": "white", "Off White": "white", "Cream": "white",
    "Grey": "grey", "Grey Melange": "grey", "Silver": "grey", "Steel": "grey",
    "Blue": "blue", "Navy Blue": "blue", "Turquoise Blue": "blue", "Teal": "blue",
    "Red": "red", "Maroon": "red", "Burgundy": "red",
    "Pink": "pink", "Magenta": "pink", "Peach": "pink", "Mauve": "pink",
    "Purple": "purple", "Lavender": "purple",
    "Green": "green", "Olive": "green", "Sea Green": "green",
    "Yellow": "yellow", "Mustard": "yellow", "Gold": "yellow",
    "Orange": "orange", "Rust": "orange", "Copper": "orange",
    "Brown": "brown", "Coffee Brown": "brown", "Mushroom Brown": "brown", "Taupe": "brown",
    "Bronze": "brown",
    "Beige": "beige", "Tan": "beige", "Khaki": "beige",
}


def colour_family(name: Optional[str]) -> Optional[str]:
    return COLOUR_FAMILIES.get((name or "").strip())


_NAMES = list(COLOUR_RGB)
_CENTROIDS = srgb_to_lab(np.array([COLOUR_RGB[n] for n in _NAMES]))


def nearest_colour_names(rgb: np.ndarray) -> list[str]:
    """Each pixel's nearest catalog colour name (CIE76 distance to the Lab centroids)."""
    lab = srgb_to_lab(np.asarray(rgb).reshape(-1, 3))
    d = ((lab[:, None, :] - _CENTROIDS[None, :, :]) ** 2).sum(-1)
    return [_NAMES[i] for i in d.argmin(1)]


def dominant_colour(pixels: np.ndarray, max_pixels: int = 4000, seed: int = 0
                    ) -> tuple[Optional[str], Optional[str]]:
    """(majority family, most common name within that family) of N x 3 RGB mask pixels."""
    pixels = np.asarray(pixels).reshape(-1, 3)
    if len(pixels) == 0:
        return None, None
    if len(pixels) > max_pixels:
        pixels = pixels[np.random.default_rng(seed).choice(len(pixels), max_pixels, replace=False)]
    names = nearest_colour_names(pixels)
    families = Counter(COLOUR_FAMILIES[n] for n in names)
    family = families.most_common(1)[0][0]
    name = Counter(n for n in names if COLOUR_FAMILIES[n] == family).most_common(1)[0][0]
    return family, name
