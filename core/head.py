"""The fashion embedding head: frozen backbone features + garment colour -> a small unit vector.

Two parts, fused into one vector:
- a learned projection (MLP) of the normalised backbone features and the colour histogram,
  trained by `training.head_training` on the catalog's article type, colour, gender and identity;
- the explicit colour histogram itself, appended with weight `colour_weight`, so that the
  cosine of two vectors is (1 - w) * learned similarity + w * colour similarity.

The colour histogram of the garment's own pixels comes from `core.colour`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image

from .colour import COLOUR_DIM, COLOUR_FEATURE_DIM, colour_features

log = logging.getLogger(__name__)

FORMAT = "lookbot-embedding-head/1"


class HeadError(ValueError):
    """The head file or its input does not fit."""


# --- the learned projection ----------------------------------------------------------------
class HeadNet(torch.nn.Module):
    """Normalised backbone features (+ colour histogram) -> (kind embedding, colour embedding).

    The kind branch is trained on article type, gender and identity, the (smaller) colour
    branch on the colour names; both see the same input.
    """

    def __init__(self, in_dim: int, colour_dim: int, hidden: int = 512, emb_dim: int = 256,
                 dropout: float = 0.2, colour_emb_dim: int = 0):
        super().__init__()
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(in_dim + colour_dim, hidden), torch.nn.ReLU(),
            torch.nn.Dropout(dropout), torch.nn.Linear(hidden, emb_dim))
        self.norm = torch.nn.LayerNorm(emb_dim, elementwise_affine=False)
        self.colour = None
        if colour_emb_dim:
            self.colour = torch.nn.Sequential(
                torch.nn.Linear(in_dim + colour_dim, hidden // 2), torch.nn.ReLU(),
                torch.nn.Dropout(dropout), torch.nn.Linear(hidden // 2, colour_emb_dim),
                torch.nn.LayerNorm(colour_emb_dim, elementwise_affine=False))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        return self.norm(self.mlp(x)), (self.colour(x) if self.colour is not None else None)


@dataclass
class HeadSpec:
    in_dim: int
    colour_input: bool = True  # the MLP also sees the colour histogram
    colour_weight: float = 0.0  # share of the explicit histogram in the final cosine
    colour_input_scale: float = 1.0
    hidden: int = 512
    emb_dim: int = 256
    colour_emb_dim: int = 0  # learned colour branch (0: none)
    colour_emb_weight: float = 0.0  # its share of the final cosine

    @property
    def colour_dim(self) -> int:
        return COLOUR_FEATURE_DIM if self.colour_input else 0

    @property
    def out_dim(self) -> int:
        return (self.emb_dim + (self.colour_emb_dim if self.colour_emb_weight > 0 else 0)
                + (COLOUR_DIM if self.colour_weight > 0 else 0))


def normalise_features(feats: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Raw pooled features -> unit length -> standardised per dimension."""
    feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    return ((feats - mean) / std).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fuse(kind: np.ndarray, learned_colour: Optional[np.ndarray], colour: Optional[np.ndarray],
         spec: HeadSpec) -> np.ndarray:
    """Concatenate the unit parts with square-root weights: cosines add up with the weights."""
    wc, wh = spec.colour_emb_weight if learned_colour is not None else 0.0, spec.colour_weight
    parts = [np.sqrt(max(1.0 - wc - wh, 0.0)) * _unit(kind)]
    if wc > 0:
        parts.append(np.sqrt(wc) * _unit(learned_colour))
    if wh > 0:
        parts.append(np.sqrt(wh) * _unit(colour[:, :COLOUR_DIM]))
    return np.concatenate(parts, axis=1).astype(np.float32)


class EmbeddingHead:
    """What `Embedder` uses: `out_dim` and `project(feats, crops)`."""

    def __init__(self, spec: HeadSpec, net: HeadNet, mean: np.ndarray, std: np.ndarray,
                 meta: Optional[dict] = None):
        self.spec = spec
        self.net = net.eval()
        self.mean = mean.astype(np.float32)
        self.std = std.astype(np.float32)
        self.meta = meta or {}

    @property
    def out_dim(self) -> int:
        return self.spec.out_dim

    @property
    def needs_crops(self) -> bool:
        return self.spec.colour_input or self.spec.colour_weight > 0

    def project(self, feats: np.ndarray, crops: Optional[Sequence[Image.Image]] = None
                ) -> np.ndarray:
        feats = np.asarray(feats, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != self.spec.in_dim:
            raise HeadError(f"the head expects (n, {self.spec.in_dim}) backbone features, "
                            f"got {feats.shape}")
        colour = None
        if self.needs_crops:
            if crops is None or len(crops) != len(feats):
                raise HeadError("this embedding head reads the garment colour from the crops: "
                                "pass the crops along with their features")
            colour = colour_features(crops)
        return self.project_with_colour(feats, colour)

    @torch.inference_mode()
    def project_with_colour(self, feats: np.ndarray, colour: Optional[np.ndarray]) -> np.ndarray:
        """Like `project`, with the colour histograms already computed (training and eval)."""
        if len(feats) == 0:
            return np.zeros((0, self.out_dim), dtype=np.float32)
        x = normalise_features(np.asarray(feats, dtype=np.float32), self.mean, self.std)
        if self.spec.colour_input:
            x = np.concatenate([x, colour * self.spec.colour_input_scale], axis=1)
        kind, learned_colour = self.net(torch.from_numpy(x))
        return fuse(kind.numpy(), None if learned_colour is None else learned_colour.numpy(),
                    colour, self.spec)

    def state(self) -> dict:
        return {"format": FORMAT, "spec": dict(self.spec.__dict__),
                "mean": torch.from_numpy(self.mean), "std": torch.from_numpy(self.std),
                # float16 halves the committed file; inference runs in float32
                "state_dict": {k: v.half() for k, v in self.net.state_dict().items()},
                "meta": self.meta}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(self.state(), tmp)
        tmp.replace(path)


def load_head(path: Path, in_dim: int) -> EmbeddingHead:
    """Load a trained head from disk (offline; plain tensors only, no pickled code)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file
        raise HeadError(f"cannot read the embedding head {path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise HeadError(f"{path} is not a lookbot embedding head ({FORMAT})")
    spec = HeadSpec(**state["spec"])
    if spec.in_dim != in_dim:
        raise HeadError(f"the head {path} was trained on {spec.in_dim}-d backbone features, "
                        f"but this backbone gives {in_dim}-d: retrain it or change the backbone")
    net = HeadNet(spec.in_dim, spec.colour_dim, spec.hidden, spec.emb_dim,
                  colour_emb_dim=spec.colour_emb_dim)
    net.load_state_dict({k: v.float() for k, v in state["state_dict"].items()})
    head = EmbeddingHead(spec, net, state["mean"].numpy(), state["std"].numpy(), state.get("meta"))
    log.info("embedding head %s: %d -> %d", path.name, in_dim, head.out_dim)
    return head
