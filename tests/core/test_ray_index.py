"""`lookbot index --ray`: the Ray Data job writes the vectors the local build writes and publishes
the index version the same way."""
from __future__ import annotations


import numpy as np
import pytest

from core.catalog import Catalog
from core.config import Config
from core.embed import Embedder
from core.index import CatalogIndex, current_version
from core.indexer import build_index
from tests.helpers import real_catalog

PER_CATEGORY = 10  # 5 categories: 50 real catalog images


def fifty_product_catalog(data_dir) -> None:
    real_catalog(data_dir, PER_CATEGORY)


@pytest.mark.slow
def test_ray_data_index_equals_the_local_one(ray_service, tmp_path):
    from core.ray_index import ray_embedder

    configs = {}
    for name in ("local", "ray"):
        fifty_product_catalog(tmp_path / name)
        configs[name] = Config.from_env(data_dir=tmp_path / name)
    embedder = Embedder.from_config(configs["local"])
    local = build_index(configs["local"], embedder, progress=False)
    remote = build_index(configs["ray"], embedder, progress=False,
                         embed_todo=ray_embedder(configs["ray"], "local", actors=1))
    assert local.products == remote.products == 5 * PER_CATEGORY
    assert remote.embedded == local.embedded >= 5 * PER_CATEGORY - 2  # a few images repeat

    stores = {n: Catalog(c.catalog_path, c.data_dir) for n, c in configs.items()}
    shas = sorted(r["image_sha1"] for r in stores["local"].products())
    vectors = {n: s.get_embeddings(shas, embedder.version) for n, s in stores.items()}
    assert set(vectors["local"]) == set(vectors["ray"]) == set(shas)
    cosines = [float(np.dot(vectors["local"][s], vectors["ray"][s]) /
                     np.linalg.norm(vectors["local"][s]) / np.linalg.norm(vectors["ray"][s]))
               for s in shas]
    assert min(cosines) >= 0.9999

    for name, config in configs.items():  # published atomically: CURRENT names a whole version
        version = current_version(config.index_root)
        assert version == (local if name == "local" else remote).version
        index = CatalogIndex(config.index_root)
        assert index.embedding == embedder.version and len(index) == 5 * PER_CATEGORY
