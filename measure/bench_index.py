"""The index part of `lookbot bench`: Annoy's build time, query latency and recall@10 per size.

Index sizes such as 10k/100k/1M of the real embedding dimension, against exact search. The vectors
are synthetic but shaped like the real ones: each is a real catalog vector (from the loaded index)
plus Gaussian noise whose norm is half the median nearest-neighbour distance of the real vectors,
renormalised; queries are fresh draws from the same process. Search uses the production settings
(`annoy_trees`, and search_k = max(10 * trees * search_k_factor, 2000), as `CatalogIndex.query`
does for k=10). Also `summarise` and `rss_mb`, which measure/benchmark.py shares.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

log = logging.getLogger(__name__)

STANDARD_INDEX_SIZES = (10_000, 100_000, 1_000_000)


def summarise(seconds: Sequence[float]) -> dict[str, Optional[float]]:
    """n, p50, p95, max and mean in milliseconds (linear-interpolated percentiles)."""
    if len(seconds) == 0:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "max_ms": None, "mean_ms": None}
    ms = np.asarray(seconds, dtype=float) * 1000
    return {"n": int(len(ms)), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "max_ms": round(float(ms.max()), 2), "mean_ms": round(float(ms.mean()), 2)}


def recall_at_k(approx: Sequence[Sequence[int]], exact: Sequence[Sequence[int]], k: int) -> float:
    """Mean share of the exact k nearest neighbours that the approximate search also returned."""
    scores = [len(set(list(a)[:k]) & set(list(e)[:k])) / k for a, e in zip(approx, exact)]
    return float(np.mean(scores)) if scores else 0.0


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int, chunk: int = 100_000
               ) -> np.ndarray:
    """Exact Euclidean k-NN by brute force, in gallery chunks to bound memory."""
    best_d = np.full((len(queries), 0), np.inf)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    qn = np.sum(queries.astype(np.float64) ** 2, 1, keepdims=True)
    for s in range(0, len(base), chunk):
        b = base[s:s + chunk].astype(np.float32)
        d = qn - 2 * (queries @ b.T).astype(np.float64) + np.sum(b.astype(np.float64) ** 2, 1)
        kk = min(k, d.shape[1])
        part = np.argpartition(d, kk - 1, axis=1)[:, :kk]
        best_d = np.concatenate([best_d, np.take_along_axis(d, part, 1)], 1)
        best_i = np.concatenate([best_i, part + s], 1)
        keep = np.argsort(best_d, axis=1, kind="stable")[:, :k]
        best_d = np.take_along_axis(best_d, keep, 1)
        best_i = np.take_along_axis(best_i, keep, 1)
    return best_i


STATUS_FIELDS = {"VmRSS:": "rss_mb", "VmHWM:": "peak_rss_mb", "RssAnon:": "anon_rss_mb",
                 "RssFile:": "file_rss_mb"}


def rss_mb() -> dict[str, Optional[float]]:
    """Current and peak resident memory of this process (VmRSS, VmHWM) in MiB, and the RSS's
    anonymous and file-backed parts. The file part is the libraries' mapped pages: just after
    they are installed, the kernel keeps their freshly written pages in large blocks and maps
    them whole, and the same process reads about 330 MiB more RSS (docs/MEASUREMENTS.md)."""
    out: dict[str, Optional[float]] = {v: None for v in STATUS_FIELDS.values()}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key = STATUS_FIELDS.get(line.split(" ", 1)[0].split("\t", 1)[0])
            if key:
                out[key] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        import resource

        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def real_vectors(engine, limit: int = 20_000) -> Optional[np.ndarray]:
    """The vectors in the engine's loaded index (all categories), or None without an index."""
    index = getattr(engine, "index", None)
    if index is None:
        return None
    vecs = []
    for ann in index._indexes.values():
        for i in range(ann.get_n_items()):
            vecs.append(ann.get_item_vector(i))
            if len(vecs) >= limit:
                break
    return np.asarray(vecs, dtype=np.float32) if vecs else None


def synthetic_vectors(centres: np.ndarray, n: int, noise_norm: float, seed: int) -> np.ndarray:
    """`n` unit vectors: random real centres plus isotropic noise of the given expected norm."""
    rng = np.random.default_rng(seed)
    dim = centres.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 50_000):
        m = min(50_000, n - s)
        x = centres[rng.integers(0, len(centres), m)] + \
            rng.standard_normal((m, dim), dtype=np.float32) * (noise_norm / np.sqrt(dim))
        out[s:s + m] = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return out


def median_nn_distance(vectors: np.ndarray, sample: int = 500, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    q = vectors[rng.choice(len(vectors), min(sample, len(vectors)), replace=False)]
    nn = exact_topk(vectors, q, 2)
    d = np.linalg.norm(vectors[nn[:, 1]] - q, axis=1)
    return float(np.median(d))


def blended_vectors(centres: np.ndarray, n: int, noise_norm: float, seed: int) -> np.ndarray:
    """`n` unit vectors between two random real vectors (a*r_i + (1-a)*r_j, a in [0.5, 1])
    plus noise: a continuum with no tight clusters, harder for Annoy than `synthetic_vectors`."""
    rng = np.random.default_rng(seed)
    dim = centres.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 50_000):
        m = min(50_000, n - s)
        a = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        x = a * centres[rng.integers(0, len(centres), m)] + \
            (1 - a) * centres[rng.integers(0, len(centres), m)] + \
            rng.standard_normal((m, dim), dtype=np.float32) * (noise_norm / np.sqrt(dim))
        out[s:s + m] = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return out


def measure_annoy(base: np.ndarray, queries: np.ndarray, trees: int, search_k: int, k: int = 10,
                  sweep_factors: Sequence[int] = (1, 2, 5, 10),
                  self_ids: Optional[Sequence[int]] = None) -> dict[str, Any]:
    """Build an Annoy index of `base` and measure it: build s, query latency, recall@k against
    exact search, at `search_k` and at smaller search_k (k * trees * factor) for tuning.
    With `self_ids`, query i is base row self_ids[i] and never counts itself."""
    from annoy import AnnoyIndex

    dim = base.shape[1]
    rss_before = rss_mb()["rss_mb"] or 0.0
    t = time.perf_counter()
    index = AnnoyIndex(dim, "euclidean")
    index.set_seed(42)
    for i, v in enumerate(base):
        index.add_item(i, v)
    index.build(trees, n_jobs=1)
    build_s = time.perf_counter() - t
    index_mb = round((rss_mb()["rss_mb"] or 0.0) - rss_before, 1)
    extra = 1 if self_ids is not None else 0
    exact = exact_topk(base, queries, k + extra).tolist()

    def clean(rows: list[list[int]]) -> list[list[int]]:
        if self_ids is None:
            return rows
        return [[j for j in r if j != self_ids[i]][:k] for i, r in enumerate(rows)]

    exact = clean(exact)

    def run(sk: int) -> tuple[dict[str, Any], float]:
        lat, approx = [], []
        for q in queries:
            ql = q.tolist()
            t = time.perf_counter()
            approx.append(index.get_nns_by_vector(ql, k + extra, search_k=sk))
            lat.append(time.perf_counter() - t)
        return summarise(lat), recall_at_k(clean(approx), exact, k)

    lat_s, rec = run(search_k)
    sweep = {}
    for factor in sweep_factors:
        sk = max(k * trees * factor, 1)
        lat2, rec2 = run(sk)
        sweep[str(factor)] = {"search_k": sk, "p50_ms": lat2["p50_ms"],
                              f"recall_at_{k}": round(rec2, 4)}
    index.unload()
    return {"n": len(base), "build_s": round(build_s, 2), "index_rss_mb": index_mb,
            "query": lat_s, f"recall_at_{k}": round(rec, 4), "search_k_factor_sweep": sweep}


GENERATORS: dict[str, Callable[..., np.ndarray]] = {"clustered": synthetic_vectors,
                                                    "blended": blended_vectors}


def annoy_bench(dim: int, sizes: Sequence[int], trees: int, search_k_factor: int,
                centres: Optional[np.ndarray] = None, queries: int = 200, k: int = 10,
                seed: int = 0, max_size: Optional[int] = None,
                sweep_factors: Sequence[int] = (1, 2, 5, 10)) -> dict[str, Any]:
    """Build time, query latency and recall@k of Annoy (production settings) per index size.

    `real`: the real index vectors themselves, each query leaving itself out. Each size is then
    measured on two synthetic families made from them: `clustered` (a real vector plus noise:
    near-duplicate clusters, optimistic) and `blended` (between two real vectors: no clusters,
    pessimistic). The goal (recall@10 >= 0.95 under 1 ms at 100k) is judged on `blended`.
    """
    rng = np.random.default_rng(seed)
    real = centres is not None and len(centres) >= 2
    if not real:
        centres = rng.standard_normal((5000, dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        source = "random unit vectors (no index loaded)"
    else:
        source = f"the {len(centres)} real index vectors"
    noise = 0.5 * median_nn_distance(centres)
    search_k = max(k * trees * search_k_factor, 2000)
    out: dict[str, Any] = {"dim": dim, "trees": trees, "search_k": search_k, "k": k,
                           "vectors": f"made from {source}; noise norm {noise:.3f} (half their "
                                      f"median nearest-neighbour distance); renormalised",
                           "real": None, "sizes": {}, "skipped": []}
    if real:
        qi = rng.choice(len(centres), min(queries, len(centres)), replace=False)
        out["real"] = measure_annoy(centres, centres[qi], trees, search_k, k, sweep_factors,
                                    self_ids=[int(i) for i in qi])
    for n in sizes:
        if max_size is not None and n > max_size:
            out["skipped"].append(n)
            log.info("bench: index size %d skipped (above max_size %d)", n, max_size)
            continue
        entry: dict[str, Any] = {}
        for g, make in GENERATORS.items():
            base = make(centres, n, noise, seed + n)
            qs = make(centres, queries, noise, seed + n + 1)
            entry[g] = measure_annoy(base, qs, trees, search_k, k, sweep_factors)
            del base
            log.info("bench: annoy %s %d x %d: build %.1f s, p50 %.3f ms, recall@%d %.3f", g, n,
                     dim, entry[g]["build_s"], entry[g]["query"]["p50_ms"], k,
                     entry[g][f"recall_at_{k}"])
        b = entry["blended"]
        entry["goal_met"] = (b[f"recall_at_{k}"] >= 0.95 and (b["query"]["p50_ms"] or 1e9) < 1.0) \
            if n == 100_000 else None
        out["sizes"][str(n)] = entry
    out["skipped"] += [n for n in STANDARD_INDEX_SIZES if n not in sizes]
    return out
