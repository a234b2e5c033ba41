"""The figures `lookbot train-embedding` reports: exact nearest neighbours within a category,
catalog P@k of article type, colour and gender group, and street-to-shop agreement@k."""
from __future__ import annotations

import operator
from typing import Any, Callable, Sequence

import numpy as np

from .catalog_items import CatalogItem
from .eval_labels import colour_family, plausible, same_gender_group
from .eval_metrics import category_knn, precision_at_k


def _at_k(query_labels: Sequence, result_labels: Sequence[Sequence], k: int,
          agree: Callable[[Any, Any], bool] = operator.eq) -> float:
    """`eval_metrics.precision_at_k`, rounded, and 0.0 for no queries."""
    return round(precision_at_k(query_labels, result_labels, k, agree) or 0.0, 4)


def catalog_p5(vectors: np.ndarray, items: Sequence[CatalogItem], query_rows: Sequence[int],
               k: int = 5) -> dict[str, float]:
    """P@k of same article type, colour and gender group, each query against its category."""
    cats = [it.category for it in items]
    nn = category_knn(vectors, cats, vectors[list(query_rows)], [cats[i] for i in query_rows], k,
                      qself=list(query_rows))
    queries = [items[q] for q in query_rows]
    results = [[items[j] for j in row] for row in nn]

    def at_k(label: Callable[[CatalogItem], Any], agree=operator.eq) -> float:
        return _at_k([label(x) for x in queries], [[label(y) for y in r] for r in results], k, agree)

    return {"p5_article_type": at_k(lambda x: x.article_type), "p5_colour": at_k(lambda x: x.colour),
            "p5_gender": at_k(lambda x: x.gender, same_gender_group), "n_queries": len(query_rows)}


def street_agreement(gallery: np.ndarray, items: Sequence[CatalogItem], garments, qvecs: np.ndarray,
                     k: int = 5) -> dict[str, float]:
    """Colour-family agreement@k and article plausibility@k of street garments (core.eval_retrieval)."""
    nn = category_knn(gallery, [it.category for it in items], qvecs, [g.category for g in garments], k)
    results = [[items[j] for j in row] for row in nn]
    return {"colour_family_at5": _at_k([g.family for g in garments],
                                       [[colour_family(y.colour) for y in r] for r in results], k),
            "article_plausible_at5": _at_k([g.ccp_label for g in garments],
                                           [[y.article_type for y in r] for r in results], k, plausible),
            "n_queries": len(garments)}


def per_garment(vectors: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Mean of each garment's crop vectors (both shoes), re-normalised."""
    out = np.stack([vectors[owner == i].mean(0) for i in range(n)]) if n else vectors[:0]
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
