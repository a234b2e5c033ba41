"""`lookbot bench`: how fast lookbot is, measured on real full-shot photos.

- Per-stage latency (decode, gate, detect, embed, search) from `LookResult.timings`, and warm
  end-to-end `Engine.look` latency, after a warm-up pass: p50, p95 and max in milliseconds.
- Throughput (photos/s) at several concurrencies through a worker pool. core/ never imports bot/,
  so the caller passes the bot's pool factory; without one, a `ThreadPoolExecutor` of the same size
  stands in, and the report says which was used.
- Annoy at index sizes such as 10k/100k/1M: build time, query latency and recall@10 against exact
  search (measure/bench_index.py).
- Embedding throughput (images/s, batches of 64) with and without the trained head, peak resident
  memory with all models loaded, and a CPU reference time (a 1024x1024 float32 matmul) so figures
  from a busy machine can be read as ratios.
- A PNG: latency distribution per stage, and throughput against concurrency.

The tables and the PNG are drawn by measure/bench_report.py.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .bench_index import annoy_bench, real_vectors, rss_mb, summarise
from .bench_report import plot_bench
from .bench_speed import embedder_runtimes, real_crops, seed_embedding_ms, speed_goals
from core.config import REPO_ROOT, SHARED_PEOPLE, Config
from .eval_data import machine
from core.records import LOOK_STAGES

log = logging.getLogger(__name__)

DEFAULT_PHOTOS = SHARED_PEOPLE / "fullshot"
DEFAULT_CONCURRENCY = (1, 2, 4, 8)
DEFAULT_INDEX_SIZES = (10_000, 100_000)  # 1_000_000 only on request: GBs and many minutes on 2 cores
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

PARTS = ("pipeline", "throughput", "embedding", "index")
PoolFactory = Callable[[int], Any]  # size -> object with submit(fn, *args) -> Future, shutdown()


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
    stages: dict[str, list[float]] = {s: [] for s in LOOK_STAGES}
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


def street_cost(engine, photos: Sequence[bytes], pool: Any) -> dict[str, Any]:
    """Look latency with and without the street model, alternating photo by photo in one
    worker thread, so a busy machine's load falls on both alike."""
    model = engine.street
    times: dict[str, list[float]] = {"with": [], "without": []}

    def one(data: bytes, street) -> float:
        engine.street = street
        t = time.perf_counter()
        engine.look(data)
        return time.perf_counter() - t

    try:
        for data in photos:
            for key, street in (("with", model), ("without", None)):
                times[key].append(pool.submit(one, data, street).result())
    finally:
        engine.street = model
    out = {k: summarise(v) for k, v in times.items()}
    p_with, p_without = out["with"]["p50_ms"], out["without"]["p50_ms"]
    out["p50_ratio"] = round(p_with / p_without, 3) if p_with and p_without else None
    out["goal_ratio"] = 1.15
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
            t, cpu = time.perf_counter(), time.process_time()
            futures = [pool.submit(engine.look, photos[i % len(photos)]) for i in range(requests)]
            cf.wait(futures)
            wall, cpu = time.perf_counter() - t, time.process_time() - cpu
            failed = [f.exception() for f in futures if f.exception() is not None]
            errors = len(failed)
            if failed:
                log.error("bench: %d of %d requests failed at concurrency %d, first: %r",
                          errors, requests, c, failed[0])
        finally:
            pool.shutdown(wait=True)
        out[str(c)] = {"requests": requests, "seconds": round(wall, 3),
                       "photos_per_s": round((requests - errors) / wall, 3), "errors": errors,
                       # the process's CPU time a photo: what the cores allow at most is
                       # cores x 1000 / this, whatever else the shared host runs meanwhile
                       "core_ms_per_photo": round(1000 * cpu / max(1, requests - errors), 1),
                       "cores": os.cpu_count(),
                       "first_error": repr(failed[0]) if failed else None}
        log.info("bench: concurrency %d: %.2f photos/s", c, requests / wall)
    return out


def embedding_throughput(embedder, images: Sequence, batch: int = 64) -> dict[str, Any]:
    """Images per second for index builds: backbone only, and backbone plus head."""
    from core.embed import l2_normalise

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
    from core.pipeline import Engine

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
            if engine.street is not None:
                log.info("bench: look with and without the street model")
                pipe["street_model"] = street_cost(engine, photos, pool)
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
        from core.indexer import load_catalog_image

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
    if "pipeline" in parts:  # the goals as ratios to the seed's embedding step, timed in this run
        crops = real_crops(engine, photos)
        seed_ms = seed_embedding_ms(crops)
        report["embedder_runtimes"] = embedder_runtimes(config, crops)
        report["goals"] = speed_goals(report, seed_ms)

    if "scale" in parts:  # on request: it starts a local Ray and replicas of the engine
        from .bench_scale import scale_bench

        report["scale"] = scale_bench(config, photos, requests=max(8, 2 * len(photos[:12])),
                                      images=64 if limit else 256)
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
