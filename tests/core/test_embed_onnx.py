"""The embedder under ONNX Runtime gives the PyTorch vectors on real street crops."""
from __future__ import annotations

import numpy as np
import pytest

from core.config import Config
from core.embed import Embedder
from tests.helpers import street_crops


def test_onnx_embedder_matches_pytorch_on_real_crops(tmp_path):
    crops = street_crops()
    assert len(crops) >= 4
    torch_config = Config.from_env(embedder_runtime="torch")
    onnx_config = Config.from_env(embedder_runtime="onnx")
    reference = Embedder.from_config(torch_config)
    onnx = Embedder.from_config(onnx_config)
    if onnx.runtime != "onnx":
        pytest.skip("onnxruntime is not installed")
    assert onnx.version == reference.version  # the same vectors: indexes stay valid
    a, b = reference.embed(crops), onnx.embed(crops)
    assert a.shape == b.shape == (len(crops), reference.dim)
    assert float((a * b).sum(axis=1).min()) >= 0.999
    # one photo's crops in one batch give each crop's own vector
    assert np.allclose(onnx.embed(crops[:1]), b[:1], atol=1e-4)


def test_export_is_cached_by_the_weights_hash(tmp_path):
    from core.embed_onnx import export_backbone

    embedder = Embedder("efficientnet_lite2")
    first = export_backbone(embedder.backbone, embedder.backbone.weights_path, tmp_path)
    stamp = first.stat().st_mtime_ns
    again = export_backbone(embedder.backbone, embedder.backbone.weights_path, tmp_path)
    assert again == first and again.stat().st_mtime_ns == stamp, "exported once"
    stale = tmp_path / f"backbone-efficientnet_lite2-{'0' * 12}.onnx"
    stale.write_bytes(b"old export")
    first.unlink()
    export_backbone(embedder.backbone, embedder.backbone.weights_path, tmp_path)
    assert not stale.exists(), "a new export removes the exports of earlier weights"
