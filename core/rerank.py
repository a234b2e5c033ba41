"""Re-ranking by the labels of the neighbourhood: the nearest catalog products vote, weighted by
closeness, on the article type, colour and gender the query most likely shows, and candidates
that agree with the vote move up. Catalog labels are known facts about products; the query's
own labels are never needed. The weight and temperature were chosen on held-out catalog items
(docs/MEASUREMENTS.md, "Design choices").

A street model's `ArticleHint` (core/street.py) adds what the photo itself says, in this order:
products that agree with both the sure type and the sure colour family, then those that agree
with one of them, then the rest; within each, the predicted probabilities of the product's type
and colour family add to the score, so they decide whether a right type in the wrong colour comes
before a wrong type in the right colour. When the wearer is unsure, products of the sure type come
first, and among them unisex products before the leaning gender's (the catalog's unisex topwear
is almost all T-shirts: unisex first over every type showed T-shirts for coats and shirts). The
weights and the order were chosen on out-of-fold predictions for the train photos and checked on
the validation photos (docs/MEASUREMENTS.md, "Street picks").
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from .colour_names import colour_family

if TYPE_CHECKING:
    from .street import ArticleHint

LABELS: tuple[str, ...] = ("article_type", "colour", "gender")


@dataclass
class Candidate:
    """A search hit with the catalog labels the vote reads."""

    key: str
    distance: float
    labels: dict[str, Optional[str]]


# How much a street prediction moves a product: its probability times this, in distance (nearest
# products are about 0.5 apart, so a likely type or colour outweighs closeness).
HINT_TYPE_WEIGHT = 5.0
HINT_COLOUR_WEIGHT = 3.0

# A label over the candidates: each one's index into the distinct values, and those values.
Distinct = tuple[np.ndarray, list[Optional[str]]]


def rerank(candidates: Sequence[Candidate], weight: float = 0.5, temperature: float = 0.05,
           window: int = 50, hint: Optional["ArticleHint"] = None) -> list[Candidate]:
    """Candidates (nearest first) re-ordered by distance minus `weight` x label agreement,
    and by the street `hint` when there is one.

    Only the `window` nearest are re-ordered, so paging deeper never reshuffles earlier pages.
    """
    if (weight <= 0 and hint is None) or len(candidates) < 2:
        return list(candidates)
    head, tail = list(candidates[:window]), list(candidates[window:])
    dist = np.array([c.distance for c in head], dtype=np.float64)
    # each label read once and coded by its distinct values: what hangs on a value alone (its
    # colour family, the hint's probability) is worked out once per distinct value
    rows = [c.labels for c in head]
    labels = {label: _distinct(list(map(dict.get, rows, repeat(label)))) for label in LABELS}
    score = dist - (_vote(labels, dist, temperature) * weight if weight > 0 else 0.0)
    if hint is None:
        order = np.argsort(score, kind="stable")
        return [head[i] for i in order] + tail
    types, colours, genders = labels["article_type"], labels["colour"], labels["gender"]
    families = [colour_family(c) for c in colours[1]]
    score -= HINT_TYPE_WEIGHT * _per_value(types, [hint.types.get(t or "", 0.0) for t in types[1]])
    score -= HINT_COLOUR_WEIGHT * _per_value(colours, [hint.families.get(f or "", 0.0)
                                                       for f in families])
    type_breaks = _per_value(types, [bool(hint.sure_types) and t not in hint.sure_types
                                     for t in types[1]])
    colour_breaks = _per_value(colours, [hint.sure_family is not None and f != hint.sure_family
                                         for f in families])
    breaks = type_breaks.astype(int) + colour_breaks.astype(int)
    keys = (score, breaks)  # the last key sorts first
    if hint.unisex_first:  # of the sure type, unisex products first, then the leaning gender's
        keys += (_per_value(genders, [g != "Unisex" for g in genders[1]]), type_breaks)
    order = np.lexsort(keys)
    return [head[i] for i in order] + tail


def _distinct(values: list[Optional[str]]) -> Distinct:
    """Each value's index among the distinct values (in order of first appearance), and those."""
    index = {v: i for i, v in enumerate(dict.fromkeys(values))}
    return np.fromiter(map(index.__getitem__, values), np.intp, len(values)), list(index)


def _per_value(column: Distinct, per_value: list) -> np.ndarray:
    """Per candidate, its value's entry of `per_value` (one entry per distinct value)."""
    return np.array(per_value)[column[0]]


def _vote(labels: dict[str, Distinct], dist: np.ndarray, temperature: float) -> np.ndarray:
    """Each candidate's share of the neighbourhood's closeness-weighted vote, summed over LABELS."""
    votes_weight = np.exp(-(dist - dist.min()) / max(temperature, 1e-6))
    total = votes_weight.sum() or 1.0
    agree = np.zeros(len(dist))
    for label in LABELS:
        which, values = labels[label]
        votes = np.bincount(which, weights=votes_weight, minlength=len(values))
        agree += votes[which] / total
    return agree
