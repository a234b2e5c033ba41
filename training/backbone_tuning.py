"""`lookbot tune-backbone`: fine-tune EfficientNet-Lite2 end to end on the catalog's own labels.

The embedding head (`training.head_training`) learns on frozen ImageNet features, and a probe on its
vector gets article type right no more often than its P@5 does: the backbone is the ceiling.
This module trains the whole backbone instead, by normalised-softmax classification
(Zhai & Wu, "Classification is a Strong Baseline for Deep Metric Learning") of article type,
colour and gender, on the training split of the catalog that `lookbot eval` holds out from
(`embedding_split.json`) plus the high-resolution shots of products outside the gallery.
Each image is shown clean or in a street-like view (`training.head_views.augment`: real street
backgrounds, crops, zoom-outs, lighting, blur, flips; colours kept).

The result, `data/models/backbone.pt` (float16 state dict), replaces the ImageNet weights in
`Embedder` when present (`LOOKBOT_TUNED_BACKBONE=0` switches it off); the head is then trained
again on its features with `lookbot train-embedding`, and the index records which backbone
built it. On a CPU this runs for tests on a handful of items; the real run wants a GPU.
"""
from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from core.catalog_items import CatalogItem, load_catalog_items
from core.config import Config
from core.embed import BACKBONE_FILE, TUNED_FORMAT, Backbone, l2_normalise, to_batch
from .head_data import CATALOG_CSV, HIRES_CSV, SPLIT_NAME, load_or_make_split
from .head_metrics import catalog_p5
from .head_training import class_labels
from .head_views import Backgrounds, augment

log = logging.getLogger(__name__)

REPORT_NAME = "backbone_report.json"
TASKS = ("article_type", "colour", "gender")


@dataclass
class TuneSettings:
    epochs: int = 30
    batch_size: int = 128
    lr: float = 3e-4  # backbone; the class proxies learn 10x faster
    weight_decay: float = 0.01
    temperature: float = 0.05
    clean_share: float = 0.3  # share of clean catalog shots; the rest are street-like views
    warmup_epochs: int = 1
    loss_weights: tuple[float, float, float] = (1.0, 1.0, 0.5)  # type, colour, gender
    seed: int = 7


class CatalogViews(torch.utils.data.Dataset):
    """Catalog shots as 224 px tensors, clean or augmented, with their three labels."""

    def __init__(self, items: Sequence[CatalogItem], labels: np.ndarray, size: int,
                 clean_share: float, backgrounds: Optional[Backgrounds], seed: int):
        self.items, self.labels, self.size = list(items), labels, size
        self.clean_share, self.backgrounds, self.seed = clean_share, backgrounds, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        from PIL import Image

        rng = random.Random(f"{self.seed}:{self.epoch}:{i}")
        with Image.open(self.items[i].file) as im:
            image = im.convert("RGB")
        if self.backgrounds is not None and rng.random() >= self.clean_share:
            image = augment(image, rng, self.backgrounds)
        return to_batch([image], self.size)[0], torch.from_numpy(self.labels[i])


def _schedule(step: int, warmup: int, total: int) -> float:
    """Linear warm-up, then cosine to zero over `total` steps (which may shrink to fit a budget)."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


@torch.no_grad()
def features(backbone: Backbone, items: Sequence[CatalogItem], device: str, batch: int = 256
             ) -> np.ndarray:
    """Pooled features of the clean shots (as `Embedder` computes them)."""
    from PIL import Image

    backbone.eval()
    out = []
    for s in range(0, len(items), batch):
        crops = []
        for it in items[s:s + batch]:
            with Image.open(it.file) as im:
                crops.append(im.convert("RGB"))
        x = to_batch(crops, backbone.size).to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device != "cpu"):
            out.append(backbone(x).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, backbone.dim), np.float32)


def tune_backbone(config: Config, out: Optional[Path] = None, device: str = "cpu",
                  settings: Optional[TuneSettings] = None, minutes: Optional[float] = None,
                  subset: Optional[int] = None, workers: int = 2,
                  init_weights: Optional[Path] = None, catalog_csv: Path = CATALOG_CSV,
                  extra_csv: Optional[Path] = HIRES_CSV, command: str = "") -> dict:
    """Fine-tune, save `out` (default models_dir/backbone.pt) and a report beside it.

    - `minutes`: a wall-time budget; after the first epoch the epoch count shrinks to fit it
      and the cosine schedule with it (the report gives the epochs run).
    - `subset`: a fixed-seed sample of that many items (tests), with no extra shots; the split
      is then made over the sample, beside `out`.
    - `init_weights`: start from this EfficientNet-Lite2 file instead of the bundled ImageNet one.
    """
    settings = settings or TuneSettings()
    out = Path(out) if out is not None else config.models_dir / BACKBONE_FILE
    t0 = time.time()
    torch.manual_seed(settings.seed)
    items = load_catalog_items(catalog_csv)
    if subset is not None:
        items = sorted(random.Random(settings.seed).sample(items, min(subset, len(items))),
                       key=lambda it: int(it.id))
    split_path = config.models_dir / SPLIT_NAME if subset is None else out.parent / SPLIT_NAME
    split = load_or_make_split(split_path, items)
    train_ids = set(split["train"])
    train = [it for it in items if it.id in train_ids]
    if extra_csv is not None and Path(extra_csv).exists() and subset is None:
        known = {it.id for it in items}
        train += [it for it in load_catalog_items(Path(extra_csv)) if it.id not in known]
    if not train:
        raise ValueError(f"no catalog item of {catalog_csv} is in the training split {split_path}")
    labels = np.stack([class_labels([getattr(it, t) for it in train], **kw) for t, kw in zip(
        TASKS, ({}, {"min_count": 3, "drop": ("NA", "Multi")}, {}))], axis=1)

    backbone = Backbone("efficientnet_lite2", init_weights).to(device)
    backbone.mean, backbone.std = backbone.mean.to(device), backbone.std.to(device)
    held = set(split["heldout"])
    query_rows = [i for i, it in enumerate(items) if it.id in held]
    before = catalog_p5(l2_normalise(features(backbone, items, device)), items, query_rows)
    log.info("before: %s", before)

    proxies = torch.nn.ParameterList([torch.nn.Parameter(
        torch.randn(int(labels[:, t].max()) + 1, backbone.dim, device=device) * 0.01)
        for t in range(len(TASKS))])
    opt = torch.optim.AdamW([{"params": backbone.parameters(), "lr": settings.lr},
                             {"params": proxies.parameters(), "lr": settings.lr * 10}],
                            weight_decay=settings.weight_decay)
    data = CatalogViews(train, labels, backbone.size, settings.clean_share,
                        Backgrounds() if settings.clean_share < 1 else None, settings.seed)
    steps_per_epoch = math.ceil(len(data) / settings.batch_size)
    plan = {"epochs": settings.epochs}
    warmup = settings.warmup_epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: _schedule(s, warmup, plan["epochs"] * steps_per_epoch))
    history = []
    epoch = 0
    t_train = time.time()
    while epoch < plan["epochs"]:
        data.epoch = epoch
        loader = torch.utils.data.DataLoader(
            data, batch_size=settings.batch_size, shuffle=True, num_workers=workers,
            drop_last=len(data) > settings.batch_size, persistent_workers=False,
            generator=torch.Generator().manual_seed(settings.seed + epoch))
        backbone.train()
        total, n = 0.0, 0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device != "cpu"):
                emb = torch.nn.functional.normalize(backbone(x).float(), dim=1)
            loss = torch.zeros((), device=device)
            for t, w in enumerate(settings.loss_weights):
                keep = y[:, t] >= 0
                if w > 0 and bool(keep.any()):
                    logits = emb[keep] @ torch.nn.functional.normalize(proxies[t], dim=1).T
                    loss = loss + w * torch.nn.functional.cross_entropy(
                        logits / settings.temperature, y[keep, t])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + float(loss.detach()), n + 1
        history.append(round(total / max(n, 1), 4))
        epoch += 1
        elapsed = time.time() - t_train
        if minutes and epoch == 1:
            fit = max(1, int(minutes * 60 / elapsed))
            if fit < plan["epochs"]:
                log.info("%.0f s an epoch: %d epochs fit in %.1f min", elapsed, fit, minutes)
                plan["epochs"] = fit
        log.info("epoch %d/%d loss %.4f (%.0f s)", epoch, plan["epochs"], history[-1], elapsed)

    after = catalog_p5(l2_normalise(features(backbone, items, device)), items, query_rows)
    log.info("after: %s", after)
    state = {k: v.detach().half().cpu() for k, v in backbone.net.state_dict().items()
             if not k.startswith("_fc.")}
    meta = {"command": command, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "split": SPLIT_NAME, "settings": asdict(settings), "epochs": epoch}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save({"format": TUNED_FORMAT, "base": "efficientnet-lite2", "state_dict": state,
                "meta": meta}, tmp)
    tmp.replace(out)
    report = {**meta, "device": device, "torch": torch.__version__, "train_images": len(train),
              "heldout_items": len(query_rows), "gallery_items": len(items),
              "loss_history": history, "seconds": round(time.time() - t0, 1),
              "catalog_raw_features": {"before": before, "after": after},
              "note": "P@5 of the raw pooled features (no head) on the held-out catalog items; "
                      "train the head on the new features with `lookbot train-embedding`"}
    (out.parent / REPORT_NAME).write_text(json.dumps(report, indent=1))
    return report
