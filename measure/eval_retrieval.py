"""The retrieval's evaluation: catalog-to-catalog P@k and street-to-shop agreement@k per embedding.

Also what it needs of its own: the catalog features and the per-category exact search. Its
contact sheet of examples is drawn by measure/contact_sheets.py; the street garments it queries
with are measure/eval_street.py.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
from PIL import Image

from core.config import REPO_ROOT, Config
from core.catalog_items import CatalogItem, catalog_items_from_db, load_catalog_items
from .contact_sheets import contact_sheet
from .eval_data import detector_val_photos, held_out_ids, limited, load_rgb_file, progress
from .eval_metrics import CATALOG_SCORES, GOALS, STREET_SCORES, category_knn, scores_at_k
from .eval_street import street_garments
from core.records import CATEGORIES

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------- embeddings

def catalog_features(embedder, items: Sequence[CatalogItem], cache_dir: Optional[Path],
                     batch: int = 64, catalog=None) -> tuple[np.ndarray, list[Image.Image]]:
    """Backbone features of catalog images, and the images.

    Features come from the catalog's store (what `lookbot index` kept), then from an .npz cache
    in `cache_dir`, and only then from the CNN.
    """
    images = [load_rgb_file(it.file) or Image.new("RGB", (60, 80), "white") for it in items]
    key = getattr(embedder, "features_key", embedder.backbone_version)
    cache = Path(cache_dir) / f"catalog-features-{key}.npz" if cache_dir else None
    known: dict[str, np.ndarray] = {}
    if cache and cache.exists():
        with np.load(cache) as z:
            known = dict(zip(z["ids"].tolist(), z["feats"]))
    store_version = getattr(embedder, "features_version", None)
    if catalog is not None and store_version:
        shas = sorted({it.sha1 for it in items if it.sha1 and it.id not in known})
        stored = catalog.get_embeddings(shas, store_version) if shas else {}
        known.update({it.id: stored[it.sha1] for it in items if it.sha1 in stored})
        log.info("eval: %d of %d catalog features from the store", len(stored), len(items))
    todo = [i for i, it in enumerate(items) if it.id not in known]
    if todo:
        from tqdm import tqdm

        for s in tqdm(range(0, len(todo), batch), desc="catalog features", unit="batch",
                      disable=len(todo) < 2 * batch):
            idx = todo[s:s + batch]
            feats = embedder.backbone_features([images[i] for i in idx])
            known.update({items[i].id: f for i, f in zip(idx, feats)})
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            ids = sorted(known)
            np.savez(cache, ids=np.array(ids), feats=np.stack([known[i] for i in ids]))
    return np.stack([known[it.id] for it in items]).astype(np.float32), images


def embedding_variants(embedder) -> dict[str, Callable]:
    """'backbone' (ImageNet features only) and, when a head is loaded, 'head' (what look uses)."""
    from core.embed import l2_normalise

    out: dict[str, Callable] = {"backbone": lambda feats, crops: l2_normalise(feats)}
    if embedder.head is not None:
        out["head"] = lambda feats, crops: embedder.from_features(feats, crops)
    return out


# ------------------------------------------------------------------------------- search

def _category_knn(vectors: np.ndarray, cats: Sequence[str], qvec: np.ndarray,
                  qcats: Sequence[str], k: int, qself: Optional[Sequence[int]] = None,
                  items: Optional[Sequence["CatalogItem"]] = None, rerank_weight: float = 0.0
                  ) -> list[list[int]]:
    """Nearest gallery rows of each query's own category (global row numbers).

    With `rerank_weight` > 0 the nearest 50 are re-ordered by their labels' vote, as
    `Engine.search` does (core/rerank.py), before the first `k` are kept.
    """
    if rerank_weight > 0 and items is not None:
        from core.pipeline import RERANK_WINDOW
        from core.rerank import Candidate, rerank

        wide = category_knn(vectors, cats, qvec, qcats, max(k, RERANK_WINDOW), qself)
        out = []
        for q, row in zip(qvec, wide):
            dists = np.linalg.norm(vectors[row] - q, axis=1) if row else []
            cands = [Candidate(str(j), float(d), {"article_type": items[j].article_type,
                                                  "colour": items[j].colour,
                                                  "gender": items[j].gender})
                     for j, d in zip(row, dists)]
            out.append([int(c.key) for c in rerank(cands, weight=rerank_weight,
                                                   window=RERANK_WINDOW)[:k]])
        return out
    return category_knn(vectors, cats, qvec, qcats, k, qself)


# ------------------------------------------------------------------------------- the evaluation

def eval_retrieval(engine, config: Config, out_dir: Path, ccp_dir: Path, catalog_dir: Path,
                   limit: Optional[int], parts: Sequence[str], k: int) -> dict[str, Any]:
    from core.crops import crop
    from core.segment import mask_for

    items = catalog_items_from_db(engine.catalog)
    source = str(config.catalog_path)
    if not items:
        csv_path = catalog_dir / "products.csv"
        items, source = load_catalog_items(csv_path), str(csv_path)
    held, split = held_out_ids(config.models_dir)
    if limit is not None:  # a small gallery: `limit` queries and 20 * limit items a category
        per_cat: dict[str, int] = Counter()
        per_query: dict[str, int] = Counter()
        small = []
        for it in items:
            if (held is None or it.id in held) and per_query[it.category] < limit:
                per_query[it.category] += 1
                small.append(it)
            elif per_cat[it.category] < 20 * limit:
                small.append(it)
                per_cat[it.category] += 1
        items = small
    log.info("eval: %d catalog images", len(items))
    feats, images = catalog_features(engine.embedder, items,
                                     None if limit is not None else out_dir / "cache",
                                     catalog=engine.catalog)
    variants = embedding_variants(engine.embedder)
    gallery = {v: fn(feats, images) for v, fn in variants.items()}
    cats = [it.category for it in items]
    out: dict[str, Any] = {}
    sheet_rows: list = []
    runs = {v: (v, 0.0) for v in variants}
    if config.rerank_weight > 0:
        base = "head" if "head" in variants else "backbone"
        runs[f"{base}+rerank"] = (base, config.rerank_weight)
    # the variant `look` uses: the head, re-ranked when re-ranking is on
    best = list(runs)[-1]

    if "catalog" in parts:
        qidx = [i for i, it in enumerate(items) if held is None or it.id in held]
        if limit is not None:
            by_cat: dict[str, list[int]] = defaultdict(list)
            for i in qidx:
                by_cat[items[i].category].append(i)
            qidx = [i for c in CATEGORIES for i in by_cat[c][:limit]]
        res: dict[str, Any] = {"split": split, "catalog": source, "n_queries": len(qidx),
                               "n_gallery": len(items),
                               "k": k, "variants": {}}
        for v, (gkey, weight) in runs.items():
            vecs = gallery[gkey]
            nn = _category_knn(vecs, cats, vecs[qidx], [cats[i] for i in qidx], k, qself=qidx,
                               items=items, rerank_weight=weight)
            q = [items[i] for i in qidx]
            r = [[items[j] for j in row] for row in nn]
            fig = {**scores_at_k(q, r, k, CATALOG_SCORES), "per_category": {}}
            per_category = {m: CATALOG_SCORES[m] for m in ("p5_article_type", "p5_colour")}
            for c in CATEGORIES:
                sel = [j for j, x in enumerate(q) if x.category == c]
                if sel:
                    fig["per_category"][c] = {"n": len(sel), **scores_at_k(
                        [q[j] for j in sel], [r[j] for j in sel], k, per_category)}
            fig["goal_met"] = {m: None if fig[m] is None else fig[m] >= GOALS[m]
                               for m in ("p5_article_type", "p5_colour", "p5_gender")}
            res["variants"][v] = fig
            if v == best:
                for j in range(0, len(q), max(1, len(q) // 4))[:4]:
                    sheet_rows.append((images[qidx[j]], f"{q[j].article_type}\n{q[j].colour}",
                                       [(images[items.index(y)], f"{y.article_type}\n{y.colour}")
                                        for y in r[j]]))
        res["default_variant"] = best
        out["catalog"] = res

    if "street" in parts:
        photos, street_split = detector_val_photos(config.models_dir, ccp_dir)
        garments = street_garments(ccp_dir, limited(photos, limit))
        crops: list[Image.Image] = []
        owner: list[int] = []
        segments: dict[str, list] = {}  # the engine's garment masks, once per photo (none without a segmenter)
        for gi, g in enumerate(progress(garments, "street crops")):
            photo = engine.decode((ccp_dir / "photos" / g.image).read_bytes())
            if g.image not in segments:
                segments[g.image] = engine.segment_photo(photo)
            for b in g.boxes:
                box = tuple(v / photo.scale for v in b)
                crops.append(crop(photo, box, mask=mask_for(segments[g.image], g.category, box),
                                  whiten=config.segmenter_cut == "white"))
                owner.append(gi)
        qfeats = np.concatenate([engine.embedder.backbone_features(crops[s:s + 32])
                                 for s in range(0, len(crops), 32)]) if crops else \
            np.zeros((0, feats.shape[1]), np.float32)
        res = {"photos": street_split, "n_photos": len({g.image for g in garments}),
               "segmenter": getattr(engine.segmenter, "name", None),
               "n_queries": len(garments), "k": k,
               "query_families": dict(Counter(g.family for g in garments).most_common()),
               "variants": {}}
        owner_arr = np.array(owner)
        for v, (gkey, weight) in runs.items():
            per_crop = variants[gkey](qfeats, crops) if len(crops) else qfeats
            qvec = np.stack([per_crop[owner_arr == gi].mean(0) for gi in range(len(garments))]) \
                if garments else np.zeros((0, gallery[gkey].shape[1]), np.float32)
            qvec = qvec / np.maximum(np.linalg.norm(qvec, axis=1, keepdims=True), 1e-12)
            nn = _category_knn(gallery[gkey], cats, qvec, [g.category for g in garments], k,
                               items=items, rerank_weight=weight)
            r = [[items[j] for j in row] for row in nn]
            fig = {**scores_at_k(garments, r, k, STREET_SCORES), "per_category": {}}
            for c in CATEGORIES:
                sel = [j for j, g in enumerate(garments) if g.category == c]
                if sel:
                    fig["per_category"][c] = {"n": len(sel), **scores_at_k(
                        [garments[j] for j in sel], [r[j] for j in sel], k, STREET_SCORES)}
            cf5 = fig["colour_family_at5"]
            fig["goal_met"] = {"street_colour_family_at5": None if cf5 is None
                               else cf5 >= GOALS["street_colour_family_at5"]}
            res["variants"][v] = fig
            if v == best:
                first_crop = {gi: crops[owner.index(gi)] for gi in range(len(garments))}
                step = max(1, len(garments) // 10)
                for j in range(0, len(garments), step)[:10]:
                    g = garments[j]
                    sheet_rows.append((first_crop[j], f"{g.ccp_label}\n{g.family}/{g.colour}",
                                       [(images[items.index(y)], f"{y.article_type}\n{y.colour}")
                                        for y in r[j]]))
        res["default_variant"] = best
        out["street"] = res
        from .eval_picks import eval_picks

        out["street_picks"] = eval_picks(
            engine, config, ccp_dir, items, gallery[runs[best][0]], limited(photos, limit), k,
            cache_dir=None if limit is not None else REPO_ROOT / "runs" / "street",
            sheet=out_dir / "street_picks.png")

    if sheet_rows:
        path = contact_sheet(sheet_rows, out_dir / "contact_sheet.png")
        out["contact_sheet"] = str(path)
    return out

