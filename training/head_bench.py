"""`lookbot bench-head`: what the embedding head costs per photo, end to end."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from core.config import Config
from core.config import SHARED_PEOPLE
from core.embed import HEAD_FILE as HEAD_NAME


def bench_head(config: Config, head_path: Optional[Path] = None, photos_dir: Optional[Path] = None,
               n_photos: int = 12, rounds: int = 3) -> dict:
    """Per-photo latency of decode+gate+detect and of embedding its crops, without and with the
    head, interleaved in one process on real full-shot photos (medians, milliseconds)."""
    from core.embed import Embedder, tuned_backbone_file
    from core.crops import articles_of, crop
    from core.pipeline import Engine

    head_path = Path(head_path) if head_path is not None else config.models_dir / HEAD_NAME
    photos_dir = Path(photos_dir) if photos_dir is not None else SHARED_PEOPLE / "fullshot"
    engine = Engine(config, load_index=False)
    plain = Embedder.from_config(config, head=False)
    with_head = Embedder(config.backbone, head_path=head_path,
                         backbone_weights=tuned_backbone_file(config))
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
            verdict, raw = engine.check_gate(image)
            groups = articles_of(engine.detect_photo(image, verdict, raw=raw)) \
                if verdict.full_shot else []
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
