"""The cache of ONNX exports in models_dir/cache: each named `<stem>-<12 hex digits>.onnx` by a hash
of what made it (weights, calibration crops, recipe), so a new one replaces the old on first use."""
from __future__ import annotations

import re
from pathlib import Path


def drop_stale(target: Path, stem: str) -> None:
    """Remove the other `<stem>-<12 hex>.onnx` files beside `target`: exports of earlier inputs."""
    stale = re.compile(re.escape(stem) + r"-[0-9a-f]{12}\.onnx")
    for old in target.parent.glob(f"{stem}-*.onnx"):
        if old != target and stale.fullmatch(old.name):
            old.unlink(missing_ok=True)
