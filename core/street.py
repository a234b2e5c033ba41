"""What a street photo says beyond its boxes: the wearer's gender, each garment's type and colour.

Small linear models over the backbone features `look` already computes (and the garment's colour
histogram), trained by `lookbot train-street` on CCP street crops (training/street_training.py):

- the wearer: each garment votes women/men, and so do the person box and the head box; the
  votes are combined in log-odds into one probability (see `WearerCall`);
- the garment: its CCP label (coat, blouse, jeans, ...), turned into catalog article types by the
  one mapping in core/ccp_types.py, and its colour family (core/colour_names.py).

`ArticleHint` carries one garment's prediction to the search: its likeliest type and a confident
colour family filter (products that disagree move behind the products that agree), and every
type's and family's probability re-ranks (core/rerank.py). core/outfit.py reads one photo's
outfit with it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .ccp_types import likeliest, type_plausibility
from .garment_geometry import geometry_inputs

log = logging.getLogger(__name__)

FORMAT = "lookbot-street/2"  # /2: the type model also reads the garment's geometry
STREET_FILE = "street_model.pt"


class StreetModelError(ValueError):
    """The street model file is missing, foreign or does not fit the backbone."""


@dataclass
class WearerCall:
    """The wearer's gender: `gender` is women, men or unsure; `leaning` the likelier of the two.

    `p_women` comes from models fitted with both genders weighted alike, so it is not the chance
    that the wearer is a woman on the street, where most photos show women: `lean` is where that
    chance crosses one half (at the train photos' share of men, for such a fit)."""

    p_women: float
    low: float = 0.5  # at or below: men
    high: float = 0.5  # at or above: women
    lean: float = 0.5  # in the unsure band, at or above: leaning women

    @property
    def gender(self) -> str:
        if self.p_women >= self.high:
            return "women"
        if self.p_women <= self.low:
            return "men"
        return "unsure"

    @property
    def leaning(self) -> str:
        return "women" if self.p_women >= self.lean else "men"

    def to_json(self) -> dict:
        return {"gender": self.gender, "p_women": round(float(self.p_women), 3)}


def vote(garment_logits: Sequence[float], person_logit: Optional[float],
         head_logit: Optional[float], weights: Sequence[float]) -> float:
    """P(women) from per-garment log-odds (averaged), the person box's and the head box's, by the
    fitted weights (garment, person, head, bias); missing evidence adds nothing."""
    wg, wp, wh, bias = (float(w) for w in weights)
    z = bias
    if len(garment_logits):
        z += wg * float(np.mean(garment_logits))
    if person_logit is not None:
        z += wp * float(person_logit)
    if head_logit is not None:
        z += wh * float(head_logit)
    return float(1.0 / (1.0 + np.exp(-z)))


def resolve_gender(choice: str, call: Optional[WearerCall]) -> tuple[str, bool, str]:
    """(gender to search, unisex first?, source) for the shopper's choice and the wearer call.

    A choice of men, women or any is the shopper's ("you"). "auto" takes the wearer's gender from
    the photo; an unsure wearer gets unisex products and the likelier gender's, unisex first
    among products of the garment's type (core/rerank.py), never the other gender's, and never
    kids' (the men and women scopes hold no Boys or Girls products).
    """
    choice = (choice or "auto").strip().lower()
    if choice != "auto":
        return choice, False, "you"
    if call is None:
        return "any", False, "none"
    if call.gender == "unsure":
        return call.leaning, True, "photo"
    return call.gender, False, "photo"


@dataclass
class ArticleHint:
    """One garment's predicted catalog types and colour family, for ordering search results."""

    types: dict[str, float] = field(default_factory=dict)  # article type -> P(a shopper accepts)
    families: dict[str, float] = field(default_factory=dict)  # colour family -> probability
    sure_types: frozenset[str] = frozenset()  # the likeliest type(s): filter to these when set
    sure_family: Optional[str] = None  # filter to this when set
    unisex_first: bool = False  # the wearer is unsure: unisex products first

    def to_wire(self) -> dict:
        """Everything, as JSON values (for the engine service, core/remote.py)."""
        return {"types": self.types, "families": self.families,
                "sure_types": sorted(self.sure_types), "sure_family": self.sure_family,
                "unisex_first": self.unisex_first}

    @classmethod
    def from_wire(cls, wire: Optional[dict]) -> Optional["ArticleHint"]:
        if not wire:
            return None
        return cls(dict(wire["types"]), dict(wire["families"]), frozenset(wire["sure_types"]),
                   wire.get("sure_family"), bool(wire.get("unisex_first")))

    def to_json(self) -> dict:
        # a tie goes to the type listed first (core/ccp_types.py), the same in every process
        top = max(self.types, key=self.types.get) if self.types else None
        fam = max(self.families, key=self.families.get) if self.families else None
        return {"type": top, "type_sure": sorted(self.sure_types),
                "colour_family": fam, "colour_sure": self.sure_family}


def _linear(state: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    return state[f"{name}.weight"].float().numpy(), state[f"{name}.bias"].float().numpy()


class StreetModel:
    """The trained street models; `predict` reads the features `look` already has."""

    def __init__(self, state: dict):
        meta = state["meta"]
        self.meta = meta
        self.labels: list[str] = list(meta["labels"])
        self.label_category: list[str] = list(meta["label_category"])
        self.families: list[str] = list(meta["families"])
        self.mean = state["mean"].float().numpy()
        self.std = state["std"].float().numpy()
        self.type_w, self.type_b = _linear(state["weights"], "type")
        self.colour_w, self.colour_b = _linear(state["weights"], "colour")
        self.garment_w, self.garment_b = _linear(state["weights"], "garment_gender")
        self.person_w, self.person_b = _linear(state["weights"], "person_gender")
        self.head_w, self.head_b = _linear(state["weights"], "head_gender")
        self.shape_mean = state["shape_mean"].float().numpy()
        self.shape_std = state["shape_std"].float().numpy()
        self.geo_mean = state["geo_mean"].float().numpy()
        self.geo_std = state["geo_std"].float().numpy()
        self.geo_scale = float(meta["geometry_scale"])
        self.vote_weights = tuple(meta["vote_weights"])
        self.gender_low, self.gender_high = meta["gender_thresholds"]
        self.gender_lean = float(meta.get("gender_leaning", 0.5))
        self.type_sure = float(meta["type_sure"])
        self.colour_sure = float(meta["colour_sure"])
        self.in_dim = self.mean.shape[0]

    def uses(self, part: str) -> bool:
        """Whether the vote reads the "person" or the "head" box (a zero weight: not worth a crop)."""
        return abs(self.vote_weights[{"garments": 0, "person": 1, "head": 2}[part]]) > 1e-6

    # --- inputs ------------------------------------------------------------------------
    def _features(self, feats: np.ndarray) -> np.ndarray:
        feats = np.asarray(feats, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != self.in_dim:
            raise StreetModelError(f"the street model expects (n, {self.in_dim}) backbone "
                                   f"features, got {feats.shape}")
        unit = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
        return (unit - self.mean) / self.std

    # --- predictions -------------------------------------------------------------------
    def garment_logits(self, feats: np.ndarray, colour: np.ndarray) -> np.ndarray:
        x = np.concatenate([self._features(feats), colour], axis=1)
        return x @ self.garment_w[0] + self.garment_b[0]

    def person_logit(self, feats: np.ndarray) -> float:
        return float(self._features(feats[None])[0] @ self.person_w[0] + self.person_b[0])

    def head_logit(self, feats: np.ndarray, shape: np.ndarray) -> float:
        x = np.concatenate([self._features(feats[None])[0],
                            (shape - self.shape_mean) / self.shape_std])
        return float(x @ self.head_w[0] + self.head_b[0])

    def wearer(self, garment_feats: np.ndarray, garment_colour: np.ndarray,
               person_feats: Optional[np.ndarray] = None, head_feats: Optional[np.ndarray] = None,
               shape: Optional[np.ndarray] = None) -> WearerCall:
        """The wearer's gender from the outfit's garments, the person box and the head box
        (with the body's proportions from the pose)."""
        g = self.garment_logits(garment_feats, garment_colour) if len(garment_feats) else []
        p = self.person_logit(person_feats) if person_feats is not None else None
        h = self.head_logit(head_feats, shape) if head_feats is not None and shape is not None \
            else None
        return WearerCall(vote(list(g), p, h, self.vote_weights), self.gender_low,
                          self.gender_high, self.gender_lean)

    def articles(self, feats: np.ndarray, colour: np.ndarray, categories: Sequence[str],
                 geometry: np.ndarray) -> list[ArticleHint]:
        """One hint per garment: its catalog types and colour family, sure or not; `geometry`
        holds each garment's place on the person (core/garment_geometry.py)."""
        if len(feats) == 0:
            return []
        x = np.concatenate([self._features(feats), colour, geometry_inputs(
            geometry, self.geo_mean, self.geo_std, self.geo_scale)], axis=1)
        type_logits = x @ self.type_w.T + self.type_b
        colour_logits = colour @ self.colour_w.T + self.colour_b
        out = []
        for tl, cl, cat in zip(type_logits, colour_logits, categories):
            allowed = np.array([c == cat for c in self.label_category])
            types: dict[str, float] = {}
            if allowed.any():
                z = np.where(allowed, tl, -np.inf)
                p = np.exp(z - z.max())
                p /= p.sum()
                types = type_plausibility({lab: float(q) for lab, q in zip(self.labels, p) if q > 0})
            pc = np.exp(cl - cl.max())
            pc /= pc.sum()
            families = {f: float(q) for f, q in zip(self.families, pc)}
            sure_types = likeliest(types, self.type_sure)
            fam = max(families, key=families.get)
            out.append(ArticleHint(types, families, sure_types,
                                   fam if families[fam] >= self.colour_sure else None))
        return out


def load_street_model(path: Path, in_dim: Optional[int] = None) -> StreetModel:
    """The street model from disk (offline; plain tensors only, no pickled code)."""
    import torch  # here: a bot on a remote engine imports this module for ArticleHint alone

    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # missing, corrupt or foreign file
        raise StreetModelError(f"cannot read the street model {path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise StreetModelError(f"{path} is not a lookbot street model ({FORMAT})")
    model = StreetModel(state)
    if in_dim is not None and model.in_dim != in_dim:
        raise StreetModelError(f"the street model {path} was trained on {model.in_dim}-d "
                               f"features, but this backbone gives {in_dim}-d: retrain it "
                               "(lookbot train-street)")
    return model


def street_model_for(config, embedder) -> Optional[StreetModel]:
    """The street model in models_dir when present, switched on and trained on the features of
    `embedder`'s backbone; otherwise None, with a warning when one is there but does not fit."""
    path = config.models_dir / STREET_FILE
    if not config.use_street_model or not path.exists():
        return None
    try:
        model = load_street_model(path, embedder.backbone.dim)
    except StreetModelError as exc:
        log.warning("%s; looking without the street model", exc)
        return None
    if model.meta.get("backbone") != embedder.backbone_version:
        log.warning("the street model was trained on %s features, the backbone is %s: looking "
                    "without it (lookbot train-street)", model.meta.get("backbone"), embedder.backbone_version)
        return None
    if model.meta.get("features", embedder.features_key) != embedder.features_key:  # close, not its own
        log.warning("the street model learnt from %s features, not %s: retrain it (lookbot "
                    "train-street)", model.meta["features"], embedder.features_key)
    return model
