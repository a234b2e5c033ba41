"""`lookbot index`: embed what is new in the catalog and publish a new index version."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image
from tqdm import tqdm

from .catalog import Catalog, sha1_file
from .config import Config
from .embed import Embedder
from .index import IndexBuild, write_version

log = logging.getLogger(__name__)


@dataclass
class IndexSummary:
    version: str
    embedding: str
    products: int
    embedded: int  # new vectors computed in this run
    reused: int  # vectors taken from the store
    skipped: int  # products without a readable image
    seconds: float


def load_catalog_image(path: Path) -> Optional[Image.Image]:
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except Exception as exc:  # one broken image must not stop the build
        log.warning("skipping unreadable image %s: %s", path, exc)
        return None


Store = Callable[[dict, dict], None]  # (new raw features, new vectors) by image sha1 -> catalog
EmbedTodo = Callable[[list, dict, Store], None]  # ([(sha1, path)], known features, store)


def embed_local(embedder: Embedder, items: list[tuple[str, Path]], features: dict,
                store: Store, batch_size: int = 64, progress: bool = True) -> None:
    """Embed `items` in batches in this process; the CNN runs only where no features are stored."""
    bar = tqdm(total=len(items), desc="embedding", unit="img", disable=not progress)
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        images, shas_ok = [], []
        for sha, path in chunk:
            image = load_catalog_image(path)
            if image is not None:
                images.append(image)
                shas_ok.append(sha)
        if images:
            need = [j for j, sha in enumerate(shas_ok) if sha not in features]
            new_feats = {}
            if need:
                fresh = embedder.backbone_features([images[j] for j in need])
                new_feats = {shas_ok[j]: f for j, f in zip(need, fresh)}
                features.update(new_feats)
            feats = np.stack([features[sha] for sha in shas_ok]).astype(np.float32)
            store(new_feats, dict(zip(shas_ok, embedder.from_features(feats, images))))
        bar.update(len(chunk))
    bar.close()


def build_index(config: Config, embedder: Embedder, catalog: Optional[Catalog] = None,
                batch_size: int = 64, progress: bool = True, keep_features: bool = True,
                keep_versions: int = 3, embed_todo: Optional[EmbedTodo] = None) -> IndexSummary:
    """Embed new or changed product images (keyed by file hash) and switch to a new index.

    `keep_features=False` drops the raw backbone features once the vectors exist: a shipped
    catalog is smaller, at the price of a CNN pass when the embedding head changes.
    `keep_versions` older index versions stay on disk for readers still using them.
    `embed_todo` embeds elsewhere (core/ray_index.py: a Ray Data job); default: `embed_local`.
    """
    start = time.perf_counter()
    catalog = catalog or Catalog(config.catalog_path, config.data_dir)
    rows = []
    skipped = 0
    for row in catalog.products(active_only=True):
        path = catalog.image_file(row)
        if path is None:
            skipped += 1
            continue
        sha = row.get("image_sha1")
        if not sha:
            sha = sha1_file(path)
            catalog.db["products"].update(row["id"], {"image_sha1": sha})
        rows.append((row, path, sha))
    shas = sorted({sha for _, _, sha in rows})
    known = catalog.get_embeddings(shas, embedder.version)
    todo: dict[str, Path] = {}
    for row, path, sha in rows:
        if sha not in known:
            todo.setdefault(sha, path)
    # Raw backbone features are kept too, so a new embedding head re-indexes without the CNN.
    features = catalog.get_embeddings(sorted(todo), embedder.features_version)
    log.info("%d products with images, %d vectors stored, %d to embed (%d need the CNN)",
             len(rows), len(known), len(todo), sum(s not in features for s in todo))
    def store(new_feats: dict, vectors: dict) -> None:
        if new_feats:
            catalog.put_embeddings(embedder.features_version, new_feats)
        if vectors:
            catalog.put_embeddings(embedder.version, vectors)
            known.update(vectors)

    embed = embed_todo or (lambda items, feats, put: embed_local(
        embedder, items, feats, put, batch_size=batch_size, progress=progress))
    embed(list(todo.items()), features, store)
    build = IndexBuild(embedding=embedder.version, dim=embedder.dim)
    count = 0
    for row, _, sha in rows:
        vec = known.get(sha)
        if vec is None:
            skipped += 1
            continue
        build.add(row["id"], row["category"], row.get("gender"), np.asarray(vec, np.float32))
        count += 1
    keep = [embedder.version] + ([embedder.features_version] if keep_features else [])
    dropped = catalog.prune_embeddings(keep)
    if dropped:
        log.info("dropped %d vectors of embeddings no longer in use", dropped)
        catalog.db.execute("VACUUM")
    catalog.checkpoint()
    version = write_version(config.index_root, build, trees=config.annoy_trees,
                            keep=keep_versions)
    seconds = time.perf_counter() - start
    log.info("index %s: %d products, %d embedded, %.1f s", version, count, len(todo), seconds)
    return IndexSummary(version=version, embedding=embedder.version, products=count,
                        embedded=len(todo), reused=len(rows) - len(todo), skipped=skipped,
                        seconds=seconds)
