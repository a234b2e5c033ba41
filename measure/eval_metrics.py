"""The measures of `lookbot eval`: pure functions with known answers, and the goals they meet.

Confusion matrix and per-class recall (the gate), all-point AP and detection mAP (the detector),
exact nearest neighbours and P@k (retrieval). Their definitions are written down in
measure/evaluate.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .eval_labels import colour_family, plausible, same_gender_group
from core.fusion import box_iou
from core.records import CATEGORIES, Box

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))

# Goals from the issues, so every report says met / not met next to the figure.
GOALS: dict[str, float] = {
    "gate_fullshot_pass": 0.97, "gate_not_fullshot_reject": 0.97,
    "map50_topwear": 0.85, "map50_bottomwear": 0.85, "map50_footwear": 0.85,
    "map50_eyewear": 0.70, "map50_handbag": 0.70, "shown_precision": 0.85,
    "p5_article_type": 0.80, "p5_colour": 0.65, "p5_gender": 0.92,
    "street_colour_family_at5": 0.60,
}


def rounded(v: Optional[float], nd: int = 4) -> Optional[float]:
    return None if v is None else round(float(v), nd)


# ------------------------------------------------------------------------------- gate figures

def confusion_matrix(truth: Sequence[str], predicted: Sequence[str],
                     labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """{true label: {predicted label: count}} over `labels` (others are ignored)."""
    out = {t: {p: 0 for p in labels} for t in labels}
    for t, p in zip(truth, predicted):
        if t in out and p in out[t]:
            out[t][p] += 1
    return out


def accuracy(matrix: dict[str, dict[str, int]]) -> Optional[float]:
    total = sum(sum(row.values()) for row in matrix.values())
    right = sum(matrix[c].get(c, 0) for c in matrix)
    return right / total if total else None


def class_recall(matrix: dict[str, dict[str, int]], label: str) -> Optional[float]:
    row = matrix.get(label, {})
    n = sum(row.values())
    return row.get(label, 0) / n if n else None


# ------------------------------------------------------------------------------- detector figures

iou = box_iou  # the fusion's IoU; matching and NMS must agree on overlap


def average_precision(recall: Sequence[float], precision: Sequence[float]) -> float:
    """Area under the precision envelope, all-point interpolation (VOC 2010 and later)."""
    mrec = np.concatenate(([0.0], np.asarray(recall, float), [1.0]))
    mpre = np.concatenate(([0.0], np.asarray(precision, float), [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


@dataclass
class Scored:
    """A predicted box of one class in one photo."""

    image: str
    box: Box
    score: float


def _matches(predictions: Sequence[Scored], truth: dict[str, list[Box]], iou_thr: float
             ) -> tuple[list[Scored], np.ndarray]:
    """Predictions by falling score, and whether each hits a true box of its photo that no
    higher-scored prediction took (1) or not (0)."""
    order = sorted(predictions, key=lambda p: -p.score)
    used = {img: [False] * len(b) for img, b in truth.items()}
    tp = np.zeros(len(order))
    for k, p in enumerate(order):
        gts = truth.get(p.image, [])
        best, best_j = iou_thr, -1
        for j, g in enumerate(gts):
            if used[p.image][j]:
                continue
            v = iou(p.box, g)
            if v >= best:
                best, best_j = v, j
        if best_j >= 0:
            used[p.image][best_j] = True
            tp[k] = 1
    return order, tp


def _ap(tp: np.ndarray, n_true: int) -> float:
    if len(tp) == 0:
        return 0.0
    ctp = np.cumsum(tp)
    return average_precision(ctp / n_true, ctp / np.arange(1, len(tp) + 1))


def class_ap(predictions: Sequence[Scored], truth: dict[str, list[Box]], iou_thr: float
             ) -> Optional[float]:
    """AP of one class: `truth` maps photo -> its ground-truth boxes. None when there are none."""
    n_true = sum(len(b) for b in truth.values())
    if n_true == 0:
        return None
    return _ap(_matches(predictions, truth, iou_thr)[1], n_true)


def ap_interval(predictions: Sequence[Scored], truth: dict[str, list[Box]], iou_thr: float = 0.5,
                draws: int = 200, seed: int = 0) -> Optional[list[float]]:
    """The 2.5th and 97.5th percentiles of the class's AP over photos drawn with replacement
    (a photo drawn twice brings its boxes and its predictions twice). None without true boxes."""
    photos = sorted(set(truth) | {p.image for p in predictions})
    n_per = np.array([len(truth.get(p, [])) for p in photos])
    if n_per.sum() == 0:
        return None
    order, tp = _matches(predictions, truth, iou_thr)
    where = {p: i for i, p in enumerate(photos)}
    owner = np.array([where[p.image] for p in order], dtype=np.int64)
    rng = np.random.default_rng(seed)
    aps = []
    for _ in range(draws):
        counts = np.bincount(rng.integers(0, len(photos), len(photos)), minlength=len(photos))
        if (counts * n_per).sum() > 0:
            aps.append(_ap(np.repeat(tp, counts[owner]), int((counts * n_per).sum())))
    return [round(float(q), 4) for q in np.percentile(aps, [2.5, 97.5])]


def shown_precision_recall(shown: dict[str, list[tuple[str, Box, float]]],
                           truth: dict[str, list[tuple[str, Box]]], iou_thr: float = 0.5,
                           classes: Sequence[str] = CATEGORIES) -> dict[str, dict[str, Any]]:
    """Per class: of the boxes shown to users, the share that hits an unmatched true box
    (precision), and of the true boxes, the share hit (recall); matching as in `class_ap`."""
    out: dict[str, dict[str, Any]] = {}
    for c in classes:
        gts = {img: [b for k, b in t if k == c] for img, t in truth.items()}
        n_true = sum(len(b) for b in gts.values())
        n_shown = hits = 0
        for img, dets in shown.items():
            used = [False] * len(gts.get(img, []))
            for _, box, _ in sorted((d for d in dets if d[0] == c), key=lambda d: -d[2]):
                n_shown += 1
                cand = [(iou(box, g), j) for j, g in enumerate(gts.get(img, [])) if not used[j]]
                best, j = max(cand, default=(0.0, -1))
                if best >= iou_thr:
                    used[j] = True
                    hits += 1
        out[c] = {"precision": rounded(hits / n_shown) if n_shown else None,
                  "recall": rounded(hits / n_true) if n_true else None,
                  "n_shown": n_shown, "n_true": n_true}
    return out


def detection_map(predictions: dict[str, list[tuple[str, Box, float]]],
                  truth: dict[str, list[tuple[str, Box]]],
                  classes: Sequence[str] = CATEGORIES, intervals: bool = False
                  ) -> dict[str, dict[str, Any]]:
    """Per-class mAP50 and mAP50-95. `predictions`/`truth` map photo -> (class, box[, score]);
    `intervals`: also each class's 95% interval of AP50 over the photos (`ap_interval`)."""
    out: dict[str, dict[str, Optional[float]]] = {"map50": {}, "map50_95": {}, "n_true": {}}
    for cls in classes:
        preds = [Scored(img, tuple(b), float(s)) for img, dets in predictions.items()
                 for c, b, s in dets if c == cls]
        gts = {img: [tuple(b) for c, b in boxes if c == cls] for img, boxes in truth.items()}
        aps = [class_ap(preds, gts, t) for t in IOU_THRESHOLDS]
        out["n_true"][cls] = sum(len(v) for v in gts.values())
        if intervals:
            out.setdefault("map50_interval95", {})[cls] = None if aps[0] is None else ap_interval(preds, gts)
        if aps[0] is None:
            out["map50"][cls] = out["map50_95"][cls] = None
            continue
        out["map50"][cls] = round(aps[0], 4)
        out["map50_95"][cls] = round(float(np.mean(aps)), 4)
    vals50 = [v for v in out["map50"].values() if v is not None]
    vals = [v for v in out["map50_95"].values() if v is not None]
    out["mean"] = {"map50": round(float(np.mean(vals50)), 4) if vals50 else None,
                   "map50_95": round(float(np.mean(vals)), 4) if vals else None}
    return out


# ------------------------------------------------------------------------------- retrieval figures

def exact_knn(gallery: np.ndarray, queries: np.ndarray, k: int,
              exclude: Optional[Sequence[int]] = None) -> list[list[int]]:
    """Row numbers of the k nearest gallery rows (Euclidean), nearest first, per query.

    `exclude[i]` (a gallery row, or -1/None) is never returned for query i: a catalog item
    must not find itself.
    """
    gallery = np.asarray(gallery, np.float64)
    queries = np.asarray(queries, np.float64)
    d = (np.sum(queries ** 2, 1, keepdims=True) - 2 * queries @ gallery.T
         + np.sum(gallery ** 2, 1)[None, :])
    if exclude is not None:
        for i, j in enumerate(exclude):
            if j is not None and j >= 0:
                d[i, j] = np.inf
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return [[int(j) for j in row if np.isfinite(d[i, j])] for i, row in enumerate(order)]


def category_knn(vectors: np.ndarray, cats: Sequence[str], qvec: np.ndarray,
                 qcats: Sequence[str], k: int, qself: Optional[Sequence[int]] = None
                 ) -> list[list[int]]:
    """Exact nearest gallery rows of each query's own category (global row numbers).

    `qself[i]`, a gallery row, is never returned for query i (a catalog item finding itself).
    """
    cats = np.asarray(cats)
    out: list[list[int]] = [[] for _ in range(len(qvec))]
    for c in sorted(set(qcats)):
        rows = np.where(cats == c)[0]
        qi = [i for i, qc in enumerate(qcats) if qc == c]
        if len(rows) == 0 or not qi:
            continue
        pos = {int(r): j for j, r in enumerate(rows)}
        excl = [pos.get(qself[i], -1) if qself is not None else -1 for i in qi]
        nn = exact_knn(vectors[rows], qvec[qi], k, exclude=excl)
        for i, r in zip(qi, nn):
            out[i] = [int(rows[j]) for j in r]
    return out


def precision_at_k(query_labels: Sequence[Any], result_labels: Sequence[Sequence[Any]], k: int,
                   agree: Callable[[Any, Any], bool] = lambda a, b: a == b) -> Optional[float]:
    """Mean over queries of (results among the first k that agree with the query) / k."""
    scores = []
    for q, results in zip(query_labels, result_labels):
        top = list(results)[:k]
        scores.append(sum(1 for r in top if agree(q, r)) / k)
    return float(np.mean(scores)) if scores else None


# The retrieval figures: name -> (query label, result label, agreement); see precision_at_k
Score = tuple[Callable[[Any], Any], Callable[[Any], Any], Callable[[Any, Any], bool]]
_same: Callable[[Any, Any], bool] = lambda a, b: a == b
CATALOG_SCORES: dict[str, Score] = {
    "p5_article_type": (lambda x: x.article_type, lambda y: y.article_type, _same),
    "p5_colour": (lambda x: x.colour, lambda y: y.colour, _same),
    "p5_gender": (lambda x: x.gender, lambda y: y.gender, same_gender_group),
}
STREET_SCORES: dict[str, Score] = {
    "colour_family_at5": (lambda g: g.family, lambda y: colour_family(y.colour), _same),
    "article_plausible_at5": (lambda g: g.ccp_label, lambda y: y.article_type, plausible),
}


def scores_at_k(queries: Sequence[Any], results: Sequence[Sequence[Any]], k: int,
                scores: dict[str, Score]) -> dict[str, Optional[float]]:
    """Each named agreement@k of queries with their ranked results, rounded."""
    return {name: rounded(precision_at_k([query(x) for x in queries],
                                   [[result(y) for y in row] for row in results], k, agree))
            for name, (query, result, agree) in scores.items()}
