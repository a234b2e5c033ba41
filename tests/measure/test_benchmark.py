"""`lookbot bench` figures on fixtures with known answers, and a tiny real end-to-end run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from measure import bench_index as bi
from measure import benchmark as bm
from measure.bench_report import format_bench
from tests.helpers import SHARED, real_catalog

FULLSHOT = SHARED / "people" / "fullshot"
needs_shared = pytest.mark.skipif(not FULLSHOT.exists(), reason="no ../shared/data")


def test_summarise_percentiles():
    s = bi.summarise([0.001 * v for v in range(1, 101)])  # 1 .. 100 ms
    assert s["n"] == 100
    assert s["p50_ms"] == pytest.approx(50.5)
    assert s["p95_ms"] == pytest.approx(95.05)
    assert s["max_ms"] == pytest.approx(100.0)
    assert s["mean_ms"] == pytest.approx(50.5)
    assert bi.summarise([])["p50_ms"] is None


def test_recall_at_k():
    exact = [[1, 2, 3, 4], [5, 6, 7, 8]]
    approx = [[1, 2, 9, 4], [8, 7, 6, 5]]
    assert bi.recall_at_k(approx, exact, 4) == pytest.approx((3 / 4 + 1) / 2)
    assert bi.recall_at_k(approx, exact, 2) == pytest.approx((1 + 0) / 2)


def test_exact_topk_matches_brute_force_across_chunks():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((1000, 16)).astype(np.float32)
    q = rng.standard_normal((7, 16)).astype(np.float32)
    want = np.argsort(((q[:, None, :] - base[None]) ** 2).sum(-1), axis=1)[:, :10]
    assert (bi.exact_topk(base, q, 10, chunk=128) == want).all()
    assert (bi.exact_topk(base, q, 10) == want).all()


def test_synthetic_vectors_are_unit_and_near_their_centres():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((50, 64)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = bi.synthetic_vectors(centres, 500, noise_norm=0.2, seed=3)
    assert x.shape == (500, 64) and np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    nearest = np.min(np.linalg.norm(x[:, None] - centres[None], axis=2), axis=1)
    assert np.median(nearest) == pytest.approx(0.2, abs=0.05)


def test_annoy_bench_finds_a_clustered_index_and_reports_skips():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((300, 32)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    r = bi.annoy_bench(32, [2000, 5000], trees=10, search_k_factor=20, centres=centres,
                       queries=30, max_size=3000)
    assert list(r["sizes"]) == ["2000"] and 5000 in r["skipped"] and 1_000_000 in r["skipped"]
    assert r["search_k"] == 10 * 10 * 20
    real = r["real"]
    assert real["n"] == 300 and real["recall_at_10"] > 0.9  # 300 vectors, generous search
    for g in ("clustered", "blended"):
        fig = r["sizes"]["2000"][g]
        assert fig["n"] == 2000 and fig["build_s"] > 0 and fig["query"]["n"] == 30
        assert fig["recall_at_10"] > 0.8
        sweep = fig["search_k_factor_sweep"]
        assert [sweep[f]["search_k"] for f in ("1", "2", "5", "10")] == [100, 200, 500, 1000]
        assert sweep["10"]["recall_at_10"] >= sweep["1"]["recall_at_10"]  # more search, more found
    assert r["sizes"]["2000"]["goal_met"] is None  # the goal is stated at 100k only


def test_measure_annoy_leaves_the_query_itself_out():
    base = np.array([[0.0, 0], [1, 0], [2, 0], [3, 0], [10, 0]], dtype=np.float32)
    fig = bi.measure_annoy(base, base[[0, 4]], trees=5, search_k=1000, k=2, sweep_factors=(1,),
                           self_ids=[0, 4])
    assert fig["recall_at_2"] == 1.0  # exact neighbours without self: [1, 2] and [3, 2]


def test_blended_vectors_lie_between_real_ones():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, 64)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = bi.blended_vectors(centres, 300, noise_norm=0.0, seed=1)
    assert np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    # No noise: each vector is a blend, so it is closer to some real vector than random ones are.
    near = np.min(np.linalg.norm(x[:, None] - centres[None], axis=2), axis=1)
    assert np.all(near < 1.0) and np.median(near) < 0.9


def test_rss_and_reference_are_positive():
    m = bi.rss_mb()
    assert m["peak_rss_mb"] >= m["rss_mb"] > 0
    # the RSS is its anonymous and file-backed parts (and shared memory, about nothing here)
    assert m["anon_rss_mb"] > 0 and m["file_rss_mb"] > 0
    assert m["anon_rss_mb"] + m["file_rss_mb"] == pytest.approx(m["rss_mb"], abs=2)
    assert bm.cpu_reference_ms(repeats=3) > 0


@pytest.fixture()
def tiny_data_dir(tmp_path, monkeypatch):
    """A 25-product catalog of real images with its own index, as LOOKBOT_DATA_DIR."""
    from core.config import Config
    from core.embed import Embedder
    from core.indexer import build_index

    data = tmp_path / "data"
    real_catalog(data, 5)
    monkeypatch.setenv("LOOKBOT_DATA_DIR", str(data))
    config = Config.from_env()
    build_index(config, Embedder.from_config(config), progress=False)  # as the engine embeds
    return data


@needs_shared
@pytest.mark.slow
def test_bench_command_end_to_end_on_a_tiny_subset(tiny_data_dir, tmp_path, capsys):
    from lookbot.cli import main

    out = tmp_path / "bench"
    rc = main(["bench", "--limit", "3", "--concurrency", "1", "--concurrency", "2",
               "--index-sizes", "2000", "--json", "--out", str(out)])
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    pipe = report["pipeline"]
    assert pipe["look"]["n"] == 3
    n_full = 3 - pipe["refused_by_gate"]
    for stage in ("decode", "gate"):
        assert pipe["stages"][stage]["n"] == 3 and pipe["stages"][stage]["p50_ms"] > 0
    for stage in ("detect", "embed", "search"):
        assert pipe["stages"][stage]["n"] == n_full
    assert pipe["look"]["p50_ms"] <= pipe["look"]["p95_ms"] <= pipe["look"]["max_ms"]
    assert set(report["throughput"]["by_concurrency"]) == {"1", "2"}
    for v in report["throughput"]["by_concurrency"].values():
        assert v["errors"] == 0 and v["photos_per_s"] > 0
        # the CPU a photo costs bounds the rate: the cores cannot have done more than that allows
        assert v["photos_per_s"] <= v["cores"] * 1000 / v["core_ms_per_photo"] * 1.05
    assert report["embedding"]["backbone_images_per_s"] > 0
    assert report["memory"]["all_models_loaded"]["peak_rss_mb"] > 100
    ix = report["index"]
    assert list(ix["sizes"]) == ["2000"] and 1_000_000 in ix["skipped"]
    for g in ("clustered", "blended"):
        assert 0 <= ix["sizes"]["2000"][g]["recall_at_10"] <= 1
    assert ix["real"]["n"] == 25  # the tiny catalog's own vectors
    assert Path(report["plot"]).stat().st_size > 5000
    assert (out / "bench.json").exists()
    assert "Latency, warm" in format_bench(report)
