"""When a catalog result agrees with its query: gender groups, colours and article types.

Colours are named by the nearest catalog colour in CIE Lab and grouped into families
(core/colour_names.py); a CCP garment label accepts the catalog article types in PLAUSIBLE_TYPES
(core/ccp_types.py, the one mapping the engine also uses).
"""
from __future__ import annotations

from typing import Optional

from core.ccp_types import PLAUSIBLE_TYPES, SKIPPED_CCP_LABELS, plausible  # noqa: F401
from core.colour_names import (COLOUR_FAMILIES, COLOUR_RGB, colour_family,  # noqa: F401
                               dominant_colour, nearest_colour_names)

# ------------------------------------------------------------------------------- gender

GENDER_GROUPS: dict[str, str] = {"Men": "men", "Boys": "men", "Women": "women", "Girls": "women",
                                 "Unisex": "unisex"}


def same_gender_group(a: Optional[str], b: Optional[str]) -> bool:
    ga, gb = GENDER_GROUPS.get(a or "", "unisex"), GENDER_GROUPS.get(b or "", "unisex")
    return ga == gb or "unisex" in (ga, gb)
