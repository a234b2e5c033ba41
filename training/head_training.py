"""`lookbot train-embedding`: learn the fashion embedding head on cached backbone features.

The backbone stays frozen, so its features are computed once per (image, view) and cached in
`data/models/cache/` (gitignored). View 0 is the clean catalog shot; the other views are
augmented towards street crops: background replaced by real street patches (CCP photos
0001-0400, never the street evaluation photos) or plain colours, random crop and zoom-out,
lighting, blur and flips. The head is trained with normalised-softmax classification
(Zhai & Wu, "Classification is a Strong Baseline for Deep Metric Learning") on article type,
colour, gender and product identity, then measured on a fixed-seed holdout of catalog items
that `lookbot eval` reuses through `data/models/embedding_split.json`.

The data and its split are in `training.head_data`, the views and the feature cache in
`training.head_views`, the figures in `training.head_metrics`, and the cost per photo in `training.head_bench`.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from core.config import Config
from core.embed import HEAD_FILE
from core.catalog_items import CatalogItem, load_catalog_items
from .head_data import CATALOG_CSV, HIRES_CSV, SPLIT_NAME, load_or_make_split, street_queries
from .head_metrics import catalog_p5, per_garment, street_agreement
from .head_views import colour_view, extract_street, extract_view

log = logging.getLogger(__name__)

HEAD_NAME = HEAD_FILE
REPORT_NAME = "embedding_report.json"


@dataclass
class TrainSettings:
    """Defaults chosen on a validation carve, never on the held-out items or eval photos
    (their figures: docs/MEASUREMENTS.md, "Design choices")."""

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
    # Gaussian noise on the standardised backbone features while training; off: it did not help
    input_noise: float = 0.0
    seed: int = 7
    # type, colour, gender, identity; identity (instance proxies across views) is off: it did worse
    loss_weights: tuple[float, float, float, float] = (1.0, 1.0, 0.5, 0.0)


def class_labels(values: Sequence[str], min_count: int = 1, drop: Sequence[str] = ()) -> np.ndarray:
    """Class index of each value (names sorted); rarer than `min_count` or in `drop`: -1."""
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

    from core.head import EmbeddingHead, HeadNet, HeadSpec, normalise_features

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
    tasks = [class_labels([it.article_type for it in items]),
             class_labels([it.colour for it in items], min_count=3, drop=("NA", "Multi")),
             class_labels([it.gender for it in items]), identity]
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
                    extra_csv: Optional[Path] = HIRES_CSV, threads: Optional[int] = None,
                    **settings_overrides) -> dict:
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
    - `threads`: torch's thread count for the run (default: torch's own).
    - `settings_overrides`: any other `TrainSettings` field (hidden, dropout, ...).
    """
    from core.embed import Embedder, l2_normalise
    from core.colour import colour_features

    if threads:
        import torch

        torch.set_num_threads(threads)
    t0 = time.time()
    out = Path(out) if out is not None else config.models_dir / HEAD_NAME
    items = load_catalog_items(catalog_csv)
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
    embedder = Embedder.from_config(config, head=False)
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
        extra = [it for it in load_catalog_items(Path(extra_csv)) if it.id not in known]
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
    head.meta = {"command": command, "created": report["created"], "backbone": embedder.backbone_version,
                 "split": SPLIT_NAME, "catalog_after": report["catalog"]["after"]}
    head.save(out)
    report["head_file"] = out.name
    report["out_dim"] = head.out_dim
    report["seconds"] = round(time.time() - t0, 1)
    (out.parent / REPORT_NAME).write_text(json.dumps(report, indent=1))
    return report


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

