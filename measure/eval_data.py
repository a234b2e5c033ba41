"""The inputs of `lookbot eval` and its surroundings.

Where the labelled data lives, the gate's labelled photos, the detector's validation photos and
the embedding's held-out ids (the catalog items themselves come from core.catalog_items); the
machine description and the progress bars.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any, Optional

from PIL import Image

from core.catalog_items import bare_id
from core.config import SHARED_CATALOG, SHARED_CCP, SHARED_PEOPLE

log = logging.getLogger(__name__)

DEFAULT_PEOPLE_DIR = SHARED_PEOPLE
DEFAULT_CCP_DIR = SHARED_CCP
DEFAULT_CATALOG_DIR = SHARED_CATALOG


# ------------------------------------------------------------------------------- splits and labels

def held_out_ids(models_dir: Path) -> tuple[Optional[set[str]], str]:
    """Catalog ids the embedding head never trained on, and where that list came from."""
    path = Path(models_dir) / "embedding_split.json"
    if not path.exists():
        return None, "none (no embedding_split.json: every catalog item queries)"
    data = json.loads(path.read_text())
    for key in ("heldout", "held_out", "test", "val", "eval"):
        if isinstance(data.get(key), list):
            return {bare_id(x) for x in data[key]}, f"{path.name}:{key}"
    log.warning("%s has no held-out list (keys %s): every catalog item queries", path,
                sorted(data))
    return None, f"none ({path.name} has no held-out list)"


def detector_val_photos(models_dir: Path, ccp_dir: Path,
                        trained_on: Path = SHARED_CCP) -> tuple[list[str], str]:
    """The CCP photos no model trained on, and how they were chosen: the detector split's
    validation photos in the folder the models `trained_on`, and in any other folder (a set kept
    for acceptance, in CCP's layout) every photo there."""
    from training.ccp_dataset import same_folder, split_photos

    if not same_folder(ccp_dir, trained_on):
        names = sorted(p.name for p in (Path(ccp_dir) / "photos").glob("*.jpg"))
        return names, f"every photo in {ccp_dir} (not the folder the models trained on)"
    path = Path(models_dir) / "detector_split.json"
    if path.exists():
        data = json.loads(path.read_text())
        if isinstance(data.get("val"), list):
            return sorted(data["val"]), f"{path.name}:val (seed {data.get('seed')})"
    names = sorted(p.name for p in (Path(ccp_dir) / "photos").glob("*.jpg"))
    return split_photos(names, n_val=160, seed=0)["val"], \
        "fixed-seed fallback: split_photos(n_val=160, seed=0), no detector_split.json"


def gate_labels(people_dir: Path) -> list[tuple[Path, str]]:
    """(photo, label) from manifest.csv, else from the folder names."""
    people_dir = Path(people_dir)
    manifest = people_dir / "manifest.csv"
    out = []
    if manifest.exists():
        with open(manifest, newline="") as fh:
            for r in csv.DictReader(fh):
                p = people_dir / r["file"]
                if p.exists():
                    out.append((p, r["label"]))
    else:
        for folder in sorted(p for p in people_dir.iterdir() if p.is_dir()):
            out += [(f, folder.name) for f in sorted(folder.iterdir()) if f.is_file()]
    return sorted(out)


# ------------------------------------------------------------------------------- images

def load_rgb_file(path: Path) -> Optional[Image.Image]:
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except Exception as exc:
        log.warning("unreadable image %s: %s", path, exc)
        return None


# ------------------------------------------------------------------------------- the run

def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": cores, "cpu": cpu, "python": platform.python_version(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def progress(items: list, desc: str) -> Any:
    """A progress bar on stderr for the long loops (quiet for a handful of items)."""
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="it", disable=len(items) < 20, mininterval=5)


def limited(items: list, limit: Optional[int]) -> list:
    """The first `limit` items (all of them without a limit)."""
    return items if limit is None else items[:limit]
