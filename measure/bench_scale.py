"""`lookbot bench --parts scale`: the engine on a local Ray, in one run.

- Ray Serve throughput (photos/s over HTTP, `POST /look`) with 1 and then 2 replicas, at a fixed
  number of concurrent clients, after a warm-up request per replica;
- Ray Data's embedding rate for index builds (`lookbot index --ray`, actors holding the model)
  against the local path (`core.indexer.embed_local`), on the same catalog images; the Ray figure
  includes starting the actors, as an index build pays it.
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import socket
import time
from pathlib import Path
from typing import Any, Sequence

log = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_throughput(url: str, photos: Sequence[bytes], requests: int, clients: int
                     ) -> dict[str, Any]:
    """Photos per second through `POST /look` with `clients` concurrent HTTP clients."""
    import httpx

    def one(i: int) -> bool:
        with httpx.Client(base_url=url, timeout=300) as client:
            return client.post("/look", content=photos[i % len(photos)]).status_code == 200

    with cf.ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(clients)))  # warm every replica the router picks
        t = time.perf_counter()
        ok = sum(pool.map(one, range(requests)))
        wall = time.perf_counter() - t
    return {"requests": requests, "clients": clients, "seconds": round(wall, 2),
            "photos_per_s": round(ok / wall, 3), "errors": requests - ok}


def catalog_items(config, n: int) -> list[tuple[str, Path]]:
    """(sha1, path) of the first `n` catalog images, as an index build lists them."""
    from core.catalog import Catalog, sha1_file

    catalog = Catalog(config.catalog_path, config.data_dir)
    items = []
    for row in catalog.products(active_only=True):
        path = catalog.image_file(row)
        if path is not None:
            items.append((row.get("image_sha1") or sha1_file(path), path))
        if len(items) >= n:
            break
    return items


def embedding_rates(config, images: int, actors: int) -> dict[str, Any]:
    """Images/s of the local index embedding and of the Ray Data job on the same images."""
    from core.embed import Embedder
    from core.indexer import embed_local
    from core.ray_index import ray_embedder

    items = catalog_items(config, images)
    if not items:
        return {"skipped": "no catalog images"}

    def ignore(new_feats: dict, vectors: dict) -> None:
        return None

    embedder = Embedder.from_config(config)
    embed_local(embedder, items[:8], {}, ignore, progress=False)  # warm-up
    t = time.perf_counter()
    embed_local(embedder, items, {}, ignore, progress=False)
    local_s = time.perf_counter() - t
    t = time.perf_counter()
    ray_embedder(config, "local", actors=actors)(items, {}, ignore)
    ray_s = time.perf_counter() - t
    return {"images": len(items), "actors": actors,
            "local_images_per_s": round(len(items) / local_s, 2),
            "ray_data_images_per_s": round(len(items) / ray_s, 2),
            "ray_over_local": round(local_s / ray_s, 3)}


def scale_bench(config, photos: Sequence[bytes], replicas: Sequence[int] = (1, 2),
                requests: int = 24, clients: int = 4, images: int = 256,
                actors: int = 2) -> dict[str, Any]:
    """Serve throughput per replica count, then Ray Data's embedding rate, on one local Ray."""
    from ray import serve

    from core.service import APP_NAME, ServeSettings, connect_ray, start_service, stop_service

    connect_ray("local")
    out: dict[str, Any] = {"serve": {}}
    port = _free_port()
    try:
        for n in replicas:
            log.info("bench: Ray Serve with %d replica(s), %d requests", n, requests)
            url = start_service(config, ServeSettings(port=port, min_replicas=n, max_replicas=n))
            out["serve"][str(n)] = serve_throughput(url, photos, requests, clients)
            serve.delete(APP_NAME)
        log.info("bench: Ray Data embedding vs the local path on %d images", images)
        out["ray_data"] = embedding_rates(config, images, actors)
    finally:
        stop_service()
    return out


def format_scale(report: dict[str, Any]) -> list[str]:
    s = report.get("scale")
    if not s:
        return []
    lines = ["", "Scale on a local Ray (POST /look over HTTP)",
             f"  {'replicas':<10}{'photos/s':>10}{'clients':>9}{'errors':>8}"]
    for n, v in s["serve"].items():
        lines.append(f"  {n:<10}{v['photos_per_s']:>10.2f}{v['clients']:>9}{v['errors']:>8}")
    r = s.get("ray_data", {})
    if "local_images_per_s" in r:
        lines.append(f"  index embedding on {r['images']} catalog images: local "
                     f"{r['local_images_per_s']} img/s, Ray Data ({r['actors']} actors, start "
                     f"included) {r['ray_data_images_per_s']} img/s (x{r['ray_over_local']})")
    return lines
