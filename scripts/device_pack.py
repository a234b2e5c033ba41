"""Build `.devdata/`, what scripts/device_train.sh needs on a GPU machine that cannot see ../shared.

A device call carries at most 64 MiB counted in disk blocks, and the repository already takes 47,
so everything here is small and packed into few files:
- ccp-photos.tar.gz: the 800 CCP photos at 576 px (longer side), WebP q62, file names kept
  (PIL and OpenCV read by content); for the detector runs;
- backgrounds.tar.gz: the 120 street photos that `training.head_views.Backgrounds` picks, WebP q60;
  for backbone-only runs;
- labels.tar.gz: CCP's boxes, shot heuristics, label list and the masks of dress photos, and the
  catalog's products.csv with its 4,915 images as WebP q82;
- efficientnet-lite2-int8.pth: the ImageNet EfficientNet-Lite2 weights without the classifier,
  int8 per output channel with float16 scales (1.0% relative error); device_train.sh restores
  float32 from it.

Usage: python scripts/device_pack.py  (`.devdata/` is git-ignored, as is `.whl/` for the wheels)
"""
from __future__ import annotations

import csv
import logging
import random
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core.config import REPO_ROOT, SHARED_DATA  # noqa: E402
from core.embed import imagenet_weights  # noqa: E402
from training.head_data import street_photos  # noqa: E402

log = logging.getLogger("device_pack")
OUT = REPO_ROOT / ".devdata"


def webp(src: Path, dst: Path, quality: int, side: int = 0) -> None:
    with Image.open(src) as im:
        image = im.convert("RGB")
    if side:
        image.thumbnail((side, side), Image.LANCZOS)
    dst.parent.mkdir(parents=True, exist_ok=True)
    image.save(dst, "WEBP", quality=quality, method=6)


def pack(name: str, root: Path) -> None:
    with tarfile.open(OUT / f"{name}.tar.gz", "w:gz") as tar:
        tar.add(root / "shared", arcname="shared")
    log.info("%s.tar.gz: %.1f MB", name, (OUT / f"{name}.tar.gz").stat().st_size / 1e6)


def int8_weights(path: Path) -> None:
    state = torch.load(imagenet_weights(), map_location="cpu", weights_only=True)
    out = {}
    for k, v in state.items():
        if k.startswith("_fc."):
            continue
        if v.is_floating_point() and v.dim() >= 2:
            scale = v.abs().flatten(1).amax(1).clamp(min=1e-12) / 127
            out[k] = {"q": torch.round(v / scale.view(-1, *[1] * (v.dim() - 1))).to(torch.int8),
                      "s": scale.half()}
        else:
            out[k] = v.half() if v.is_floating_point() else v
    torch.save(out, path)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ccp, catalog = SHARED_DATA / "ccp", SHARED_DATA / "catalog"
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        for p in sorted((ccp / "photos").glob("*.jpg")):
            webp(p, root / "shared/data/ccp/photos" / p.name, 62, side=576)
        pack("ccp-photos", root)

        root = Path(tmp) / "backgrounds"  # the same draw as head_views.Backgrounds
        val = set(street_photos())
        names = sorted(p.name for p in (ccp / "photos").glob("*.jpg") if p.name not in val)
        random.Random(0).shuffle(names)
        for n in names[:120]:
            webp(ccp / "photos" / n, root / "shared/data/ccp/photos" / n, 60)
        pack("backgrounds", root)

        root = Path(tmp) / "labels"
        dst = root / "shared/data"
        (dst / "ccp/pixel-level").mkdir(parents=True)
        for f in ("boxes.csv", "shot_heuristic.csv", "label_list.mat"):
            shutil.copy(ccp / f, dst / "ccp" / f)
        with open(ccp / "boxes.csv", newline="") as fh:
            dresses = {r["image"] for r in csv.DictReader(fh) if r["category"] == "dress"}
        for n in sorted(dresses):
            shutil.copy(ccp / "pixel-level" / f"{Path(n).stem}.mat", dst / "ccp/pixel-level")
        (dst / "catalog").mkdir()
        shutil.copy(catalog / "products.csv", dst / "catalog/products.csv")
        for p in sorted((catalog / "images").glob("*.jpg")):
            webp(p, dst / "catalog/images" / p.name, 82)
        pack("labels", root)
    int8_weights(OUT / "efficientnet-lite2-int8.pth")
    log.info("efficientnet-lite2-int8.pth: %.1f MB", (OUT / "efficientnet-lite2-int8.pth").stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
