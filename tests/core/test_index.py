"""Versioned Annoy indexes: atomic switch, gender scopes, refusal of foreign vectors, recall."""
from __future__ import annotations

import numpy as np
import pytest

from core.index import (CatalogIndex, IndexBuild, IndexMismatch, current_version,
                        write_version)


def unit(rng, n, dim):
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def toy_build(rng, dim=16):
    build = IndexBuild(embedding="toy-v1", dim=dim)
    vecs = unit(rng, 60, dim)
    genders = ["Men", "Women", "Unisex"]
    for i, v in enumerate(vecs):
        build.add(f"p{i}", "topwear" if i < 40 else "footwear", genders[i % 3], v)
    return build, vecs


def test_version_switch_is_atomic_and_old_versions_are_pruned(tmp_path):
    rng = np.random.default_rng(0)
    build, _ = toy_build(rng)
    versions = [write_version(tmp_path, build, trees=5, version=f"v{i}") for i in range(5)]
    assert current_version(tmp_path) == "v4"
    kept = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert kept == versions[-3:]
    assert not list(tmp_path.glob("tmp-*"))


def test_reader_keeps_its_version_while_a_new_one_is_published(tmp_path):
    rng = np.random.default_rng(1)
    build, vecs = toy_build(rng)
    write_version(tmp_path, build, trees=5, version="v1")
    reader = CatalogIndex(tmp_path)
    write_version(tmp_path, build, trees=5, version="v2")
    assert reader.version == "v1"
    assert reader.query(vecs[0], "topwear", n=1)[0].product_id == "p0"
    assert CatalogIndex(tmp_path).version == "v2"


def test_gender_scope_men_sees_men_and_unisex(tmp_path):
    rng = np.random.default_rng(2)
    build, vecs = toy_build(rng)
    write_version(tmp_path, build, trees=5)
    index = CatalogIndex(tmp_path)
    men = {int(h.product_id[1:]) % 3 for h in index.query(vecs[1], "topwear", "men", n=40)}
    women = {int(h.product_id[1:]) % 3 for h in index.query(vecs[1], "topwear", "women", n=40)}
    assert men == {0, 2} and women == {1, 2}
    assert len(index.query(vecs[1], "topwear", "any", n=40)) == 40


def test_any_is_for_adults_and_kids_products_come_only_when_asked(tmp_path):
    """Issue 14: adults get no kids' items unless the shopper asks for them (/gender kids)."""
    rng = np.random.default_rng(3)
    build = IndexBuild(embedding="toy-v1", dim=16)
    genders = ["Men", "Women", "Unisex", "Boys", "Girls"]
    vecs = unit(rng, 50, 16)
    for i, v in enumerate(vecs):
        build.add(f"p{i}", "topwear", genders[i % 5], v)
    write_version(tmp_path, build, trees=5)
    index = CatalogIndex(tmp_path)
    scope = {g: {genders[int(h.product_id[1:]) % 5] for h in index.query(vecs[3], "topwear", g, n=50)}
             for g in ("any", "kids", "children")}
    assert scope == {"any": {"Men", "Women", "Unisex"}, "kids": {"Boys", "Girls"},
                     "children": {"Boys", "Girls"}}
    with pytest.raises(ValueError, match="men, women, any or kids"):
        index.query(vecs[3], "topwear", "robots")


def test_foreign_vectors_are_refused(tmp_path):
    rng = np.random.default_rng(3)
    build, vecs = toy_build(rng)
    write_version(tmp_path, build, trees=5)
    index = CatalogIndex(tmp_path)
    with pytest.raises(IndexMismatch):
        index.query(vecs[0], "topwear", embedding="another-embedding")
    with pytest.raises(IndexMismatch):
        index.query(np.ones(8, np.float32), "topwear")
    with pytest.raises(IndexMismatch):
        build.add("x", "topwear", "Men", np.ones(8, np.float32))


def test_recall_at_10_against_exact_search(tmp_path):
    rng = np.random.default_rng(4)
    dim, n = 64, 5000
    vecs = unit(rng, n, dim)
    build = IndexBuild(embedding="toy", dim=dim)
    for i, v in enumerate(vecs):
        build.add(str(i), "topwear", "Men", v)
    write_version(tmp_path, build, trees=50)
    index = CatalogIndex(tmp_path)
    queries = unit(rng, 50, dim)
    recalls = []
    for q in queries:
        exact = set(np.argsort(np.linalg.norm(vecs - q, axis=1))[:10].astype(str))
        got = {h.product_id for h in index.query(q, "topwear", "men", n=10)}
        recalls.append(len(exact & got) / 10)
    assert np.mean(recalls) >= 0.95
