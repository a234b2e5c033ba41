"""The int8 embedding backbone gives nearly fp32's vectors on real crops, under ONNX Runtime and
under OpenVINO, and is quantized once."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.embed import Embedder
from tests.helpers import FIXTURES, street_crops


@pytest.fixture(scope="module")
def embedders(tmp_path_factory):
    cache = tmp_path_factory.mktemp("onnx-cache")
    int8 = Embedder("efficientnet_lite2", runtime="onnx-int8", onnx_cache=cache, threads=2, lean=True)
    if int8.onnx is None:
        pytest.skip("onnxruntime is not installed")
    fp32 = Embedder("efficientnet_lite2", runtime="onnx", onnx_cache=cache, threads=2)
    return fp32, int8, cache


def test_int8_vectors_match_fp32_on_real_crops(embedders):
    fp32, int8, _ = embedders
    assert int8.runtime == "onnx-int8" and fp32.runtime == "onnx"
    crops = street_crops(8) + [Image.open(p).convert("RGB")
                               for p in sorted((FIXTURES / "catalog").glob("*.jpg"))[:8]]
    a, b = fp32.embed(crops), int8.embed(crops)
    assert a.shape == b.shape == (len(crops), 1280)
    cosine = (a * b).sum(axis=1)
    # measured 0.995 mean, 0.957 min on 207 crops (docs/MEASUREMENTS.md)
    assert float(cosine.mean()) >= 0.985 and float(cosine.min()) >= 0.95
    assert not np.allclose(a, b, atol=1e-4), "the int8 model really runs"
    # int8 vectors are named apart: an fp32 index is never silently mixed with them
    assert int8.version != fp32.version and int8.version.endswith("-int8-head:none")


def test_int8_model_is_quantized_once_and_cached(embedders):
    from core.embed_int8 import quantize_backbone

    fp32, int8, cache = embedders
    model = int8.onnx.onnx_file
    assert model.parent == cache and model.name.startswith("backbone-efficientnet_lite2-int8-")
    stamp, first = model.stat().st_mtime_ns, model.read_bytes()
    stale = cache / f"backbone-efficientnet_lite2-int8-{'0' * 12}.onnx"
    stale.write_bytes(b"old quantization")
    again = Embedder("efficientnet_lite2", runtime="onnx-int8", onnx_cache=cache, threads=2)
    assert again.onnx.onnx_file == model and model.stat().st_mtime_ns == stamp, "quantized once"
    assert stale.exists(), "a cached model is reused without touching others"
    model.unlink()
    assert quantize_backbone(fp32.onnx.onnx_file) == model
    assert model.read_bytes() == first, "calibration is deterministic"
    assert not stale.exists(), "a new quantization removes the stale ones"


def test_lean_features_are_the_same_on_one_thread(embedders):
    """Under load a look's crops run on one thread (core.pipeline.Engine.looks): same vectors."""
    fp32, int8, cache = embedders
    crops = street_crops(6)
    assert int8.onnx.lean_session is not int8.onnx.session
    a, b = int8.backbone_features(crops), int8.backbone_features(crops, lean=True)
    assert np.allclose(a, b, atol=1e-4)
    # only the engine asks for the one-thread session: index builds and training make none
    assert fp32.onnx.lean_session is fp32.onnx.session


def test_openvino_runs_the_same_int8_model(embedders):
    """OpenVINO reads the int8 export: vectors as near fp32's as ONNX Runtime's, named apart."""
    fp32, int8, cache = embedders
    ov = Embedder("efficientnet_lite2", runtime="openvino-int8", onnx_cache=cache, threads=2, lean=True)
    if ov.runtime != "openvino-int8":
        pytest.skip("openvino is not installed")
    assert ov.onnx.onnx_file == int8.onnx.onnx_file, "the same quantized file, not a second one"
    crops = street_crops(8) + [Image.open(p).convert("RGB")
                               for p in sorted((FIXTURES / "catalog").glob("*.jpg"))[:8]]
    a, b, c = fp32.embed(crops), int8.embed(crops), ov.embed(crops)
    # measured 0.9953 to fp32 for both runtimes, 0.9989 to each other, on 30 crops (docs/MEASUREMENTS.md)
    assert float((a * c).sum(axis=1).mean()) >= 0.985 and float((b * c).sum(axis=1).min()) >= 0.99
    assert not np.allclose(b, c, atol=1e-4), "OpenVINO really runs"
    assert ov.version.endswith("-int8-ov-head:none") and len({fp32.version, int8.version, ov.version}) == 3
    lean = ov.backbone_features(crops[:6], lean=True)
    assert ov.onnx.lean_session is not ov.onnx.session
    assert np.allclose(ov.backbone_features(crops[:6]), lean, atol=1e-4)


def test_openvino_falls_back_to_onnx_runtime(embedders, monkeypatch, caplog):
    """Without a working OpenVINO the same int8 model runs under ONNX Runtime, named as such."""
    import core.embed_onnx

    _, int8, cache = embedders

    def broken(*args, **kwargs):
        raise RuntimeError("no OpenVINO here")

    monkeypatch.setattr(core.embed_onnx, "OpenVinoSession", broken)
    fallen = Embedder("efficientnet_lite2", runtime="openvino-int8", onnx_cache=cache, threads=2)
    assert fallen.runtime == "onnx-int8" and fallen.version == int8.version
    assert "OpenVINO failed" in caplog.text
