"""`lookbot eval`'s street picks: are the shown products for this wearer, of this type and colour?

On the CCP validation photos (the street model never trained on them), each garment (one CCP label
cut by its box; both shoes together) queries the catalog as `look` does, with the wearer's
gender inferred from the garments, the person box and the head box of the gate's pose, and its
top k are scored:

- gender@k: the share of products for the wearer's gender or Unisex (wearer.csv; photos marked
  unsure are left out; Boys and Girls products count as wrong for these adults);
- type@k: the share whose article type is plausible for its CCP label (core/ccp_types.py);
- colour@k: the share whose colour family is its mask's (core/colour_names.py).

Each goal's figure of the `street` variant comes with a 95% interval from resampling the photos
(1,000 bootstrap draws, seed 0): garments of one photo share a wearer and a light, so the photo
is the unit. On 159 photos topwear type@5 spans about +-0.06, so a change of 0.02 there is not
a finding by itself.

Variants, measured in one run on the same garments: `today` (gender any, no street model: the
engine before issue 14), `gender` (the wearer's inferred gender only) and `street` (inferred
gender and the type/colour hints: what `look` serves now). The search is exact within each
category and gender scope, then re-ranked by core/rerank.py as `Engine.search` re-ranks.
A garment's vector is the head's projection of its crops' mean features (the engine averages the
projected vectors of the two shoes instead). Garments are the segmenter's white cut-outs when
`look` uses them, else their boxes.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from core.ccp_types import plausible
from core.colour_names import colour_family
from core.index import GENDER_SCOPES
from core.records import CATEGORIES

log = logging.getLogger(__name__)

WEARER_GENDER = {"women": ("Women", "Unisex"), "men": ("Men", "Unisex")}
VARIANTS = ("today", "gender", "street")
GOALS = {"gender_at5": 0.95, "type_at5": 0.85, "type_at5_topwear": 0.75, "colour_at5": 0.80}
BOOTSTRAP_DRAWS = 1000


def photo_interval(values: Sequence[float], photos: Sequence[str], draws: int = BOOTSTRAP_DRAWS,
                   seed: int = 0) -> Optional[list[float]]:
    """The 2.5th and 97.5th percentiles of the mean of `values` over photos drawn with
    replacement (each value belongs to the photo at the same place in `photos`)."""
    if not len(values):
        return None
    names = sorted(set(photos))
    where = {im: i for i, im in enumerate(names)}
    owner = np.array([where[im] for im in photos])
    sums = np.bincount(owner, weights=np.asarray(values, float), minlength=len(names))
    counts = np.bincount(owner, minlength=len(names)).astype(float)
    draw = np.random.default_rng(seed).integers(0, len(names), (draws, len(names)))
    means = sums[draw].sum(1) / np.maximum(counts[draw].sum(1), 1)
    return [round(float(q), 4) for q in np.percentile(means, [2.5, 97.5])]


def _mean(values: Sequence[float]) -> Optional[float]:
    return round(float(np.mean(values)), 4) if len(values) else None


def eval_picks(engine, config, ccp_dir: Path, items: Sequence, gallery: np.ndarray,
               photos: Sequence[str], k: int = 5, cache_dir: Optional[Path] = None,
               sheet: Optional[Path] = None) -> dict[str, Any]:
    """The street picks part: figures per variant, overall and per category; with `sheet`, a
    picture of some garments' picks there (measure/picks_sheet.py)."""
    from core.pipeline import RERANK_WINDOW, STREET_WINDOW
    from core.rerank import Candidate, rerank
    from core.street import resolve_gender
    from core.garment_geometry import outfit_box
    from training.street_data import (build_head_set, build_street_set, labelled_boxes,
                                      read_wearers)

    from .contact_sheets import draw_picks, sheet_rows

    segmenter = engine.segmenter if config.segmenter_cut == "white" else None
    data = build_street_set(engine.embedder, config, photos, ccp_dir, cache_dir=cache_dir,
                            segmenter=segmenter)  # garments cut out as `look` cuts them
    wearers = read_wearers(ccp_dir)
    model = engine.street
    vectors = engine.embedder.from_features(data.feats, colour=data.colour)
    cats = np.array([it.category for it in items])
    genders = np.array([it.gender or "Unisex" for it in items])
    person = {im: data.person_feats[i] for i, im in enumerate(data.person_images)}
    by_photo: dict[str, list[int]] = defaultdict(list)
    for i, im in enumerate(data.images):
        by_photo[im].append(i)
    calls, hints = {}, [None] * len(data.images)
    if model is not None:
        heads = build_head_set(engine.gate, engine.embedder, config, photos, ccp_dir,
                               cache_dir=cache_dir)
        head = {im: (f, sh) for im, f, sh, ok in zip(heads.images, heads.feats, heads.shape,
                                                     heads.found) if ok}
        for im, rows in by_photo.items():
            hf, shape = head.get(im, (None, None)) if model.uses("head") else (None, None)
            calls[im] = model.wearer(data.feats[rows], data.colour[rows],
                                     person.get(im) if model.uses("person") else None, hf, shape)
            for r, h in zip(rows, model.articles(data.feats[rows], data.colour[rows],
                                                 [data.categories[r] for r in rows],
                                                 data.geometry[rows])):
                hints[r] = h
    weight = config.rerank_weight
    drawn = set(sheet_rows(list(zip(data.images, data.categories)))) if sheet else set()
    sheet_cells = []
    scores: dict[str, dict[str, dict[str, list[float]]]] = {
        v: defaultdict(lambda: defaultdict(list)) for v in VARIANTS}
    owners: dict[str, dict[str, dict[str, list[str]]]] = {  # the photo of each score
        v: defaultdict(lambda: defaultdict(list)) for v in VARIANTS}
    for i, im in enumerate(data.images):
        truth = wearers.get(im)
        for v in VARIANTS if model is not None else ("today",):
            choice = "any" if v == "today" else "auto"
            gender, unisex_first, _ = resolve_gender(choice, calls.get(im))
            hint = hints[i] if v == "street" else None
            if hint is not None:
                hint.unisex_first = unisex_first
            rows = np.where((cats == data.categories[i])
                            & np.isin(genders, GENDER_SCOPES[gender]))[0]
            if len(rows) == 0:
                continue
            d = np.linalg.norm(gallery[rows] - vectors[i] / max(np.linalg.norm(vectors[i]), 1e-12),
                               axis=1)
            window = STREET_WINDOW if hint is not None else RERANK_WINDOW
            near = np.argsort(d, kind="stable")[:max(window, k)]
            cands = [Candidate(str(rows[j]), float(d[j]), {
                "article_type": items[rows[j]].article_type, "colour": items[rows[j]].colour,
                "gender": items[rows[j]].gender}) for j in near]
            top = [items[int(c.key)] for c in rerank(cands, weight=weight, window=window,
                                                       hint=hint)[:k]]
            if v == "street" and i in drawn:
                call = calls.get(im)
                sheet_cells.append((im, data.labels[i], f"{data.labels[i]}\n" + (
                    f"{call.gender} {call.p_women:.2f}" if call else ""), [
                    (p.file, f"{p.article_type}\n{p.gender} {p.colour}",
                     plausible(data.labels[i], p.article_type)) for p in top]))
            for key in ("all", data.categories[i]):
                s, o = scores[v][key], owners[v][key]
                if truth in WEARER_GENDER:
                    s["gender_at5"].append(sum(p.gender in WEARER_GENDER[truth] for p in top) / k)
                    o["gender_at5"].append(im)
                s["type_at5"].append(sum(plausible(data.labels[i], p.article_type)
                                         for p in top) / k)
                o["type_at5"].append(im)
                if data.families[i]:
                    s["colour_at5"].append(sum(colour_family(p.colour) == data.families[i]
                                               for p in top) / k)
                    o["colour_at5"].append(im)
    out: dict[str, Any] = {"n_photos": len(by_photo), "n_garments": len(data.images), "k": k,
                           "wearers": dict(Counter(wearers.get(im, "unknown") for im in by_photo)),
                           "goals": GOALS, "variants": {}}
    for v, per in scores.items():
        if not per:
            continue
        fig = {m: _mean(per["all"][m]) for m in ("gender_at5", "type_at5", "colour_at5")}
        fig["per_category"] = {c: {"n": len(per[c]["type_at5"]),
                                   **{m: _mean(per[c][m]) for m in ("gender_at5", "type_at5",
                                                                     "colour_at5")}}
                               for c in CATEGORIES if per[c]["type_at5"]}
        top = fig["per_category"].get("topwear", {}).get("type_at5")
        fig["goal_met"] = {"gender_at5": _met(fig["gender_at5"], GOALS["gender_at5"]),
                           "type_at5": _met(fig["type_at5"], GOALS["type_at5"]),
                           "type_at5_topwear": _met(top, GOALS["type_at5_topwear"]),
                           "colour_at5": _met(fig["colour_at5"], GOALS["colour_at5"])}
        if v == VARIANTS[-1]:  # what `look` serves: how far the photos' sampling moves it
            fig["interval95"] = {
                goal: photo_interval(per[key][m], owners[v][key][m])
                for goal, key, m in (("gender_at5", "all", "gender_at5"), ("type_at5", "all", "type_at5"),
                                     ("type_at5_topwear", "topwear", "type_at5"),
                                     ("colour_at5", "all", "colour_at5"))}
        out["variants"][v] = fig
    if calls:
        out["wearer_calls"] = _wearer_table(calls, wearers)
    if sheet_cells:
        boxes = labelled_boxes(ccp_dir, sorted({c[0] for c in sheet_cells}))
        out["contact_sheet"] = str(draw_picks(
            [(im, outfit_box(boxes[(im, label)]), caption, picks)
             for im, label, caption, picks in sheet_cells], ccp_dir, sheet))
    return out


def _met(value: Optional[float], goal: float) -> Optional[bool]:
    return None if value is None else value >= goal


def _wearer_table(calls: dict, wearers: dict[str, str]) -> dict[str, dict[str, int]]:
    """{labelled wearer: {inferred gender: photos}}, unsure labels included for information."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for im, call in calls.items():
        table[wearers.get(im, "unknown")][call.gender] += 1
    return {t: dict(row) for t, row in table.items()}
