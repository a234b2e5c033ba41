"""Street-to-shop figures of the look engine with its crops cut by box alone and by the segmenter's mask.

Both variants in one run, on the CCP validation photos (`lookbot eval`'s street garments and scores),
against the catalog vectors `lookbot index` stored (the engine's own embedding, so no catalog image is
embedded again), re-ranked as look re-ranks. Usage:

    python scripts/eval_masks.py [--limit PHOTOS] [--out masks.json]
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from core.catalog_items import catalog_items_from_db
from core.config import SHARED_CCP, Config
from core.crops import crop
from core.pipeline import Engine
from core.records import CATEGORIES
from core.segment import mask_for
from measure.eval_data import detector_val_photos, limited, progress
from measure.eval_metrics import STREET_SCORES, scores_at_k
from measure.eval_retrieval import _category_knn
from measure.eval_street import street_garments

log = logging.getLogger("eval_masks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N validation photos")
    parser.add_argument("--out", default=None, help="write the figures here as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = Config()
    engine = Engine(config, load_index=False)
    if engine.segmenter is None:
        raise SystemExit("no segmenter: train it with `lookbot train-segmenter`")
    items = catalog_items_from_db(engine.catalog)
    stored = engine.catalog.get_embeddings(sorted({it.sha1 for it in items if it.sha1}), engine.embedder.version)
    items = [it for it in items if it.sha1 in stored]
    gallery = np.stack([stored[it.sha1] for it in items])
    gallery /= np.maximum(np.linalg.norm(gallery, axis=1, keepdims=True), 1e-12)
    cats = [it.category for it in items]
    photos, split = detector_val_photos(config.models_dir, SHARED_CCP)
    garments = street_garments(SHARED_CCP, limited(photos, args.limit))
    decoded, segments, seg_s = {}, {}, []
    for g in garments:
        if g.image not in decoded:
            decoded[g.image] = engine.decode((SHARED_CCP / "photos" / g.image).read_bytes())
            t = time.perf_counter()
            segments[g.image] = engine.segment_photo(decoded[g.image])
            seg_s.append(time.perf_counter() - t)
    out = {"photos": split, "n_photos": len(decoded), "n_queries": len(garments), "gallery": len(items),
           "embedding": engine.embedder.version, "segmenter": engine.segmenter.name,
           "segmenter_imgsz": engine.segmenter.imgsz,
           "segment_ms_p50": round(float(np.median(seg_s)) * 1000, 1), "variants": {}}
    # box: the plain crop; mask: cut out, white around; mask-colour: plain pixels, the mask for colour only
    for variant in ("box", "mask", "mask-colour"):
        crops, owner, masked = [], [], 0
        for gi, g in enumerate(progress(garments, f"{variant} crops")):
            photo = decoded[g.image]
            for b in g.boxes:
                box = tuple(v / photo.scale for v in b)
                mask = mask_for(segments[g.image], g.category, box) if variant != "box" else None
                masked += mask is not None
                crops.append(crop(photo, box, mask=mask, whiten=variant == "mask"))
                owner.append(gi)
        per_crop = np.concatenate([engine.embedder.embed(crops[s:s + 32]) for s in range(0, len(crops), 32)])
        owner_arr = np.array(owner)
        qvec = np.stack([per_crop[owner_arr == gi].mean(0) for gi in range(len(garments))])
        qvec /= np.maximum(np.linalg.norm(qvec, axis=1, keepdims=True), 1e-12)
        nn = _category_knn(gallery, cats, qvec, [g.category for g in garments], 5, items=items,
                           rerank_weight=config.rerank_weight)
        results = [[items[j] for j in row] for row in nn]
        fig = {**scores_at_k(garments, results, 5, STREET_SCORES), "crops": len(crops), "masked_crops": masked,
               "per_category": {}}
        for c in CATEGORIES:
            sel = [j for j, g in enumerate(garments) if g.category == c]
            if sel:
                fig["per_category"][c] = {"n": len(sel), **scores_at_k(
                    [garments[j] for j in sel], [results[j] for j in sel], 5, STREET_SCORES)}
        out["variants"][variant] = fig
        log.info("%s: %s", variant, {k: v for k, v in fig.items() if k != "per_category"})
    text = json.dumps(out, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
