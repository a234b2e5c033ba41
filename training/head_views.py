"""Training views of catalog shots and their cached inputs.

View 0 is the clean catalog shot; view v > 0 is a deterministic street-like augmentation
(background replaced by a real street patch or a plain colour, crop or zoom-out, lighting, blur,
flip; colours kept). The frozen backbone's features and the colour histograms of every view are
cached under `data/models/cache/` (gitignored), so training the head needs the CNN only once.
"""
from __future__ import annotations

import hashlib
import logging
import random
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from core.config import Config
from core.catalog_items import CatalogItem
from .head_data import CCP_DIR, street_photos

log = logging.getLogger(__name__)

CHUNK = 128  # images per cache file


# --- augmentation towards street crops -----------------------------------------------------
class Backgrounds:
    """Patches of real street photos, used to replace the white studio background.

    Only photos outside the detector's validation split are used, since `lookbot eval` takes
    its street-to-shop queries from that split.
    """

    def __init__(self, count: int = 120, seed: int = 0):
        rng = random.Random(seed)
        folder = CCP_DIR / "photos"
        val = set(street_photos())
        names = sorted(p.name for p in folder.glob("*.jpg") if p.name not in val)
        rng.shuffle(names)
        self.photos: list[Image.Image] = []
        for name in names[:count]:
            with Image.open(folder / name) as im:
                self.photos.append(im.convert("RGB").reduce(2))

    def patch(self, rng: random.Random, size: tuple[int, int]) -> Image.Image:
        w, h = size
        kind = rng.random()
        if not self.photos or kind < 0.25:
            c = tuple(rng.randint(40, 230) for _ in range(3))
            return Image.new("RGB", size, c)
        photo = rng.choice(self.photos)
        pw, ph = photo.size
        side = rng.randint(min(pw, ph) // 4, min(pw, ph) // 2)
        x, y = rng.randint(0, pw - side), rng.randint(0, ph - side)
        return photo.crop((x, y, x + side, y + side)).resize(size, Image.BILINEAR)


def studio_background_mask(arr: np.ndarray, threshold: int = 232) -> np.ndarray:
    """Near-white pixels connected to the image border (the studio background)."""
    from scipy import ndimage

    white = arr.min(axis=2) >= threshold
    labels, n = ndimage.label(white)
    if n == 0:
        return white
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    border = border[border > 0]
    return np.isin(labels, border)


def augment(image: Image.Image, rng: random.Random, backgrounds: Optional[Backgrounds]
            ) -> Image.Image:
    """One street-like view of a catalog shot; colours are kept (no hue shifts)."""
    image = image.convert("RGB")
    w, h = image.size
    if backgrounds is not None and rng.random() < 0.7:
        arr = np.asarray(image)
        mask = studio_background_mask(arr)
        bg = np.asarray(backgrounds.patch(rng, (w, h)))
        arr = np.where(mask[..., None], bg, arr).astype(np.uint8)
        image = Image.fromarray(arr)
    r = rng.random()
    if r < 0.6:  # random crop, as a tight or shifted detector box
        scale = rng.uniform(0.55, 1.0)
        aspect = rng.uniform(0.75, 1.33)
        cw = int(round(min(w, w * np.sqrt(scale * aspect))))
        ch = int(round(min(h, h * np.sqrt(scale / aspect))))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        image = image.crop((x, y, x + cw, y + ch))
    elif r < 0.8:  # zoom out: a loose box with context around the garment
        pad = rng.uniform(0.05, 0.25)
        fill = tuple(rng.randint(60, 230) for _ in range(3))
        image = ImageOps.expand(image, border=int(pad * max(w, h)), fill=fill)
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.75, 1.25))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.8, 1.2))
    image = ImageEnhance.Color(image).enhance(rng.uniform(0.85, 1.15))
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    return image


def view_image(item: CatalogItem, view: int, backgrounds: Optional[Backgrounds],
               seed: int = 0) -> Image.Image:
    """View 0 is the clean shot; view v > 0 is a deterministic augmentation."""
    with Image.open(item.file) as im:
        image = im.convert("RGB")
    if view == 0:
        return image
    return augment(image, random.Random(f"{seed}:{item.id}:{view}"), backgrounds)


# --- feature cache -------------------------------------------------------------------------
def cache_dir(config: Config, backbone_version: str) -> Path:
    return config.models_dir / "cache" / backbone_version


def extract_view(config: Config, items: Sequence[CatalogItem], view: int, seed: int = 0,
                 batch: int = 32, embedder=None, cached_only: bool = False,
                 progress: bool = True, source: str = "") -> dict[str, np.ndarray]:
    """Backbone features of items in one view, cached on disk in chunks (resumable).

    With `cached_only`, nothing is extracted: only what the cache holds comes back.
    """
    from core.embed import Embedder

    from tqdm import tqdm

    embedder = embedder or Embedder.from_config(config, head=False)
    folder = cache_dir(config, embedder.backbone_version) / f"{source}view{view}-seed{seed}"
    feats: dict[str, np.ndarray] = {}
    if folder.exists():
        for path in sorted(folder.glob("*.npz")):
            with np.load(path) as z:
                feats.update(zip(z["ids"].tolist(), z["feats"]))
    wanted = {it.id for it in items}
    todo = [] if cached_only else [it for it in items if it.id not in feats]
    if todo:
        log.info("view %d: %d cached, %d to extract", view, len(wanted & set(feats)), len(todo))
        folder.mkdir(parents=True, exist_ok=True)
        backgrounds = Backgrounds() if view > 0 else None
        bar = tqdm(total=len(todo), desc=f"features view {view}", unit="img",
                   disable=not progress)
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start:start + CHUNK]
            vecs = []
            for b in range(0, len(chunk), batch):
                images = [view_image(it, view, backgrounds, seed) for it in chunk[b:b + batch]]
                vecs.append(embedder.backbone_features(images))
                bar.update(len(images))
            ids = [it.id for it in chunk]
            arr = np.concatenate(vecs).astype(np.float16)
            np.savez(folder / f"{int(time.time() * 1000)}-{start:05d}.npz", ids=np.array(ids),
                     feats=arr)
            feats.update(zip(ids, arr))
        bar.close()
    return {k: v.astype(np.float32) for k, v in feats.items() if k in wanted}


def extract_street(config: Config, crops: Sequence[Image.Image], batch: int = 32,
                   embedder=None) -> np.ndarray:
    """Backbone features of the street crops, cached as one file keyed by their pixels."""
    from core.embed import Embedder

    embedder = embedder or Embedder.from_config(config, head=False)
    root = cache_dir(config, embedder.backbone_version)
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1()
    for c in crops:
        digest.update(np.asarray(c.resize((8, 8))).tobytes())
    path = root / f"street-{len(crops)}-{digest.hexdigest()[:10]}.npy"
    if path.exists():
        return np.load(path).astype(np.float32)
    vecs = []
    for b in range(0, len(crops), batch):
        vecs.append(embedder.backbone_features(list(crops[b:b + batch])))
        log.info("street crops: %d/%d", min(b + batch, len(crops)), len(crops))
    arr = np.concatenate(vecs) if vecs else np.zeros((0, embedder.backbone.dim), np.float32)
    np.save(path, arr.astype(np.float16))
    return arr.astype(np.float32)


# --- colour features per view (cheap, cached beside the backbone features) -----------------
def colour_view(config: Config, items: Sequence[CatalogItem], view: int, seed: int = 0,
                source: str = "") -> dict[str, np.ndarray]:
    """Colour histograms of items in one view (the same pixels the backbone saw)."""
    from core.colour import COLOUR_FEATURE_DIM, COLOUR_VERSION, colour_bands

    folder = config.models_dir / "cache" / "colour"
    path = folder / f"{COLOUR_VERSION}-{source}view{view}-seed{seed}.npz"
    known: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as z:
            known = dict(zip(z["ids"].tolist(), z["hist"]))
    todo = [it for it in items if it.id not in known]
    if todo:
        backgrounds = Backgrounds() if view > 0 else None
        for it in todo:
            known[it.id] = colour_bands(view_image(it, view, backgrounds, seed))
        folder.mkdir(parents=True, exist_ok=True)
        ids = sorted(known)
        np.savez(path, ids=np.array(ids),
                 hist=np.stack([known[i] for i in ids]).astype(np.float32).reshape(-1, COLOUR_FEATURE_DIM))
    return {it.id: known[it.id] for it in items}
