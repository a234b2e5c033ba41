"""Re-ranking by the labels of the neighbourhood: the nearest catalog products vote, weighted by
closeness, on the article type, colour and gender the query most likely shows, and candidates
that agree with the vote move up. Catalog labels are known facts about products; the query's
own labels are never needed. The weight and temperature were chosen on held-out catalog items
(docs/MEASUREMENTS.md, "Design choices").
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

LABELS: tuple[str, ...] = ("article_type", "colour", "gender")


@dataclass
class Candidate:
    """A search hit with the catalog labels the vote reads."""

    key: str
    distance: float
    labels: dict[str, Optional[str]]


def rerank(candidates: Sequence[Candidate], weight: float = 0.5, temperature: float = 0.05,
           window: int = 50) -> list[Candidate]:
    """Candidates (nearest first) re-ordered by distance minus `weight` x label agreement.

    Only the `window` nearest are re-ordered, so paging deeper never reshuffles earlier pages.
    """
    if weight <= 0 or len(candidates) < 2:
        return list(candidates)
    head, tail = list(candidates[:window]), list(candidates[window:])
    dist = np.array([c.distance for c in head], dtype=np.float64)
    votes_weight = np.exp(-(dist - dist.min()) / max(temperature, 1e-6))
    score = dist.copy()
    for label in LABELS:
        votes: dict[Optional[str], float] = defaultdict(float)
        for c, w in zip(head, votes_weight):
            votes[c.labels.get(label)] += w
        total = sum(votes.values()) or 1.0
        score -= weight * np.array([votes[c.labels.get(label)] / total for c in head])
    order = np.argsort(score, kind="stable")
    return [head[i] for i in order] + tail
