"""Linear models for the street model: logistic regression by L-BFGS, photo-grouped folds, and
the confidence above which predictions may filter."""
from __future__ import annotations

from collections import Counter
from typing import Callable, Optional

import numpy as np
import torch

FOLDS = 5

def fit_softmax(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float,
                weight: Optional[np.ndarray] = None, iters: int = 100
                ) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression (binary when n_classes is 1): (W, b)."""
    torch.manual_seed(0)
    xt = torch.from_numpy(np.asarray(x, dtype=np.float32))
    lin = torch.nn.Linear(xt.shape[1], n_classes)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    w = torch.ones(len(xt)) if weight is None else torch.from_numpy(weight.astype(np.float32))
    w = w / w.sum()
    if n_classes == 1:
        yt = torch.from_numpy(np.asarray(y, dtype=np.float32))
        loss_fn: Callable = lambda z: (torch.nn.functional.binary_cross_entropy_with_logits(
            z[:, 0], yt, reduction="none") * w).sum()
    else:
        yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
        loss_fn = lambda z: (torch.nn.functional.cross_entropy(z, yt, reduction="none") * w).sum()
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn(lin(xt)) + l2 * (lin.weight ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy()


def balanced(y: np.ndarray) -> np.ndarray:
    counts = Counter(y.tolist())
    return np.array([len(y) / (len(counts) * counts[v]) for v in y.tolist()], dtype=np.float32)


def folds_of(photos: list[str], n: int = FOLDS, seed: int = 0) -> dict[str, int]:
    order = sorted(set(photos))
    rng = np.random.default_rng(seed)
    rng.shuffle(order)
    return {p: i % n for i, p in enumerate(order)}


def out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray, fit: Callable,
                predict: Callable) -> np.ndarray:
    """Predictions of each row by a model fitted without its photo's fold."""
    out = None
    for f in np.unique(groups):
        model = fit(x[groups != f], y[groups != f])
        pred = predict(model, x[groups == f])
        if out is None:
            out = np.zeros((len(x),) + pred.shape[1:], dtype=np.float32)
        out[groups == f] = pred
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sure_threshold(confidence: np.ndarray, right: np.ndarray, precision: float) -> float:
    """The lowest confidence above which predictions are right at least `precision` of the time."""
    order = np.argsort(-confidence)
    hits = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    ok = np.where(hits >= precision)[0]
    # the deepest rank whose precision still holds, at least 20 predictions deep
    ok = ok[ok >= min(19, len(order) - 1)]
    return float(confidence[order][ok.max()]) if len(ok) else 1.01

