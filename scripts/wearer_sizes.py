"""How the wearer call moves with the size a photo arrives at.

Each CCP validation photo (825 px on its longer side) is looked at as it is and resized to other
longer sides (re-encoded as JPEG, as a phone or Telegram would send it). Per size: how many calls
are right, unsure and wrong against the labelled wearer, and how far P(women) moves from the
photo's own size. Usage:

    python scripts/wearer_sizes.py [--limit PHOTOS] [--sizes 320,480,1280] [--out sizes.json]
"""
from __future__ import annotations

import argparse
import io
import json
import logging
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from core.config import SHARED_CCP, Config
from core.pipeline import Engine
from core.records import SearchOptions
from measure.eval_data import detector_val_photos, progress
from training.street_data import read_wearers

log = logging.getLogger("wearer_sizes")


def resized_jpeg(image: Image.Image, side: Optional[int]) -> bytes:
    """The photo with its longer side `side` (None: as it is), as JPEG quality 90."""
    if side is not None:
        scale = side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)),
                             Image.BICUBIC)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def wearer_sizes(limit: Optional[int], sizes: list[int]) -> dict:
    config = Config.from_env()
    engine = Engine(config)
    photos, split = detector_val_photos(config.models_dir, SHARED_CCP)
    photos = photos[:limit] if limit else photos
    wearers = read_wearers(SHARED_CCP)
    calls: dict[str, dict[str, dict]] = {}
    for name in progress(photos, "photos"):
        with Image.open(SHARED_CCP / "photos" / name) as im:
            image = im.convert("RGB")
        calls[name] = {}
        for side in [None, *sizes]:
            result = engine.look(resized_jpeg(image, side), name, SearchOptions(k=1))
            calls[name][str(side or "own")] = result.wearer or {}
    out = {"photos": len(photos), "split": split, "sizes": {}}
    for side in ["own", *map(str, sizes)]:
        called = [(n, c[side], c["own"]) for n, c in calls.items() if c[side] and c["own"]]
        # right and wrong only where the photo's wearer is labelled women or men
        known = [(call["gender"], wearers[n]) for n, call, _ in called
                 if wearers.get(n) in ("women", "men")]
        right = sum(call == label for call, label in known)
        unsure = sum(call == "unsure" for call, _ in known)
        moved = [abs(call["p_women"] - own["p_women"]) for _, call, own in called]
        same = sum(call["gender"] == own["gender"] for _, call, own in called)
        out["sizes"][side] = {"called": len(called), "labelled": len(known), "right": right,
                              "unsure": unsure, "wrong": len(known) - right - unsure,
                              "same_call_as_own": same,
                              "p_women_moved_mean": round(float(np.mean(moved)), 3),
                              "p_women_moved_over_0.2": int(sum(m > 0.2 for m in moved))}
    return out


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="the first PHOTOS validation photos")
    ap.add_argument("--sizes", default="320,480,1280", help="longer sides to resize to, in px")
    ap.add_argument("--out", type=Path, default=None, help="also write the figures here (JSON)")
    args = ap.parse_args()
    figures = wearer_sizes(args.limit, [int(s) for s in args.sizes.split(",") if s])
    text = json.dumps(figures, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
