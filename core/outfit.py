"""One photo's outfit read by the street model (core/street.py): the boxes the wearer's vote
reads, the wearer's gender to search and a hint for each article (the pipeline's step between
the embedding and the search)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .garment_geometry import garment_geometry, outfit_box
from .street import ArticleHint, StreetModel, WearerCall, resolve_gender


def wearer_boxes(model: Optional[StreetModel], shape: tuple, landmarks, boxes: list
                 ) -> dict[str, tuple]:
    """The boxes `model` reads for the wearer: "person" (the union of the article `boxes`) and
    "head" (from the pose `landmarks`), in the pixels of an image of `shape` (h, w, ...)."""
    from .regions import head_region

    out: dict[str, tuple] = {}
    if model is None or not boxes:
        return out
    if model.uses("person"):
        out["person"] = outfit_box(boxes)
    head = head_region(landmarks, shape[1], shape[0])
    if head is not None and model.uses("head"):
        out["head"] = head
    return out


def read_outfit(model: Optional[StreetModel], categories: Sequence[str],
                boxes: Sequence[Sequence[tuple]], owners: Sequence[int], feats: np.ndarray,
                colour: np.ndarray, extra: dict, shape: np.ndarray, choice: str
                ) -> tuple[str, str, Optional[WearerCall], list[Optional[ArticleHint]]]:
    """(gender to search, its source, the wearer call, one hint per article) for an outfit whose
    articles have `boxes` and whose crops (`feats`, `colour`) belong to articles `owners`;
    `extra` holds the person and head boxes' features. Without a model: the shopper's choice,
    no call, no hints."""
    call = None
    hints: list[Optional[ArticleHint]] = [None] * len(categories)
    if model is not None and len(categories):
        own = np.asarray(owners)
        art_feats = np.stack([feats[own == i].mean(0) for i in range(len(categories))])
        art_colour = np.stack([colour[own == i].mean(0) for i in range(len(categories))])
        call = model.wearer(art_feats, art_colour, extra.get("person"), extra.get("head"), shape)
        outfit = outfit_box([b for article in boxes for b in article])
        geometry = np.stack([garment_geometry(article, outfit) for article in boxes])
        hints = list(model.articles(art_feats, art_colour, categories, geometry))
    gender, unisex_first, source = resolve_gender(choice, call)
    for h in hints:
        if h is not None:
            h.unisex_first = unisex_first
    return gender, source, call, hints
