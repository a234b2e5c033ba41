"""`lookbot train-embedding`: learn the fashion embedding head on cached backbone features.

The backbone stays frozen, so its features are computed once per (image, view) and cached in
`data/models/cache/` (gitignored). View 0 is the clean catalog shot; the other views are
augmented towards street crops: background replaced by real street patches (CCP photos
0001-0400, never the street evaluation photos) or plain colours, random crop and zoom-out,
lighting, blur and flips. The head is trained with normalised-softmax classification
(Zhai & Wu, "Classification is a Strong Baseline for Deep Metric Learning") on article type,
colour, gender and product identity, then measured on a fixed-seed holdout of catalog items
that `lookbot eval` reuses through `data/models/embedding_split.json`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from .config import REPO_ROOT, Config

log = logging.getLogger(__name__)

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
CATALOG_CSV = SHARED_DATA / "catalog" / "products.csv"
HIRES_CSV = SHARED_DATA / "catalog" / "products_hires.csv"
CCP_DIR = SHARED_DATA / "ccp"
SPLIT_NAME = "embedding_split.json"
HEAD_NAME = "embedding_head.pt"
REPORT_NAME = "embedding_report.json"
CHUNK = 128


@dataclass
class CatalogItem:
    id: str
    gender: str
    category: str
    article_type: str
    colour: str
    path: Path


def load_catalog(csv_path: Path = CATALOG_CSV) -> list[CatalogItem]:
    """The labelled catalog rows whose image file exists, sorted by id."""
    if not csv_path.exists():
        raise FileNotFoundError(f"catalog labels not found: {csv_path}")
    root = csv_path.parent
    items = []
    with csv_path.open(newline="") as f:
        for row in csv.DictReader(f):
            path = root / row["file"]
            if path.exists():
                items.append(CatalogItem(row["id"], row["gender"], row["category"],
                                         row["article_type"], row["colour"], path))
    items.sort(key=lambda it: int(it.id) if it.id.isdigit() else it.id)
    return items


def make_split(items: Sequence[CatalogItem], holdout_fraction: float = 0.3, seed: int = 7
               ) -> dict:
    """Fixed-seed holdout, stratified by article type so every type is measured."""
    rng = random.Random(seed)
    by_type: dict[str, list[str]] = {}
    for it in items:
        by_type.setdefault(it.article_type, []).append(it.id)
    train, holdout = [], []
    for t in sorted(by_type):
        ids = sorted(by_type[t])
        rng.shuffle(ids)
        n = int(round(len(ids) * holdout_fraction))
        holdout += ids[:n]
        train += ids[n:]
    return {"seed": seed, "holdout_fraction": holdout_fraction, "source": str(CATALOG_CSV),
            "note": "catalog ids the embedding head was trained on (train) and kept out of "
                    "training for measurement (holdout)",
            "train": sorted(train, key=int), "heldout": sorted(holdout, key=int)}


def load_or_make_split(path: Path, items: Sequence[CatalogItem], **kwargs) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    split = make_split(items, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(split, indent=1))
    return split


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
    with Image.open(item.path) as im:
        image = im.convert("RGB")
    if view == 0:
        return image
    return augment(image, random.Random(f"{seed}:{item.id}:{view}"), backgrounds)


# --- street crops from CCP, for the street-to-shop check ------------------------------------
def street_photos(config: Optional[Config] = None) -> list[str]:
    """The CCP photos `lookbot eval` queries with: the detector's validation split."""
    models_dir = config.models_dir if config is not None else Config().models_dir
    path = models_dir / "detector_split.json"
    if path.exists():
        data = json.loads(path.read_text())
        if isinstance(data.get("val"), list):
            return sorted(data["val"])
    from .detector_training import split_photos

    names = sorted(p.name for p in (CCP_DIR / "photos").glob("*.jpg"))
    return split_photos(names, n_val=160, seed=0)["val"]


def street_tuning_photos(config: Optional[Config] = None, n: int = 160, seed: int = 1
                         ) -> list[str]:
    """CCP photos outside the evaluation photos, for choosing the colour weights."""
    val = set(street_photos(config))
    names = sorted(p.name for p in (CCP_DIR / "photos").glob("*.jpg") if p.name not in val)
    random.Random(seed).shuffle(names)
    return sorted(names[:n])


def street_queries(config: Config, limit: Optional[int] = None,
                   photos: Optional[Sequence[str]] = None):
    """(garments, crops, owner) exactly as `lookbot eval` cuts them (core.evaluate).

    `photos` defaults to the evaluation photos (`street_photos`).
    """
    from .eval_retrieval import street_garments
    from .imageio import decode
    from .pipeline import crop

    photos = list(photos) if photos is not None else street_photos(config)
    if limit is not None:
        photos = photos[:limit]
    garments = street_garments(CCP_DIR, photos)
    crops, owner = [], []
    for gi, g in enumerate(garments):
        photo = decode((CCP_DIR / "photos" / g.image).read_bytes(),
                       max_bytes=config.max_image_bytes, max_pixels=config.max_image_pixels,
                       work_side=config.work_side)
        for box in g.boxes:
            crops.append(crop(photo, tuple(v / photo.scale for v in box)))
            owner.append(gi)
    return garments, crops, np.array(owner, dtype=np.int64)


# --- feature cache -------------------------------------------------------------------------
def cache_dir(config: Config, backbone_version: str) -> Path:
    return config.models_dir / "cache" / backbone_version


def extract_view(config: Config, items: Sequence[CatalogItem], view: int, seed: int = 0,
                 batch: int = 32, embedder=None, cached_only: bool = False,
                 progress: bool = True, source: str = "") -> dict[str, np.ndarray]:
    """Backbone features of items in one view, cached on disk in chunks (resumable).

    With `cached_only`, nothing is extracted: only what the cache holds comes back.
    """
    from .embed import Embedder

    from tqdm import tqdm

    backbone = embedder.backbone_version if embedder is not None else f"{config.backbone}-224"
    folder = cache_dir(config, backbone) / f"{source}view{view}-seed{seed}"
    feats: dict[str, np.ndarray] = {}
    if folder.exists():
        for path in sorted(folder.glob("*.npz")):
            with np.load(path) as z:
                feats.update(zip(z["ids"].tolist(), z["feats"]))
    wanted = {it.id for it in items}
    todo = [] if cached_only else [it for it in items if it.id not in feats]
    if todo:
        log.info("view %d: %d cached, %d to extract", view, len(wanted & set(feats)), len(todo))
        embedder = embedder or Embedder(config.backbone, head_path=None)
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
    from .embed import Embedder

    embedder = embedder or Embedder(config.backbone, head_path=None)
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
    from .head import COLOUR_FEATURE_DIM, COLOUR_VERSION, colour_bands

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


# --- measurement ---------------------------------------------------------------------------
def _gender_group(g: str) -> str:
    return {"Men": "men", "Boys": "men", "Women": "women", "Girls": "women"}.get(g, "unisex")


def same_gender(a: str, b: str) -> bool:
    ga, gb = _gender_group(a), _gender_group(b)
    return ga == gb or "unisex" in (ga, gb)


def knn_by_category(vectors: np.ndarray, cats: Sequence[str], queries: np.ndarray,
                    qcats: Sequence[str], k: int = 5, qself: Optional[Sequence[int]] = None
                    ) -> list[list[int]]:
    """Exact cosine top-k among gallery rows of the query's category (self excluded)."""
    cats = np.asarray(cats)
    out: list[list[int]] = [[] for _ in range(len(queries))]
    for c in sorted(set(qcats)):
        rows = np.where(cats == c)[0]
        qi = [i for i, qc in enumerate(qcats) if qc == c]
        if len(rows) == 0:
            continue
        sims = queries[qi] @ vectors[rows].T
        if qself is not None:
            pos = {int(r): j for j, r in enumerate(rows)}
            for a, i in enumerate(qi):
                j = pos.get(int(qself[i]), -1)
                if j >= 0:
                    sims[a, j] = -np.inf
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        for a, i in enumerate(qi):
            out[i] = [int(rows[j]) for j in order[a]]
    return out


def catalog_p5(vectors: np.ndarray, items: Sequence[CatalogItem], query_rows: Sequence[int],
               k: int = 5) -> dict[str, float]:
    """P@k of same article type, colour and gender group, each query against its category."""
    cats = [it.category for it in items]
    nn = knn_by_category(vectors, cats, vectors[list(query_rows)],
                         [cats[i] for i in query_rows], k, qself=list(query_rows))
    t = c = g = 0.0
    for q, row in zip(query_rows, nn):
        a = items[q]
        t += sum(items[j].article_type == a.article_type for j in row) / k
        c += sum(items[j].colour == a.colour for j in row) / k
        g += sum(same_gender(items[j].gender, a.gender) for j in row) / k
    n = max(len(query_rows), 1)
    return {"p5_article_type": round(t / n, 4), "p5_colour": round(c / n, 4),
            "p5_gender": round(g / n, 4), "n_queries": len(query_rows)}


def street_agreement(gallery: np.ndarray, items: Sequence[CatalogItem], garments, qvecs: np.ndarray,
                     k: int = 5) -> dict[str, float]:
    """Colour-family agreement@k and article plausibility@k of street garments (core.evaluate)."""
    from .eval_labels import colour_family, plausible

    nn = knn_by_category(gallery, [it.category for it in items], qvecs,
                         [g.category for g in garments], k)
    fam = pla = 0.0
    for g, row in zip(garments, nn):
        fam += sum(colour_family(items[j].colour) == g.family for j in row) / k
        pla += sum(plausible(g.ccp_label, items[j].article_type) for j in row) / k
    n = max(len(garments), 1)
    return {"colour_family_at5": round(fam / n, 4), "article_plausible_at5": round(pla / n, 4),
            "n_queries": len(garments)}


def per_garment(vectors: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Mean of each garment's crop vectors (both shoes), re-normalised."""
    out = np.stack([vectors[owner == i].mean(0) for i in range(n)]) if n else vectors[:0]
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


# --- training ------------------------------------------------------------------------------
@dataclass
class TrainSettings:
    """Defaults chosen on a validation carve of 500 training items (catalog) and on 160 CCP
    photos outside the evaluation photos (street); never on the held-out items or eval photos.
    colour_weight 0.35: street colour-family@5 0.468 vs 0.452 at 0.25 and 0.409 at 0, for
    catalog type P@5 0.763 vs 0.766 and 0.776. A learned colour branch (colour_emb_dim 32)
    measured no better and is off."""

    epochs: int = 60
    views: int = 3
    emb_dim: int = 256
    hidden: int = 1024
    dropout: float = 0.5
    colour_weight: float = 0.35
    colour_input: bool = True
    colour_emb_dim: int = 0
    colour_emb_weight: float = 0.0
    lr: float = 2e-3
    weight_decay: float = 0.01
    batch_size: int = 256
    temperature: float = 0.1
    # Gaussian noise on the standardised backbone features while training (a JPEG re-encode
    # moves them by about 0.2); 0.3 measured within noise of 0 on the validation carve, so off
    input_noise: float = 0.0
    seed: int = 7
    # type, colour, gender, identity; identity (instance proxies across views) measured worse on
    # the validation carve (P@5 type 0.752 vs 0.762, colour 0.550 vs 0.581), so it is off
    loss_weights: tuple[float, float, float, float] = (1.0, 1.0, 0.5, 0.0)


def _labels(values: Sequence[str], min_count: int = 1, drop: Sequence[str] = ()) -> np.ndarray:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    names = sorted(v for v, n in counts.items() if n >= min_count and v not in drop)
    index = {v: i for i, v in enumerate(names)}
    return np.array([index.get(v, -1) for v in values], dtype=np.int64)


def fit_head(feats: np.ndarray, colour: np.ndarray, items: Sequence[CatalogItem],
             identity: np.ndarray, settings: TrainSettings, progress: bool = True):
    """Train the head by normalised-softmax classification on one row per (item, view)."""
    import torch

    from .head import EmbeddingHead, HeadNet, HeadSpec, normalise_features

    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    unit = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    mean, std = unit.mean(0), unit.std(0) + 1e-4
    spec = HeadSpec(in_dim=feats.shape[1], colour_input=settings.colour_input,
                    colour_weight=settings.colour_weight, hidden=settings.hidden,
                    emb_dim=settings.emb_dim, colour_emb_dim=settings.colour_emb_dim,
                    colour_emb_weight=settings.colour_emb_weight,
                    colour_input_scale=float(np.sqrt(feats.shape[1] / colour.shape[1])))
    x = normalise_features(feats, mean, std)
    if spec.colour_input:
        x = np.concatenate([x, colour * spec.colour_input_scale], axis=1)
    tasks = [_labels([it.article_type for it in items]),
             _labels([it.colour for it in items], min_count=3, drop=("NA", "Multi")),
             _labels([it.gender for it in items]), identity]
    net = HeadNet(spec.in_dim, spec.colour_dim, spec.hidden, spec.emb_dim, settings.dropout,
                  spec.colour_emb_dim)
    # the colour names train the colour branch when there is one, else the kind embedding
    dims = [spec.emb_dim, spec.colour_emb_dim or spec.emb_dim, spec.emb_dim, spec.emb_dim]
    proxies = torch.nn.ParameterList(
        [torch.nn.Parameter(torch.randn(int(t.max()) + 1, d) * 0.01) for t, d in zip(tasks, dims)])
    params = list(net.parameters()) + list(proxies.parameters())
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    steps = settings.epochs * int(np.ceil(len(x) / settings.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=steps,
                                                pct_start=0.1)
    X = torch.from_numpy(x)
    Y = [torch.from_numpy(t) for t in tasks]
    history = []
    net.train()
    for epoch in range(settings.epochs):
        order = torch.from_numpy(rng.permutation(len(X)))
        total, batches = 0.0, 0
        for s in range(0, len(X), settings.batch_size):
            idx = order[s:s + settings.batch_size]
            xb = X[idx]
            if settings.input_noise > 0:
                noise = torch.randn(len(xb), spec.in_dim) * settings.input_noise
                xb = torch.cat([xb[:, :spec.in_dim] + noise, xb[:, spec.in_dim:]], dim=1)
            kind, learned_colour = net(xb)
            kind = torch.nn.functional.normalize(kind, dim=1)
            embs = [kind, kind, kind, kind]
            if learned_colour is not None:
                embs[1] = torch.nn.functional.normalize(learned_colour, dim=1)
            loss = torch.zeros(())
            for w, p, y, emb in zip(settings.loss_weights, proxies, Y, embs):
                yb = y[idx]
                keep = yb >= 0
                if w <= 0 or not bool(keep.any()):
                    continue
                logits = emb[keep] @ torch.nn.functional.normalize(p, dim=1).T
                loss = loss + w * torch.nn.functional.cross_entropy(
                    logits / settings.temperature, yb[keep])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
            batches += 1
        history.append(round(total / max(batches, 1), 4))
        if progress and (epoch % 10 == 0 or epoch == settings.epochs - 1):
            log.info("epoch %d/%d loss %.4f", epoch + 1, settings.epochs, history[-1])
    net.eval()
    head = EmbeddingHead(spec, net, mean, std)
    return head, history


def _stack(d: dict[str, np.ndarray], ids: Sequence[str]) -> np.ndarray:
    return np.stack([d[i] for i in ids]).astype(np.float32)


def train_embedding(config: Config, out: Optional[Path] = None, epochs: int = 60, views: int = 3,
                    subset: Optional[int] = None, colour_weight: float = 0.35,
                    emb_dim: int = 256, extract: bool = True, street: bool = True,
                    holdout_fraction: float = 0.3, seed: int = 7, progress: bool = True,
                    command: str = "", catalog_csv: Path = CATALOG_CSV,
                    extra_csv: Optional[Path] = HIRES_CSV, **settings_overrides) -> dict:
    """Train the embedding head, save it to `out`, and return a report of before/after figures.

    - `out`: head file (default `config.models_dir / embedding_head.pt`); the split
      (`embedding_split.json`) and the report (`embedding_report.json`) are written beside it.
    - `views`: 1 clean + (views - 1) augmented views per training item; augmented features
      are extracted when missing if `extract`, else only the cached ones are used.
    - `subset`: train and measure on the first `subset` catalog items of a fixed shuffle
      (for tests); the split is then made over that subset.
    - `street`: also measure street-to-shop on the CCP crops `lookbot eval` uses.
    - `extra_csv`: more labelled shots for training only (default: the high-resolution
      catalog's products that are not in the gallery); not used with `subset`.
    - `settings_overrides`: any other `TrainSettings` field (hidden, dropout, ...).
    """
    from .embed import Embedder, l2_normalise
    from .head import colour_features

    t0 = time.time()
    out = Path(out) if out is not None else config.models_dir / HEAD_NAME
    items = load_catalog(catalog_csv)
    if subset is not None:
        rng = random.Random(seed)
        items = sorted(rng.sample(items, min(subset, len(items))), key=lambda it: int(it.id))
    split = load_or_make_split(out.parent / SPLIT_NAME, items,
                               holdout_fraction=holdout_fraction, seed=seed)
    train_ids, held_ids = set(split["train"]), set(split["heldout"])
    train_items = [it for it in items if it.id in train_ids]
    if not train_items:
        raise ValueError(f"no catalog item of {catalog_csv} is in the training split "
                         f"{out.parent / SPLIT_NAME}")
    embedder = Embedder(config.backbone, head_path=None)
    settings = TrainSettings(epochs=epochs, views=views, emb_dim=emb_dim,
                             colour_weight=colour_weight, seed=seed, **settings_overrides)

    base = extract_view(config, items, 0, embedder=embedder, progress=progress)
    base_colour = colour_view(config, items, 0)
    rows_f, rows_c, rows_items, rows_id = [], [], [], []
    identity = {it.id: i for i, it in enumerate(train_items)}
    view_counts = {}
    for v in range(views):
        fv = base if v == 0 else extract_view(config, train_items, v, embedder=embedder,
                                              cached_only=not extract, progress=progress)
        have = [it for it in train_items if it.id in fv]
        view_counts[v] = len(have)
        if not have:
            continue
        cv = base_colour if v == 0 else colour_view(config, have, v)
        rows_f.append(_stack(fv, [it.id for it in have]))
        rows_c.append(_stack(cv, [it.id for it in have]))
        rows_items += have
        rows_id += [identity[it.id] for it in have]
    if extra_csv is not None and Path(extra_csv).exists() and subset is None:
        # Extra labelled shots (the high-resolution catalog) of products outside the gallery:
        # training only, clean view only; ids of gallery products are left out.
        known = {it.id for it in items}
        extra = [it for it in load_catalog(Path(extra_csv)) if it.id not in known]
        fe = extract_view(config, extra, 0, embedder=embedder, cached_only=not extract,
                          progress=progress, source="hires-")
        have = [it for it in extra if it.id in fe]
        view_counts["extra"] = len(have)
        if have:
            ce = colour_view(config, have, 0, source="hires-")
            rows_f.append(_stack(fe, [it.id for it in have]))
            rows_c.append(_stack(ce, [it.id for it in have]))
            rows_items += have
            rows_id += list(range(len(identity), len(identity) + len(have)))
    log.info("training rows per view: %s", view_counts)
    head, history = fit_head(np.concatenate(rows_f), np.concatenate(rows_c), rows_items,
                             np.array(rows_id, dtype=np.int64), settings, progress=progress)

    ids = [it.id for it in items]
    feats, colour = _stack(base, ids), _stack(base_colour, ids)
    query_rows = [i for i, it in enumerate(items) if it.id in held_ids]
    report: dict = {
        "command": command, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "backbone": embedder.backbone_version, "settings": asdict(settings),
        "train_items": len(train_items), "heldout_items": len(query_rows),
        "gallery_items": len(items), "training_rows_per_view": view_counts,
        "loss_history": history,
        "catalog": {"before": catalog_p5(l2_normalise(feats), items, query_rows),
                    "after": catalog_p5(l2_normalise(head.project_with_colour(feats, colour)),
                                        items, query_rows)},
    }
    if street:
        try:
            garments, crops, owner = street_queries(config)
            sfeats = extract_street(config, crops, embedder=embedder)
            scolour = colour_features(crops)
            gallery_after = l2_normalise(head.project_with_colour(feats, colour))
            report["street"] = {
                "before": street_agreement(l2_normalise(feats), items, garments,
                                           per_garment(l2_normalise(sfeats), owner, len(garments))),
                "after": street_agreement(gallery_after, items, garments, per_garment(
                    l2_normalise(head.project_with_colour(sfeats, scolour)), owner,
                    len(garments))),
            }
        except (ImportError, FileNotFoundError) as exc:
            log.warning("street-to-shop check skipped: %s", exc)
            report["street"] = {"skipped": str(exc)}
    head.meta = {"command": command, "created": report["created"],
                 "split": SPLIT_NAME, "catalog_after": report["catalog"]["after"]}
    head.save(out)
    report["head_file"] = out.name
    report["out_dim"] = head.out_dim
    report["seconds"] = round(time.time() - t0, 1)
    (out.parent / REPORT_NAME).write_text(json.dumps(report, indent=1))
    return report




# --- speed ---------------------------------------------------------------------------------
def bench_head(config: Config, head_path: Optional[Path] = None, photos_dir: Optional[Path] = None,
               n_photos: int = 12, rounds: int = 3) -> dict:
    """Per-photo latency of decode+gate+detect and of embedding its crops, without and with the
    head, interleaved in one process on real full-shot photos (medians, milliseconds)."""
    from .embed import Embedder
    from .pipeline import Engine, articles_of, crop

    head_path = Path(head_path) if head_path is not None else config.models_dir / HEAD_NAME
    photos_dir = Path(photos_dir) if photos_dir is not None else SHARED_DATA / "people" / "fullshot"
    engine = Engine(config, load_index=False)
    plain = Embedder(config.backbone, head_path=None)
    with_head = Embedder(config.backbone, head_path=head_path)
    if with_head.head is None:
        raise FileNotFoundError(f"no embedding head at {head_path}")
    photos = sorted(photos_dir.glob("*.jpg"))[:n_photos]
    pre, e_plain, e_head, n_crops, proj = [], [], [], [], []
    for path in photos:
        data = path.read_bytes()
        best = np.inf
        for _ in range(rounds if path == photos[0] else 1):
            t = time.perf_counter()
            image = engine.decode(data)
            verdict = engine.gate.check(image.rgb)
            groups = articles_of(engine.detect_photo(image, verdict)) if verdict.full_shot else []
            best = min(best, time.perf_counter() - t)
        crops = [crop(image, d.box) for g in groups for d in g]
        if not crops:
            continue
        plain.embed(crops), with_head.embed(crops)  # warm
        tp, th, tj = [], [], []
        feats = plain.backbone_features(crops)
        for _ in range(rounds):
            t = time.perf_counter()
            with_head.head.project(feats, crops)
            tj.append(time.perf_counter() - t)
            t = time.perf_counter()
            plain.embed(crops)
            tp.append(time.perf_counter() - t)
            t = time.perf_counter()
            with_head.embed(crops)
            th.append(time.perf_counter() - t)
        pre.append(best)
        e_plain.append(min(tp))
        e_head.append(min(th))
        proj.append(min(tj))
        n_crops.append(len(crops))
    if not pre:
        raise ValueError(f"no full-shot photo with articles in {photos_dir}")
    pre_ms, p_ms, h_ms, j_ms = (float(np.median(x) * 1000) for x in (pre, e_plain, e_head, proj))
    return {"photos": len(pre), "crops_per_photo": float(np.mean(n_crops)),
            "decode_gate_detect_ms": round(pre_ms, 1), "embed_no_head_ms": round(p_ms, 1),
            "embed_head_ms": round(h_ms, 1), "embed_ratio": round(h_ms / p_ms, 3),
            "end_to_end_ratio": round((pre_ms + h_ms) / (pre_ms + p_ms), 3),
            "head_project_ms": round(j_ms, 2),
            "head_share_of_no_head": round(j_ms / (pre_ms + p_ms), 4),
            "note": "search is left out: it is the same Annoy lookup, on 256-d instead of "
                    "1280-d vectors with the head"}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m core.head_training [train|bench] ...` until `lookbot train-embedding` wraps it."""
    import argparse
    import shlex
    import sys

    import torch

    parser = argparse.ArgumentParser(prog="python -m core.head_training")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("train", help="train the embedding head and print before/after figures")
    p.add_argument("--out", type=Path, default=None, help="head file (default data/models/...)")
    p.add_argument("--epochs", type=int, default=TrainSettings.epochs)
    p.add_argument("--views", type=int, default=TrainSettings.views)
    p.add_argument("--colour-weight", type=float, default=TrainSettings.colour_weight)
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--cached-only", action="store_true", help="extract no new augmented views")
    p.add_argument("--no-street", action="store_true")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads; 1 is fastest for this small MLP on a shared CPU")
    b = sub.add_parser("bench", help="latency with and without the head on full-shot photos")
    b.add_argument("--photos", type=Path, default=None)
    b.add_argument("--n", type=int, default=12)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = Config.from_env()
    if args.cmd == "train":
        torch.set_num_threads(args.threads)
        command = "python -m core.head_training " + " ".join(
            shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        report = train_embedding(config, out=args.out, epochs=args.epochs, views=args.views,
                                 subset=args.subset, colour_weight=args.colour_weight,
                                 extract=not args.cached_only, street=not args.no_street,
                                 command=command)
        print(format_report(report))
    else:
        print(json.dumps(bench_head(config, photos_dir=args.photos, n_photos=args.n), indent=1))
    return 0


def format_report(report: dict) -> str:
    lines = [f"{'figure':<28}{'before':>9}{'after':>9}"]
    for part, keys in (("catalog", ("p5_article_type", "p5_colour", "p5_gender")),
                       ("street", ("colour_family_at5", "article_plausible_at5"))):
        fig = report.get(part, {})
        if "before" not in fig:
            continue
        for k in keys:
            lines.append(f"{part + ' ' + k:<28}{fig['before'][k]:>9.3f}{fig['after'][k]:>9.3f}")
    lines.append(f"queries: catalog {report['heldout_items']} held-out items against "
                 f"{report['gallery_items']}; out_dim {report['out_dim']}; "
                 f"{report['seconds']:.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
