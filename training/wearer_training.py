"""The wearer part of `lookbot train-street`: who wears the outfit, women or men.

Three linear models, each fitted with balanced class weights (CCP's train photos are 85% women;
the bot's users need not be): every garment crop, the person box (the union of the garments),
and the head box from the gate's pose with the body's proportions. Their out-of-fold log-odds
are combined by a fitted vote (core.street.vote), and the unsure band is where neither side
reaches WEARER_PRECISION out of fold.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from core.street import vote
from .linear_models import balanced, fit_softmax, out_of_fold, sure_threshold
from .street_data import HeadSet, StreetSet, unit_rows

WEARER_PRECISION = 0.95  # each side of the wearer's unsure band


def fit_wearer(data: StreetSet, heads: HeadSet, x: np.ndarray, mean: np.ndarray, std: np.ndarray,
               wearers: dict[str, str], fold: dict[str, int], l2: float
               ) -> tuple[dict[str, tuple], dict[str, Any], dict[str, Any]]:
    """(final linear models, meta for the model file, report) of the wearer."""
    known = lambda im: wearers.get(im) in ("women", "men")
    fit = lambda xx, yy: fit_softmax(xx, yy, 1, l2, balanced(yy))
    pred = lambda m, xx: xx @ m[0][0] + m[1][0]
    # each garment
    grow = np.array([i for i, im in enumerate(data.images) if known(im)])
    yg = np.array([wearers[data.images[i]] == "women" for i in grow], dtype=np.float32)
    oof_g = out_of_fold(x[grow], yg, np.array([fold[data.images[i]] for i in grow]), fit, pred)
    by_photo: dict[str, list[float]] = {}
    for i, z in zip(grow, oof_g):
        by_photo.setdefault(data.images[i], []).append(float(z))
    # the person box
    prow = np.array([i for i, im in enumerate(data.person_images) if known(im)])
    pimg = [data.person_images[i] for i in prow]
    yp = np.array([wearers[im] == "women" for im in pimg], dtype=np.float32)
    px = (unit_rows(data.person_feats[prow]) - mean) / std
    pfold = np.array([fold.get(im, 0) for im in pimg])
    oof_p = out_of_fold(px, yp, pfold, fit, pred)
    # the head box and the body's proportions, where the pose was found
    hpos = {im: i for i, im in enumerate(heads.images)}
    smean = heads.shape[heads.found].mean(0)
    sstd = heads.shape[heads.found].std(0) + 1e-6
    hrow = [j for j, im in enumerate(pimg) if im in hpos and heads.found[hpos[im]]]
    hx = np.array([np.concatenate([(unit_rows(heads.feats[hpos[pimg[j]]][None])[0] - mean) / std,
                                   (heads.shape[hpos[pimg[j]]] - smean) / sstd]) for j in hrow])
    oof_h = np.full(len(pimg), np.nan, np.float32)
    oof_h[hrow] = out_of_fold(hx, yp[hrow], pfold[hrow], fit, pred)
    # the vote: fitted on the out-of-fold log-odds (a missing head adds 0)
    g_mean = np.array([np.mean(by_photo.get(im, [0.0])) for im in pimg])
    z3 = np.stack([g_mean, oof_p, np.nan_to_num(oof_h)], axis=1)
    wv, bv = fit_softmax(z3, yp, 1, 1e-4, balanced(yp))
    weights = (float(wv[0][0]), float(wv[0][1]), float(wv[0][2]), float(bv[0]))
    head = lambda j: None if np.isnan(oof_h[j]) else float(oof_h[j])
    p_women = np.array([vote(by_photo.get(im, []), float(oof_p[j]), head(j), weights)
                        for j, im in enumerate(pimg)])
    high = max(0.5, sure_threshold(p_women, yp, WEARER_PRECISION))
    low = min(0.5, 1.0 - sure_threshold(1.0 - p_women, 1.0 - yp, WEARER_PRECISION))
    women, men = yp == 1, yp == 0
    sig = lambda z: 1 / (1 + np.exp(-z))
    bal = lambda s, sel=slice(None): round(float(0.5 * ((s[sel][women[sel]] >= 0.5).mean()
                                                        + (s[sel][men[sel]] < 0.5).mean())), 4)
    acc = lambda s: round(float(((s >= 0.5) == yp).mean()), 4)
    report = {
        "photos": {"women": int(women.sum()), "men": int(men.sum()),
                   "pose_found": len(hrow)},
        "vote_weights": [round(w, 4) for w in weights],
        "thresholds": [round(low, 4), round(high, 4)],
        "oof_balanced_accuracy": {"garment_vote": bal(sig(g_mean)), "person_box": bal(sig(oof_p)),
                                  "head_box": bal(sig(np.nan_to_num(oof_h)), np.array(hrow)),
                                  "vote": bal(p_women)},
        "oof_accuracy": {"vote": acc(p_women)},
        "unsure_share": round(float(((p_women > low) & (p_women < high)).mean()), 4)}
    models = {"garment_gender": fit(x[grow], yg), "person_gender": fit(px, yp),
              "head_gender": fit(hx, yp[hrow])}
    # the vote's P(women) is fitted with both genders weighted alike: with the train photos' mix
    # of women and men, the chance that the wearer is a woman passes one half at their share of men
    lean = float(men.sum() / len(yp))
    report["leaning_from"] = round(lean, 4)
    meta = {"vote_weights": list(weights), "gender_thresholds": [low, high], "gender_leaning": lean,
            "shape_mean": smean.astype(np.float32), "shape_std": sstd.astype(np.float32)}
    return models, meta, report
