"""`lookbot bench`: how fast lookbot is, measured on real full-shot photos.

- Per-stage latency (decode, gate, detect, embed, search) from `LookResult.timings`, and warm
  end-to-end `Engine.look` latency, after a warm-up pass: p50, p95 and max in milliseconds.
- Throughput (photos/s) at several concurrencies through a worker pool. core/ never imports bot/,
  so the caller passes the bot's pool factory; without one, a `ThreadPoolExecutor` of the same size
  stands in, and the report says which was used.
- Annoy at index sizes such as 10k/100k/1M of the real embedding dimension: build time, per-query
  latency and recall@10 against exact search. The vectors are synthetic but shaped like the real
  ones: each is a real catalog vector (from the loaded index) plus Gaussian noise whose norm is half
  the median nearest-neighbour distance of the real vectors, renormalised; queries are fresh draws
  from the same process. Search uses the production settings (`annoy_trees`, and
  search_k = max(10 * trees * search_k_factor, 2000), as `CatalogIndex.query` does for k=10).
- Embedding throughput (images/s, batches of 64) with and without the trained head, peak resident
  memory with all models loaded, and a CPU reference time (a 1024x1024 float32 matmul) so figures
  from a busy machine can be read as ratios.
- A PNG: latency distribution per stage, and throughput against concurrency.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .config import REPO_ROOT, SHARED_DATA, Config
from .eval_data import machine

log = logging.getLogger(__name__)

DEFAULT_PHOTOS = SHARED_DATA / "people" / "fullshot"
DEFAULT_CONCURRENCY = (1, 2, 4, 8)
STANDARD_INDEX_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_INDEX_SIZES = (10_000, 100_000)  # 1_000_000 only on request: GBs and many minutes on 2 cores
STAGES = ("decode", "gate", "detect", "embed", "search")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

PARTS = ("pipeline", "throughput", "embedding", "index")
PoolFactory = Callable[[int], Any]  # size -> object with submit(fn, *args) -> Future, shutdown()


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


def rss_mb() -> dict[str, Optional[float]]:
    """Current and peak resident memory of this process (VmRSS, VmHWM) in MiB."""
    out: dict[str, Optional[float]] = {"rss_mb": None, "peak_rss_mb": None}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_mb"] = round(int(line.split()[1]) / 1024, 1)
            elif line.startswith("VmHWM:"):
                out["peak_rss_mb"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        import resource

        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def cpu_reference_ms(repeats: int = 20) -> float:
    """Median time of a 1024x1024 float32 matmul: a yardstick for how busy the machine is."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - t)
    return round(float(np.median(times)) * 1000, 2)


def list_photos(photos_dir: Path, limit: Optional[int] = None) -> list[Path]:
    photos = sorted(p for p in Path(photos_dir).iterdir()
                    if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    if not photos:
        raise FileNotFoundError(f"no photos in {photos_dir}")
    return photos[:limit] if limit else photos


# ------------------------------------------------------------------------------- pipeline

def stage_latencies(engine, photos: Sequence[bytes], warmup: int = 2,
                    cards_fn: Optional[Callable[[Any], Any]] = None,
                    pool: Optional[Any] = None) -> dict[str, Any]:
    """Per-stage and end-to-end latency of `Engine.look` (plus `cards_fn(result)`), warm.

    Each call runs inside `pool` (one worker, like a bot worker thread) when given, else in the
    calling thread; the time is taken inside the worker, so queueing is not counted.
    """
    def one(data: bytes) -> tuple[Any, float, Optional[float]]:
        t = time.perf_counter()
        result = engine.look(data)
        seconds = time.perf_counter() - t
        card_s = None
        if cards_fn is not None:
            t = time.perf_counter()
            cards_fn(result)
            card_s = time.perf_counter() - t
        return result, seconds, card_s

    def run(data: bytes):
        return pool.submit(one, data).result() if pool is not None else one(data)

    for data in photos[:warmup]:
        run(data)
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    total: list[float] = []
    with_cards: list[float] = []
    refused = 0
    for data in photos:
        result, seconds, card_s = run(data)
        total.append(seconds)
        if not result.full_shot:
            refused += 1
        for s, v in result.timings.items():
            stages.setdefault(s, []).append(v)
        if card_s is not None:
            stages.setdefault("cards", []).append(card_s)
            with_cards.append(seconds + card_s)
    out = {"stages": {s: summarise(v) for s, v in stages.items()},
           "look": summarise(total), "refused_by_gate": refused,
           "thread": "worker" if pool is not None else "caller",
           "raw_ms": {"look": [round(v * 1000, 2) for v in total],
                      **{s: [round(x * 1000, 2) for x in v] for s, v in stages.items()}}}
    if cards_fn is not None:
        out["look_with_cards"] = summarise(with_cards)
    return out


def throughput(engine, photos: Sequence[bytes], concurrency: Sequence[int],
               requests: int, pool_factory: Optional[PoolFactory] = None) -> dict[str, Any]:
    """Photos per second through a pool of each size; the first round per size is a warm-up."""
    out: dict[str, Any] = {}
    for c in concurrency:
        pool = pool_factory(c) if pool_factory else cf.ThreadPoolExecutor(max_workers=c)
        try:
            # Warm every worker: MediaPipe keeps one graph per thread.
            cf.wait([pool.submit(engine.look, photos[i % len(photos)]) for i in range(c)])
            t = time.perf_counter()
            futures = [pool.submit(engine.look, photos[i % len(photos)]) for i in range(requests)]
            cf.wait(futures)
            wall = time.perf_counter() - t
            failed = [f.exception() for f in futures if f.exception() is not None]
            errors = len(failed)
            if failed:
                log.error("bench: %d of %d requests failed at concurrency %d, first: %r",
                          errors, requests, c, failed[0])
        finally:
            pool.shutdown(wait=True)
        out[str(c)] = {"requests": requests, "seconds": round(wall, 3),
                       "photos_per_s": round((requests - errors) / wall, 3), "errors": errors,
                       "first_error": repr(failed[0]) if failed else None}
        log.info("bench: concurrency %d: %.2f photos/s", c, requests / wall)
    return out


def embedding_throughput(embedder, images: Sequence, batch: int = 64) -> dict[str, Any]:
    """Images per second for index builds: backbone only, and backbone plus head."""
    from .embed import l2_normalise

    images = list(images)
    embedder.embed(images[:4])  # warm-up
    t = time.perf_counter()
    feats = np.concatenate([embedder.backbone_features(images[s:s + batch])
                            for s in range(0, len(images), batch)])
    t_backbone = time.perf_counter() - t
    l2_normalise(feats)
    out = {"images": len(images), "batch": batch,
           "backbone_images_per_s": round(len(images) / t_backbone, 2)}
    if embedder.head is not None:
        t = time.perf_counter()
        for s in range(0, len(images), batch):
            embedder.from_features(feats[s:s + batch], images[s:s + batch])
        t_head = time.perf_counter() - t
        out["with_head_images_per_s"] = round(len(images) / (t_backbone + t_head), 2)
        out["head_overhead_ratio"] = round((t_backbone + t_head) / t_backbone, 3)
    return out


# ------------------------------------------------------------------------------- index

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


# ------------------------------------------------------------------------------- plot

def plot_bench(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    raw = report.get("pipeline", {}).get("raw_ms", {})
    names = [s for s in (*STAGES, "cards", "look") if raw.get(s)]
    if names:
        a1.boxplot([raw[s] for s in names], showfliers=True)
        a1.set_xticks(range(1, len(names) + 1), names)
        a1.set_ylabel("ms")
        a1.set_title(f"latency per stage ({len(raw.get('look', []))} photos, warm)")
        a1.axhline(300, color="tab:red", lw=0.8, ls="--", label="look p50 goal 300 ms")
        a1.legend(loc="upper left", fontsize=8)
    tp = report.get("throughput", {}).get("by_concurrency", {})
    if tp:
        cs = sorted(int(c) for c in tp)
        a2.plot(cs, [tp[str(c)]["photos_per_s"] for c in cs], marker="o")
        a2.set_xscale("log", base=2)
        a2.set_xticks(cs, [str(c) for c in cs])
        a2.set_xlabel("concurrent requests")
        a2.set_ylabel("photos / s")
        a2.set_ylim(bottom=0)
        a2.set_title(f"throughput ({report['throughput'].get('pool')})", fontsize=9)
    m = report.get("meta", {})
    fig.suptitle(f"lookbot bench - {m.get('cores')} cores {m.get('cpu')}, {m.get('date')}",
                 fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------- the bench

def run_bench(config: Optional[Config] = None, photos_dir: Path = DEFAULT_PHOTOS,
              concurrency: Sequence[int] = DEFAULT_CONCURRENCY,
              index_sizes: Sequence[int] = DEFAULT_INDEX_SIZES, out_dir: Optional[Path] = None,
              limit: Optional[int] = None, requests: Optional[int] = None,
              pool_factory: Optional[PoolFactory] = None, pool_name: Optional[str] = None,
              max_index_size: Optional[int] = None, cards_fn: Optional[Callable] = None,
              parts: Sequence[str] = PARTS, engine=None) -> dict[str, Any]:
    """Every speed figure, under stable keys; writes bench.json and bench.png into `out_dir`.

    `parts` picks among pipeline, throughput, embedding and index (all by default).
    """
    from .pipeline import Engine

    config = config or Config.from_env()
    out_dir = Path(out_dir or REPO_ROOT / "runs" / "bench")
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    paths = list_photos(photos_dir, limit)
    photos = [p.read_bytes() for p in paths]
    report: dict[str, Any] = {"meta": {**machine(), "photos_dir": str(photos_dir),
                                       "photos": len(photos), "cpu_reference_ms": cpu_reference_ms()}}
    t = time.perf_counter()
    engine = engine or Engine(config)
    report["meta"]["engine_load_s"] = round(time.perf_counter() - t, 2)
    report["meta"].update(embedding=engine.embedder.version,
                          detector=getattr(engine.detector, "name", type(engine.detector).__name__),
                          index_version=engine.index.version if engine.index else None)

    report["memory"] = {"engine_loaded": rss_mb()}
    if "pipeline" in parts:
        log.info("bench: per-stage latency on %d photos, in one worker thread", len(photos))
        pool = pool_factory(1) if pool_factory else cf.ThreadPoolExecutor(max_workers=1)
        try:
            pipe = stage_latencies(engine, photos, cards_fn=cards_fn, pool=pool)
        finally:
            pool.shutdown(wait=True)
        # The CLI (`lookbot look`) runs in the main thread, where torch uses its own thread
        # team; on a busy machine that can differ a lot, so a short sample is kept for contrast.
        main = stage_latencies(engine, photos[:min(len(photos), 10)], warmup=1)
        pipe["look_main_thread"] = main["look"]
        pipe["embed_main_thread"] = main["stages"].get("embed")
        if cards_fn is None:
            pipe["cards"] = "not measured: card rendering lives in bot/; pass cards_fn"
        pipe["look_p50_goal_ms"] = 300
        p50 = pipe["look"]["p50_ms"]
        pipe["goal_met"] = p50 is not None and p50 <= 300
        pipe["look_p50_in_cpu_reference_units"] = \
            round(p50 / report["meta"]["cpu_reference_ms"], 2) if p50 else None
        report["pipeline"] = pipe
        # Every model has run by now (gate, detector, embedder, index pages touched).
        report["memory"]["all_models_loaded"] = rss_mb()

    if "throughput" in parts:
        n_req = requests or max(len(photos), 2 * max(concurrency, default=1))
        log.info("bench: throughput at concurrency %s, %d requests each", list(concurrency),
                 n_req)
        report["throughput"] = {
            "pool": pool_name or ("bot worker pool" if pool_factory else
                                  "ThreadPoolExecutor (stand-in for the bot's worker pool)"),
            "by_concurrency": throughput(engine, photos, concurrency, n_req, pool_factory)}

    if "embedding" in parts:
        from .indexer import load_catalog_image

        imgs = []
        for row in engine.catalog.products():
            path = engine.catalog.image_file(row)
            im = load_catalog_image(path) if path else None
            if im is not None:
                imgs.append(im)
            if len(imgs) >= (64 if limit else 256):
                break
        if imgs:
            log.info("bench: embedding throughput on %d catalog images", len(imgs))
            report["embedding"] = embedding_throughput(engine.embedder, imgs)
    report["memory"]["after_pipeline"] = rss_mb()

    if "index" in parts:
        log.info("bench: Annoy at sizes %s", list(index_sizes))
        report["index"] = annoy_bench(engine.embedder.dim, index_sizes, config.annoy_trees,
                                      config.search_k_factor, centres=real_vectors(engine),
                                      queries=50 if limit else 200, max_size=max_index_size)
    report["memory"]["end"] = rss_mb()
    report["meta"]["seconds"] = round(time.perf_counter() - start, 1)
    report["plot"] = str(plot_bench(report, out_dir / "bench.png"))
    (out_dir / "bench.json").write_text(json.dumps(report, indent=1))
    return report


def _f(v: Any, nd: int = 1) -> str:
    return "-" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


def format_bench(report: dict[str, Any]) -> str:
    """The benchmark as plain-text tables."""
    m = report.get("meta", {})
    lines = [f"lookbot bench  {m.get('date')}  {m.get('cores')} cores {m.get('cpu')}  "
             f"{m.get('photos')} photos from {m.get('photos_dir')}",
             f"  embedding {m.get('embedding')}  detector {m.get('detector')}  "
             f"CPU reference (1024^2 matmul) {m.get('cpu_reference_ms')} ms"]
    p = report.get("pipeline")
    if p:
        lines += ["", f"Latency, warm (ms; {p['refused_by_gate']} photos refused by the gate)",
                  f"  {'stage':<10}{'n':>5}{'p50':>9}{'p95':>9}{'max':>9}"]
        rows = [*p["stages"].items(), ("look", p["look"])]
        if "look_with_cards" in p:
            rows.append(("look+cards", p["look_with_cards"]))
        for s, v in rows:
            lines.append(f"  {s:<10}{v['n']:>5}{_f(v['p50_ms']):>9}{_f(v['p95_ms']):>9}"
                         f"{_f(v['max_ms']):>9}")
        lines.append(f"  look p50 goal 300 ms: {'met' if p['goal_met'] else 'NOT met'}  "
                     f"(timed in a worker thread, as the bot runs it)")
        if p.get("look_main_thread"):
            v = p["look_main_thread"]
            lines.append(f"  look in the main thread (as `lookbot look` runs it), {v['n']} photos: "
                         f"p50 {_f(v['p50_ms'])} ms, p95 {_f(v['p95_ms'])} ms")
    t = report.get("throughput")
    if t:
        lines += ["", f"Throughput ({t['pool']})", f"  {'workers':<10}{'photos/s':>10}{'errors':>8}"]
        for c, v in t["by_concurrency"].items():
            lines.append(f"  {c:<10}{v['photos_per_s']:>10.2f}{v['errors']:>8}")
    e = report.get("embedding")
    if e:
        lines += ["", f"Embedding ({e['images']} catalog images, batch {e['batch']}): backbone "
                      f"{e['backbone_images_per_s']} img/s"
                  + (f", with head {e['with_head_images_per_s']} img/s "
                     f"(x{e['head_overhead_ratio']} time)" if "with_head_images_per_s" in e else "")]
    mem = report.get("memory")
    if mem:
        a = mem.get("all_models_loaded") or mem.get("engine_loaded", {})
        lines.append(f"Memory with all models loaded: RSS {a.get('rss_mb')} MiB, peak "
                     f"{a.get('peak_rss_mb')} MiB (whole run peak "
                     f"{mem.get('end', {}).get('peak_rss_mb')} MiB)")
    ix = report.get("index")
    if ix:
        kk = "recall_at_" + str(ix["k"])
        lines += ["", f"Annoy ({ix['dim']}-d, {ix['trees']} trees, search_k {ix['search_k']}; "
                      f"vectors {ix['vectors']})",
                  f"  {'size':>9} {'vectors':<10}{'build s':>9}{'p50 ms':>9}{'p95 ms':>9}"
                  f"{'recall@' + str(ix['k']):>11}"]
        rows = ([("real", ix["real"])] if ix.get("real") else []) + \
            [(g, v) for n, e in ix["sizes"].items() for g, v in e.items() if g != "goal_met"]
        for g, v in rows:
            lines.append(f"  {v['n']:>9} {g:<10}{v['build_s']:>9.1f}{_f(v['query']['p50_ms'], 3):>9}"
                         f"{_f(v['query']['p95_ms'], 3):>9}{v[kk]:>11.3f}")
            lines.append("            smaller search_k factor -> p50 ms / recall: " + ", ".join(
                f"{f}: {_f(x['p50_ms'], 3)} / {x[kk]:.3f}"
                for f, x in v.get("search_k_factor_sweep", {}).items()))
        goal = ix["sizes"].get("100000", {}).get("goal_met")
        if goal is not None:
            lines.append(f"  goal recall@10 >= 0.95 under 1 ms at 100k (blended): "
                         f"{'met' if goal else 'NOT met'}")
        if ix["skipped"]:
            lines.append(f"  not measured: {ix['skipped']} (ask with --index-sizes; 1M needs GBs "
                         f"and many minutes on 2 cores)")
    if report.get("plot"):
        lines += ["", f"plot: {report['plot']}"]
    return "\n".join(lines)
