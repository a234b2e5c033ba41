"""The fashion embedding head: trains end to end, loads offline, and never mixes embeddings."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.helpers import REPO, shared

HEAD = REPO / "data" / "models" / "embedding_head.pt"


def catalog_images(ids: list[str]) -> list[Image.Image]:
    folder = shared("catalog", "images")
    return [Image.open(folder / f"{i}.jpg").convert("RGB") for i in ids]


def test_colour_histogram_reads_the_garment_not_the_background():
    """On real street crops, the histogram agrees with the garment's own mask pixels better than
    a histogram of the whole crop does (CCP photos of the detector's training split)."""
    import csv

    import scipy.io as sio

    from core.colour import COLOUR_SIDE, colour_histogram, srgb_to_lab, weighted_histogram
    from training.head_data import street_photos

    ccp = shared("ccp")
    names = [str(x[0]) for x in sio.loadmat(str(ccp / "label_list.mat"))["label_list"][0]]
    eval_photos = set(street_photos())
    with open(ccp / "boxes.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["image"] not in eval_photos
                and r["category"] in ("topwear", "bottomwear", "handbag")]
    photos = sorted({r["image"] for r in rows})[:12]
    ours, whole = [], []
    for photo in photos:
        mask = sio.loadmat(str(ccp / "pixel-level" / photo.replace(".jpg", ".mat")))["groundtruth"]
        rgb = np.asarray(Image.open(ccp / "photos" / photo).convert("RGB"))
        for r in (r for r in rows if r["image"] == photo):
            x1, y1, x2, y2 = (int(float(r[k])) for k in ("x1", "y1", "x2", "y2"))
            mx, my = (x2 - x1) // 16, (y2 - y1) // 16
            x1, y1 = max(0, x1 - mx), max(0, y1 - my)
            x2, y2 = min(rgb.shape[1], x2 + mx), min(rgb.shape[0], y2 + my)
            crop = Image.fromarray(rgb[y1:y2, x1:x2])
            scale = COLOUR_SIDE / max(crop.size)
            size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
            small = np.asarray(crop.resize(size, Image.BILINEAR))
            garment = Image.fromarray((mask[y1:y2, x1:x2] == names.index(r["ccp_label"]))
                                      .astype(np.uint8) * 255).resize(size, Image.NEAREST)
            lab = srgb_to_lab(small)
            truth = weighted_histogram(lab, np.asarray(garment, np.float32) / 255)
            hist = colour_histogram(crop)
            assert abs(np.linalg.norm(hist) - 1) < 1e-5
            ours.append(truth @ hist)
            whole.append(truth @ weighted_histogram(lab, np.ones(lab.shape[:2], np.float32)))
    assert len(ours) >= 20
    assert np.mean(ours) > np.mean(whole) + 0.02, (np.mean(ours), np.mean(whole))


@pytest.mark.slow
def test_training_runs_end_to_end_on_a_tiny_subset(tmp_path):
    from core.config import Config
    from core.embed import Embedder
    from core.head import load_head
    from training.head_training import HEAD_NAME, REPORT_NAME, SPLIT_NAME, train_embedding

    shared("catalog", "products.csv")
    config = Config.from_env(models_dir=tmp_path)
    report = train_embedding(config, out=tmp_path / HEAD_NAME, epochs=3, views=2, subset=24,
                             street=False, command="pytest")
    split = json.loads((tmp_path / SPLIT_NAME).read_text())
    assert split["train"] and split["heldout"]
    assert not set(split["train"]) & set(split["heldout"])
    assert len(split["train"]) + len(split["heldout"]) == 24
    assert report["train_items"] == len(split["train"])
    assert report["training_rows_per_view"] == {0: len(split["train"]), 1: len(split["train"])}
    for side in ("before", "after"):
        for key in ("p5_article_type", "p5_colour", "p5_gender"):
            assert 0.0 <= report["catalog"][side][key] <= 1.0
    saved = json.loads((tmp_path / REPORT_NAME).read_text())
    assert saved["command"] == "pytest" and saved["out_dim"] == report["out_dim"]
    assert len(saved["loss_history"]) == 3
    # The augmented view really differs from the clean one in the feature cache.
    cache = list((tmp_path / "cache").glob("*/view1-seed0/*.npz"))
    assert cache
    head = load_head(tmp_path / HEAD_NAME, 1280)
    assert head.out_dim == report["out_dim"]
    embedder = Embedder(head_path=tmp_path / HEAD_NAME)
    vecs = embedder.embed(catalog_images(split["heldout"][:3]))
    assert vecs.shape == (3, head.out_dim)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)


def test_committed_head_loads_offline_and_groups_by_type_and_colour(no_network):
    from core.embed import Embedder
    from core.catalog_items import load_catalog_items
    from training.head_data import CATALOG_CSV

    assert HEAD.exists(), "data/models/embedding_head.pt is missing: run lookbot train-embedding"
    embedder = Embedder(head_path=HEAD)
    assert embedder.head is not None and embedder.dim == embedder.head.out_dim
    assert embedder.version.startswith("efficientnet_lite2-224-head:")
    assert embedder.version != Embedder(head_path=None).version
    split = json.loads((HEAD.parent / "embedding_split.json").read_text())
    held = set(split["heldout"])
    items = [it for it in load_catalog_items(CATALOG_CSV) if it.id in held]
    # Held-out Jeans and Sunglasses, in two colours each: the head must rank same-type items
    # first for every query (not trained on any of these images).
    chosen = []
    for kind in ("Jeans", "Sunglasses"):
        chosen += [it for it in items if it.article_type == kind][:4]
    vecs = embedder.embed([Image.open(it.file).convert("RGB") for it in chosen])
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    for i, it in enumerate(chosen):
        assert chosen[int(np.argmax(sims[i]))].article_type == it.article_type


def test_head_refuses_features_of_another_backbone(tmp_path):
    from core.head import HeadError, load_head

    assert HEAD.exists()
    with pytest.raises(HeadError, match="2048"):
        load_head(HEAD, 2048)
    bad = tmp_path / "embedding_head.pt"
    bad.write_bytes(b"not a head")
    with pytest.raises(HeadError):
        load_head(bad, 1280)
    head = load_head(HEAD, 1280)
    with pytest.raises(HeadError):
        head.project(np.zeros((2, 1280), np.float32), None)  # colour needs the crops


def test_index_refuses_vectors_from_another_embedding_version(tmp_path):
    from core.embed import Embedder
    from core.index import CatalogIndex, IndexBuild, IndexMismatch, write_version

    ids = ["2746", "4210", "5430"]
    images = catalog_images(ids)
    with_head = Embedder(head_path=HEAD)
    plain = Embedder(head_path=None)
    build = IndexBuild(embedding=with_head.version, dim=with_head.dim)
    for pid, vec in zip(ids, with_head.embed(images)):
        build.add(pid, "topwear", "Men", vec)
    write_version(tmp_path, build, trees=2)
    index = CatalogIndex(tmp_path)
    assert index.embedding == with_head.version
    query = with_head.embed(images[:1])[0]
    assert index.query(query, "topwear", embedding=with_head.version, n=1)[0].product_id == ids[0]
    with pytest.raises(IndexMismatch):
        index.query(plain.embed(images[:1])[0], "topwear", embedding=plain.version)
    with pytest.raises(IndexMismatch):  # same head file name, other weights: other version
        index.query(query, "topwear", embedding=with_head.version.replace("head:", "head:x"))
