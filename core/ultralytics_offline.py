"""Ultralytics, imported so that it never touches the network.

Ultralytics would otherwise resolve DNS to decide whether it is online, send anonymous usage events,
download Arial fonts for plots (`check_font` issues a `requests.head` even when offline), run an AMP
check that downloads yolo11n.pt, and fetch `.pt` weights by name. Everything in lookbot imports it
through `load_ultralytics()`, which switches all of that off.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Optional

log = logging.getLogger(__name__)

_PATCHED = False


def _local_font(font: str = "Arial.ttf") -> Optional[Path]:
    """Stand-in for ultralytics' check_font: a font that ships with matplotlib, never a download."""
    try:
        from matplotlib import font_manager

        return Path(font_manager.findfont("DejaVu Sans", fallback_to_default=True))
    except Exception:  # pragma: no cover - matplotlib missing or broken
        return None


def load_ultralytics(torch_threads: Optional[int] = None) -> ModuleType:
    """Return the `ultralytics` module, configured so that it never touches the network (idempotent).

    `torch_threads` overrides the CPU thread count ultralytics pins torch to (cpu_count - 1). The default
    is right on a shared 2-core box: 2 threads ran training 3x slower (dataloader workers need the other
    core) and inference 60x slower next to another busy process (OpenMP oversubscription).
    """
    global _PATCHED
    os.environ["YOLO_OFFLINE"] = "1"  # is_online() -> False: no DNS probe, no hub, no auto-update
    os.environ.setdefault("YOLO_VERBOSE", "False")
    import ultralytics
    from ultralytics import utils as yutils

    if not _PATCHED:
        try:
            if yutils.SETTINGS.get("sync", False):
                yutils.SETTINGS.update(sync=False)  # no anonymous events
        except Exception as exc:  # settings not writable: events also need ONLINE, which is now False
            log.debug("could not update ultralytics settings: %s", exc)
        from ultralytics.data import utils as data_utils
        from ultralytics.utils import checks, plotting

        for module in (checks, data_utils, plotting):
            module.check_font = _local_font  # check_det_dataset() calls it on every train and val
        _PATCHED = True
    if torch_threads:
        from ultralytics.utils import torch_utils

        torch_utils.NUM_THREADS = int(torch_threads)  # select_device() applies it on every predict setup
    return ultralytics
