"""The figures `lookbot train-embedding` reports: exact nearest neighbours within a category,
catalog P@k of article type, colour and gender group, and street-to-shop agreement@k."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .eval_labels import same_gender_group
from .eval_metrics import category_knn
from .catalog_items import CatalogItem


def catalog_p5(vectors: np.ndarray, items: Sequence[CatalogItem], query_rows: Sequence[int],
               k: int = 5) -> dict[str, float]:
    """P@k of same article type, colour and gender group, each query against its category."""
    cats = [it.category for it in items]
    nn = category_knn(vectors, cats, vectors[list(query_rows)],
                         [cats[i] for i in query_rows], k, qself=list(query_rows))
    t = c = g = 0.0
    for q, row in zip(query_rows, nn):
        a = items[q]
        t += sum(items[j].article_type == a.article_type for j in row) / k
        c += sum(items[j].colour == a.colour for j in row) / k
        g += sum(same_gender_group(items[j].gender, a.gender) for j in row) / k
    n = max(len(query_rows), 1)
    return {"p5_article_type": round(t / n, 4), "p5_colour": round(c / n, 4),
            "p5_gender": round(g / n, 4), "n_queries": len(query_rows)}


def street_agreement(gallery: np.ndarray, items: Sequence[CatalogItem], garments, qvecs: np.ndarray,
                     k: int = 5) -> dict[str, float]:
    """Colour-family agreement@k and article plausibility@k of street garments (core.eval_retrieval)."""
    from .eval_labels import colour_family, plausible

    nn = category_knn(gallery, [it.category for it in items], qvecs,
                         [g.category for g in garments], k)
    fam = pla = 0.0
    for g, row in zip(garments, nn):
        fam += sum(colour_family(items[j].colour) == g.family for j in row) / k
        pla += sum(plausible(g.ccp_label, items[j].article_type) for j in row) / k
    n = max(len(garments), 1)
    return {"colour_family_at5": round(fam / n, 4), "article_plausible_at5": round(pla / n, 4),
            "n_queries": len(garments)}


def per_garment(vectors: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Mean of each garment's crop vectors (both shoes), re-normalised."""
    out = np.stack([vectors[owner == i].mean(0) for i in range(n)]) if n else vectors[:0]
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
