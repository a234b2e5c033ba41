"""The neighbourhood vote moves agreeing products up, and only inside its window."""
from __future__ import annotations

from core.rerank import Candidate, rerank


def cand(key: str, distance: float, article_type: str, colour: str = "Black") -> Candidate:
    return Candidate(key, distance, {"article_type": article_type, "colour": colour,
                                     "gender": "Women"})


def test_the_odd_one_out_moves_down():
    hits = [cand("a", 0.50, "Jeans"), cand("b", 0.51, "Skirts"), cand("c", 0.52, "Skirts"),
            cand("d", 0.53, "Skirts")]
    # votes: Skirts 0.67, Jeans 0.33 of the weight, so "a" loses 0.5 x 0.33 less than the rest
    assert [c.key for c in rerank(hits, weight=0.5, temperature=0.05)] == ["b", "c", "d", "a"]


def test_colour_votes_too_and_far_products_barely_count():
    hits = [cand("a", 0.40, "Tops", "Red"), cand("b", 0.41, "Tops", "Black"),
            cand("c", 0.42, "Tops", "Red"), cand("d", 2.00, "Tops", "Black")]
    order = [c.key for c in rerank(hits, weight=0.5, temperature=0.05)]
    assert order[:2] == ["a", "c"] and order[-1] == "d"


def test_weight_zero_and_window_keep_order():
    hits = [cand(str(i), 0.5 + i / 100, "Jeans" if i == 0 else "Skirts") for i in range(6)]
    assert rerank(hits, weight=0.0) == hits
    out = rerank(hits, weight=0.5, window=3)
    assert [c.key for c in out[3:]] == ["3", "4", "5"]  # beyond the window: untouched
    assert [c.key for c in out[:3]] == ["1", "2", "0"]


def test_missing_labels_vote_as_one_value():
    """A product without catalog labels (gone from the catalog) reads None for each: the None
    ones agree with each other, as any shared value does, and the hint gives them nothing."""
    from core.street import ArticleHint

    hits = [Candidate("x", 0.50, {}), cand("a", 0.51, "Jeans"), Candidate("y", 0.52, {}),
            cand("b", 0.53, "Skirts"), Candidate("z", 0.54, {"colour": None})]
    assert [c.key for c in rerank(hits, weight=0.5)] == ["x", "y", "z", "a", "b"]
    hint = ArticleHint({"Skirts": 0.9}, {"black": 0.5}, frozenset({"Skirts"}), "black")
    assert [c.key for c in rerank(hits, weight=0.5, hint=hint)] == ["b", "a", "x", "y", "z"]
