"""Versioned Annoy indexes per category and gender, switched atomically by a pointer file."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
from annoy import AnnoyIndex

from .records import CATEGORIES, GENDERS

log = logging.getLogger(__name__)

POINTER = "CURRENT"
MANIFEST = "manifest.json"

# Which catalog genders a shopper's choice reaches.
GENDER_SCOPES: dict[str, tuple[str, ...]] = {
    "men": ("Men", "Unisex"),
    "women": ("Women", "Unisex"),
    "any": ("Men", "Women", "Unisex"),  # adults: kids' products only when asked for
    "kids": ("Boys", "Girls", "Kids"),
}


class IndexMismatch(RuntimeError):
    """Vectors from one embedding were offered to an index built by another."""


# Other words for the scopes, the one table the CLI, the engine and the bot's /gender read.
GENDER_ALIASES: dict[str, str] = {
    "man": "men", "male": "men", "m": "men", "woman": "women", "female": "women", "w": "women",
    "f": "women", "all": "any", "everyone": "any", "kid": "kids", "children": "kids",
    "child": "kids"}


# Whose products a gender scope shows, in words, for the bot's cards and the CLI's text.
WHOSE: dict[str, str] = {"women": "women's", "men": "men's", "kids": "kids'",
                         "any": "men's, women's and unisex"}


def normalise_gender(gender: Optional[str]) -> str:
    g = (gender or "").strip().lower() or "any"
    g = GENDER_ALIASES.get(g, g)
    if g not in GENDER_SCOPES:
        raise ValueError(f"gender must be men, women, any or kids, not {gender!r}")
    return g


def group_name(category: str, gender: str) -> str:
    return f"{category}.{gender.lower()}"


@dataclass
class IndexBuild:
    """Vectors collected for one build, grouped by category and catalog gender."""

    embedding: str
    dim: int
    groups: dict[str, list[tuple[str, np.ndarray]]] = field(default_factory=dict)

    def add(self, product_id: str, category: str, gender: Optional[str], vector: np.ndarray
            ) -> None:
        if vector.shape != (self.dim,):
            raise IndexMismatch(f"vector of shape {vector.shape} in a {self.dim}-d index")
        gender = gender if gender in GENDERS else "Unisex"
        self.groups.setdefault(group_name(category, gender), []).append((product_id, vector))


def write_version(root: Path, build: IndexBuild, trees: int = 50,
                  version: Optional[str] = None, keep: int = 3) -> str:
    """Write all Annoy files of a build into a new version folder, then switch to it."""
    root.mkdir(parents=True, exist_ok=True)
    version = version or dt.datetime.now(dt.timezone.utc).strftime("v%Y%m%d-%H%M%S-%f")
    tmp = root / f"tmp-{version}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    manifest = {"version": version, "embedding": build.embedding, "dim": build.dim,
                "metric": "euclidean", "trees": trees,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "groups": {}}
    for name, items in sorted(build.groups.items()):
        index = AnnoyIndex(build.dim, "euclidean")
        index.set_seed(42)
        for i, (_, vec) in enumerate(items):
            index.add_item(i, vec.tolist())
        index.build(trees, n_jobs=1)
        index.save(str(tmp / f"{name}.ann"))
        index.unload()
        (tmp / f"{name}.ids.json").write_text(json.dumps([pid for pid, _ in items]))
        manifest["groups"][name] = len(items)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    final = root / version
    os.replace(tmp, final)
    switch_to(root, version)
    prune(root, keep=keep)
    return version


def switch_to(root: Path, version: str) -> None:
    """Make `version` current with one atomic rename, so readers never see a half state."""
    if not (root / version / MANIFEST).exists():
        raise FileNotFoundError(f"no complete index version {version} in {root}")
    tmp = root / f"{POINTER}.tmp-{os.getpid()}"
    tmp.write_text(version + "\n")
    os.replace(tmp, root / POINTER)


def current_version(root: Path) -> Optional[str]:
    try:
        return (root / POINTER).read_text().strip() or None
    except FileNotFoundError:
        return None


def missing_index(config) -> str:
    """What to run when `config` (a core.config.Config) has no index: with no catalog either,
    the step before."""
    if config.catalog_path.exists():
        return f"no index in {config.index_root}: run `lookbot index` first"
    return (f"no catalog and no index in {config.data_dir}: run `lookbot build-demo` (or "
            f"`lookbot crawl`), then `lookbot index`")


def prune(root: Path, keep: int = 3) -> None:
    """Delete old versions, always keeping the current one and the `keep` newest."""
    current = current_version(root)
    versions = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("v"))
    for old in versions[:-keep]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob("tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


@dataclass
class Hit:
    product_id: str
    distance: float


class CatalogIndex:
    """One loaded index version: memory-mapped Annoy files, queried per category and gender."""

    def __init__(self, root: Path, version: Optional[str] = None, search_k_factor: int = 20):
        self.root = Path(root)
        self.version = version or current_version(self.root)
        if self.version is None:
            raise FileNotFoundError(f"no index in {self.root}: run `lookbot index` first")
        folder = self.root / self.version
        self.manifest = json.loads((folder / MANIFEST).read_text())
        self.embedding: str = self.manifest["embedding"]
        self.dim: int = self.manifest["dim"]
        self.trees: int = self.manifest["trees"]
        self.search_k_factor = search_k_factor
        self._indexes: dict[str, AnnoyIndex] = {}
        self._ids: dict[str, list[str]] = {}
        for name in self.manifest["groups"]:
            index = AnnoyIndex(self.dim, "euclidean")
            index.load(str(folder / f"{name}.ann"))  # mmap: pages load on demand
            self._indexes[name] = index
            self._ids[name] = json.loads((folder / f"{name}.ids.json").read_text())

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._ids.values())

    def counts(self) -> dict[str, int]:
        out = {c: 0 for c in CATEGORIES}
        for name, ids in self._ids.items():
            out[name.split(".")[0]] += len(ids)
        return out

    def check(self, vector: np.ndarray, embedding: Optional[str]) -> None:
        if embedding is not None and embedding != self.embedding:
            raise IndexMismatch(f"index {self.version} holds {self.embedding!r} vectors, "
                                f"not {embedding!r}: rebuild it with `lookbot index`")
        if vector.shape[-1] != self.dim:
            raise IndexMismatch(f"index {self.version} is {self.dim}-d, vector is "
                                f"{vector.shape[-1]}-d")

    def query(self, vector: np.ndarray, category: str, gender: str = "any", n: int = 10,
              embedding: Optional[str] = None, exclude: Iterable[str] = ()) -> list[Hit]:
        """The `n` nearest products of a category within the gender scope, nearest first."""
        self.check(vector, embedding)
        excluded = set(exclude)
        hits: list[Hit] = []
        vec = vector.astype(np.float32).tolist()
        want = n + len(excluded)
        for g in GENDER_SCOPES[normalise_gender(gender)]:
            name = group_name(category, g)
            index = self._indexes.get(name)
            if index is None:
                continue
            search_k = max(want * self.trees * self.search_k_factor, 2000)
            items, dists = index.get_nns_by_vector(vec, want, search_k=search_k,
                                                   include_distances=True)
            ids = self._ids[name]
            hits.extend(Hit(ids[i], d) for i, d in zip(items, dists) if ids[i] not in excluded)
        hits.sort(key=lambda h: h.distance)
        return hits[:n]

    def close(self) -> None:
        for index in self._indexes.values():
            index.unload()
        self._indexes.clear()
