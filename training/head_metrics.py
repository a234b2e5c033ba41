"""The figures `lookbot train-embedding` reports, counted as `lookbot eval` counts them
(measure.eval_metrics): catalog P@k of article type, colour and gender group, and street-to-shop
agreement@k, each query against its own category."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from core.catalog_items import CatalogItem
from measure.eval_metrics import CATALOG_SCORES, STREET_SCORES, category_knn, scores_at_k


def _figures(queries: Sequence, results: Sequence[Sequence], k: int, scores: dict) -> dict[str, float]:
    """`lookbot eval`'s figures (eval_metrics.scores_at_k), 0.0 where there is no query."""
    return {name: v or 0.0 for name, v in scores_at_k(queries, results, k, scores).items()}


def catalog_p5(vectors: np.ndarray, items: Sequence[CatalogItem], query_rows: Sequence[int],
               k: int = 5) -> dict[str, float]:
    """P@k of same article type, colour and gender group, each query against its category."""
    cats = [it.category for it in items]
    nn = category_knn(vectors, cats, vectors[list(query_rows)], [cats[i] for i in query_rows], k,
                      qself=list(query_rows))
    return {**_figures([items[q] for q in query_rows], [[items[j] for j in row] for row in nn], k,
                       CATALOG_SCORES), "n_queries": len(query_rows)}


def street_agreement(gallery: np.ndarray, items: Sequence[CatalogItem], garments, qvecs: np.ndarray,
                     k: int = 5) -> dict[str, float]:
    """Colour-family agreement@k and article plausibility@k of street garments (measure.eval_retrieval)."""
    nn = category_knn(gallery, [it.category for it in items], qvecs, [g.category for g in garments], k)
    return {**_figures(garments, [[items[j] for j in row] for row in nn], k, STREET_SCORES),
            "n_queries": len(garments)}


def per_garment(vectors: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Mean of each garment's crop vectors (both shoes), re-normalised."""
    out = np.stack([vectors[owner == i].mean(0) for i in range(n)]) if n else vectors[:0]
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
