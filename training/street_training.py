"""`lookbot train-street`: the street model (core/street.py) from CCP train photos.

Four linear models on the street crops of training/street_data.py, fitted with L-BFGS and an L2
penalty: the garment's CCP label and its colour family (the family of its mask pixels), and the
wearer's gender from each garment and from the person box. Photo-grouped 5-fold cross-validation
on the train photos gives out-of-fold predictions, which fit the vote's weights and choose the
thresholds (the unsure band of the wearer, and when a type or colour is sure enough to filter).
The detector's validation photos are never read here: `lookbot eval` measures on them.
"""
from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from core.ccp_types import PLAUSIBLE_TYPES, type_plausibility
from core.colour_names import COLOUR_FAMILIES
from core.config import Config
from core.garment_geometry import geometry_inputs
from core.gate import PoseGate
from core.street import FORMAT, STREET_FILE, load_street_model
from .linear_models import fit_softmax, folds_of, out_of_fold, softmax
from .street_data import CCP_DIR, build_head_set, build_street_set, read_wearers

log = logging.getLogger(__name__)

FAMILIES = sorted(set(COLOUR_FAMILIES.values()))
MIN_LABEL_COUNT = 5  # rarer CCP labels are left out of the type model
COLOUR_L2 = 1e-3  # out of fold on the train photos: 0.815 at 1e-3, 0.801 at 3e-3, 0.763 at 1e-2
# The type model's L2 and the geometry inputs' scale against it, chosen on the street picks of
# out-of-fold predictions for the train photos (docs/MEASUREMENTS.md, "Street picks"): topwear
# type@5 0.700 at 1e-2 and x3, 0.716 at 1e-1 and x3, 0.726 at 1e-1 and x6, 0.725 at 1e-1 and x10
TYPE_L2 = 1e-1
GEOMETRY_SCALE = 6.0
# The likeliest type filters the search when at least this plausible, and a colour family when at
# least this likely (core/street.py, core/rerank.py), chosen by the picks of out-of-fold
# predictions on the train photos (docs/MEASUREMENTS.md, "Street picks"): the likeliest type
# always (floors up to 0.45 pick the same products), where every type from 0.5 did before.
TYPE_SURE = 0.0
COLOUR_SURE = 0.3


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _restricted(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Softmax over each row's allowed classes (its category's labels)."""
    return softmax(np.where(allowed, logits, -1e9))


def train_street(config: Config, ccp_dir: Path = CCP_DIR, l2: float = 3e-3,
                 limit: Optional[int] = None, cache_dir: Optional[Path] = None
                 ) -> dict[str, Any]:
    """Fit the street model on CCP train photos; write it and its report to models_dir."""
    from core.config import REPO_ROOT
    from core.embed import Embedder
    from .ccp_dataset import load_split

    start = time.perf_counter()
    embedder = Embedder.from_config(config, head=False)
    photos = sorted(load_split(config.models_dir)["train"])[:limit]
    from core.segment import Segmenter

    # the garments as `look` embeds them: the segmenter's white cut-outs when it is on
    segmenter = Segmenter.from_config(config) if config.segmenter_cut == "white" else None
    data = build_street_set(embedder, config, photos, ccp_dir,
                            cache_dir=cache_dir or REPO_ROOT / "runs" / "street",
                            segmenter=segmenter)
    wearers = read_wearers(ccp_dir)
    unit = _unit(data.feats)
    mean, std = unit.mean(0), unit.std(0) + 1e-6
    x = np.concatenate([(unit - mean) / std, data.colour], axis=1)
    geo_mean, geo_std = data.geometry.mean(0), data.geometry.std(0) + 1e-6
    xt = np.concatenate([x, geometry_inputs(data.geometry, geo_mean, geo_std, GEOMETRY_SCALE)],
                        axis=1)
    fold = folds_of(data.images)
    groups = np.array([fold[im] for im in data.images])
    report: dict[str, Any] = {"photos": len(photos), "garments": len(data.images), "l2": l2,
                              "type_l2": TYPE_L2,
                              "crops": "segmenter cut-outs" if segmenter is not None else "boxes",
                              "backbone": embedder.backbone_version, "features": embedder.features_key,
                              "split": "detector_split.json:train"}

    # --- the garment's CCP label ---
    counts = Counter(data.labels)
    labels = sorted(lab for lab, n in counts.items() if n >= MIN_LABEL_COUNT and lab in PLAUSIBLE_TYPES)
    label_category = [next(c for lab2, c in zip(data.labels, data.categories) if lab2 == lab)
                      for lab in labels]
    rows = np.array([i for i, lab in enumerate(data.labels) if lab in labels])
    y = np.array([labels.index(data.labels[i]) for i in rows])
    fit_t = lambda xx, yy: fit_softmax(xx, yy, len(labels), TYPE_L2)
    pred = lambda m, xx: xx @ m[0].T + m[1]
    oof = out_of_fold(xt[rows], y, groups[rows], fit_t, pred)
    allowed = np.array([[lc == data.categories[i] for lc in label_category] for i in rows])
    probs = _restricted(oof, allowed)
    plaus = [type_plausibility(dict(zip(labels, p))) for p in probs]
    top = [max(pl, key=pl.get) for pl in plaus]
    conf = np.array([pl[t] for pl, t in zip(plaus, top)])
    right = np.array([t in PLAUSIBLE_TYPES[data.labels[i]] for t, i in zip(top, rows)], float)
    type_sure = TYPE_SURE
    report["type"] = {"labels": dict(Counter(labels[v] for v in y)), "oof_label_accuracy":
                      round(float((probs.argmax(1) == y).mean()), 4),
                      "oof_top_type_plausible": round(float(right.mean()), 4),
                      "sure_threshold": round(type_sure, 4),
                      "sure_share": round(float((conf >= type_sure).mean()), 4),
                      "sure_precision": round(float(right[conf >= type_sure].mean()), 4),
                      "per_category": {c: round(float(right[[data.categories[i] == c for i in rows]].mean()), 4)
                                       for c in sorted(set(label_category))}}

    # --- the garment's colour family (from its mask) ---
    crow = np.array([i for i, f in enumerate(data.families) if f in FAMILIES])
    yc = np.array([FAMILIES.index(data.families[i]) for i in crow])
    fit_c = lambda xx, yy: fit_softmax(xx, yy, len(FAMILIES), COLOUR_L2)
    oof_c = softmax(out_of_fold(data.colour[crow], yc, groups[crow], fit_c, pred))
    cright = (oof_c.argmax(1) == yc).astype(float)
    colour_sure = COLOUR_SURE
    csure = oof_c.max(1) >= colour_sure
    report["colour"] = {"oof_accuracy": round(float(cright.mean()), 4),
                        "sure_threshold": round(colour_sure, 4),
                        "sure_share": round(float(csure.mean()), 4),
                        "sure_precision": round(float(cright[csure].mean()), 4)}

    # --- the wearer: each garment, the person box, the head box, and their vote ---
    from .wearer_training import fit_wearer

    heads = build_head_set(PoseGate(), embedder, config, photos, ccp_dir,
                           cache_dir=cache_dir or REPO_ROOT / "runs" / "street")
    wearer_weights, wearer_meta, report["wearer"] = fit_wearer(
        data, heads, x, mean, std, wearers, fold, l2)

    # --- final models on every train photo ---
    state = {"format": FORMAT, "mean": torch.from_numpy(mean.astype(np.float32)),
             "std": torch.from_numpy(std.astype(np.float32)), "weights": {}}
    for name, (w, b) in {"type": fit_t(xt[rows], y), "colour": fit_c(data.colour[crow], yc),
                         **wearer_weights}.items():
        state["weights"][f"{name}.weight"] = torch.from_numpy(w).half()
        state["weights"][f"{name}.bias"] = torch.from_numpy(b).float()
    state["shape_mean"] = torch.from_numpy(wearer_meta.pop("shape_mean"))
    state["shape_std"] = torch.from_numpy(wearer_meta.pop("shape_std"))
    state["geo_mean"] = torch.from_numpy(geo_mean.astype(np.float32))
    state["geo_std"] = torch.from_numpy(geo_std.astype(np.float32))
    state["meta"] = {"labels": labels, "label_category": label_category, "families": FAMILIES,
                     **wearer_meta,
                     "type_sure": type_sure, "colour_sure": colour_sure,
                     "geometry_scale": GEOMETRY_SCALE,
                     "backbone": embedder.backbone_version, "features": embedder.features_key,
                     "l2": l2}
    path = config.models_dir / STREET_FILE
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    load_street_model(path, embedder.backbone.dim)  # it must load as the engine loads it
    report["seconds"] = round(time.perf_counter() - start, 1)
    report["file"] = path.name
    (config.models_dir / "street_report.json").write_text(json.dumps(report, indent=1))
    return report
