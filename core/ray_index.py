"""`lookbot index --ray`: the index build's embedding as a Ray Data job.

`map_batches` runs over the image paths with a pool of actors, each holding the embedder (loaded
once per actor); the driver stores the vectors and publishes the index version exactly as the
local build does (core/indexer.py, core/index.py), so readers switch atomically either way.
The actors read the images from the data path, so every node must see the same data folder.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .indexer import Store

log = logging.getLogger(__name__)

BATCH = 64


class EmbedActor:
    """One Ray Data actor: the engine's embedder, and image paths in, features and vectors out."""

    def __init__(self, config: Config, threads: int = 1) -> None:
        from .embed import Embedder

        # one thread per actor by default: the actors are the parallelism
        self.embedder = Embedder.from_config(config, threads=threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from .indexer import load_catalog_image

        images, ok = [], []
        for path in batch["path"]:
            image = load_catalog_image(Path(str(path)))
            ok.append(image is not None)
            if image is not None:
                images.append(image)
        n, e = len(ok), self.embedder
        feats = np.zeros((n, e.backbone.dim), np.float32)
        vectors = np.zeros((n, e.dim), np.float32)
        if images:
            idx = np.flatnonzero(ok)
            raw = e.backbone_features(images)
            feats[idx], vectors[idx] = raw, e.from_features(raw, images)
        return {"sha": batch["sha"], "ok": np.asarray(ok), "features": feats, "vector": vectors}


def ray_embedder(config: Config, address: str, actors: int = 2, batch_size: int = BATCH):
    """An `embed_todo` for `build_index` that embeds with a Ray Data job on the cluster at
    `address` ("local" starts one); stored features are recomputed, the vectors are the same."""
    def embed(items: list[tuple[str, Path]], features: dict, store: Store) -> dict[str, Any]:
        import ray

        from .service import connect_ray

        if not items:
            return {"images": 0}
        connect_ray(address)
        start = time.perf_counter()
        ds = ray.data.from_items([{"sha": sha, "path": str(path)} for sha, path in items])
        out = ds.map_batches(EmbedActor, fn_constructor_args=(config,), batch_size=batch_size,
                             compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1,
                             batch_format="numpy")
        done = 0
        for batch in out.iter_batches(batch_size=batch_size, batch_format="numpy"):
            keep = batch["ok"].astype(bool)
            shas = [str(s) for s in batch["sha"][keep]]
            new_feats = {s: f for s, f in zip(shas, batch["features"][keep]) if s not in features}
            store(new_feats, dict(zip(shas, batch["vector"][keep])))
            done += len(batch["sha"])
            log.info("ray index: %d / %d images embedded", done, len(items))
        seconds = time.perf_counter() - start
        log.info("ray index: %d images in %.1f s (%.1f img/s, %d actors)", len(items), seconds,
                 len(items) / seconds, actors)
        return {"images": len(items), "seconds": seconds}
    return embed
