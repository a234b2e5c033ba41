"""The fine-tuned backbone: trains end to end, loads offline, and is named in every version."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.helpers import REPO, shared

def catalog_images(ids: list[str]) -> list[Image.Image]:
    folder = shared("catalog", "images")
    return [Image.open(folder / f"{i}.jpg").convert("RGB") for i in ids]


def test_tuning_runs_end_to_end_on_a_tiny_subset(tmp_path):
    from training.backbone_tuning import REPORT_NAME, TuneSettings, tune_backbone
    from core.config import Config
    from core.embed import Embedder

    shared("catalog", "products.csv")
    out = tmp_path / "backbone.pt"
    report = tune_backbone(Config.from_env(models_dir=tmp_path), out=out, subset=24,
                           settings=TuneSettings(epochs=2, batch_size=8), workers=0,
                           command="pytest")
    split = json.loads((tmp_path / "embedding_split.json").read_text())
    assert report["train_images"] == len(split["train"]) and report["epochs"] == 2
    assert len(report["loss_history"]) == 2 and all(np.isfinite(report["loss_history"]))
    for side in ("before", "after"):
        assert 0.0 <= report["catalog_raw_features"][side]["p5_article_type"] <= 1.0
    assert json.loads((tmp_path / REPORT_NAME).read_text())["command"] == "pytest"

    tuned = Embedder(head_path=None, backbone_weights=out)
    plain = Embedder(head_path=None)
    assert tuned.backbone_version.startswith("efficientnet_lite2-224-tuned:")
    assert tuned.version != plain.version and tuned.features_version != plain.features_version
    images = catalog_images(split["heldout"][:2])
    a, b = tuned.backbone_features(images), plain.backbone_features(images)
    assert a.shape == b.shape == (2, 1280) and np.isfinite(a).all()
    assert not np.allclose(a, b, atol=1e-3)  # the training steps moved the weights


def test_config_switches_the_tuned_backbone_on_and_off(tmp_path, monkeypatch):
    """A backbone.pt in the models folder is used unless LOOKBOT_TUNED_BACKBONE=0 (here a
    "tuned" file that holds the ImageNet weights: same features, its own version)."""
    import torch

    # fp32 on both sides: int8 ranges calibrated on the half-precision copy differ a little
    monkeypatch.setenv("LOOKBOT_EMBEDDER_RUNTIME", "onnx")

    from core.config import Config
    from core.embed import (BACKBONE_FILE, TUNED_FORMAT, Embedder, efficientnet_state,
                            imagenet_weights, tuned_backbone_file)

    state = {k: v.half() for k, v in efficientnet_state(imagenet_weights()).items()}
    torch.save({"format": TUNED_FORMAT, "state_dict": state}, tmp_path / BACKBONE_FILE)
    on = Config.from_env(models_dir=tmp_path)
    assert tuned_backbone_file(on) == tmp_path / BACKBONE_FILE
    tuned = Embedder.from_config(on, head=False)
    assert tuned.backbone_version.startswith("efficientnet_lite2-224-tuned:")
    monkeypatch.setenv("LOOKBOT_TUNED_BACKBONE", "0")
    off = Config.from_env(models_dir=tmp_path)
    assert tuned_backbone_file(off) is None
    plain = Embedder.from_config(off, head=False)
    assert plain.backbone_version == "efficientnet_lite2-224"
    images = catalog_images(["2746", "4210"])
    assert np.allclose(tuned.backbone_features(images), plain.backbone_features(images), atol=0.05)


def test_foreign_weights_are_refused_with_a_clear_message(tmp_path):
    import torch

    from core.embed import Backbone, EmbedderUnavailable

    junk = tmp_path / "backbone.pt"
    junk.write_bytes(b"not weights")
    with pytest.raises(EmbedderUnavailable, match="cannot read"):
        Backbone("efficientnet_lite2", junk)
    other = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(EmbedderUnavailable, match="no EfficientNet-Lite2 weights"):
        Backbone("efficientnet_lite2", other)


def test_a_head_is_never_used_on_another_backbone_s_features(tmp_path, monkeypatch):
    """A head records the backbone it was trained on; the embedder refuses it on other features,
    and a config that switches the tuned backbone off falls back to no head (with a warning)."""
    import torch

    monkeypatch.setenv("LOOKBOT_EMBEDDER_RUNTIME", "onnx")  # the fp32 version name below

    from core.config import Config
    from core.embed import HEAD_FILE, Embedder, HeadMismatch

    head = REPO / "data" / "models" / HEAD_FILE
    state = torch.load(head, map_location="cpu", weights_only=True)
    state["meta"] = {**state.get("meta", {}), "backbone": "efficientnet_lite2-224-tuned:0000000000"}
    torch.save(state, tmp_path / HEAD_FILE)
    with pytest.raises(HeadMismatch, match="tuned:0000000000"):
        Embedder(head_path=tmp_path / HEAD_FILE)
    monkeypatch.setenv("LOOKBOT_TUNED_BACKBONE", "0")
    embedder = Embedder.from_config(Config.from_env(models_dir=tmp_path))
    assert embedder.head is None and embedder.version == "efficientnet_lite2-224-head:none"
