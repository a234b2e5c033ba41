"""Paths to real data, for tests to import (fixtures live in conftest.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("GLOG_minloglevel", "2")

from core.config import SHARED_DATA  # noqa: E402  (after the environment it reads)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = SHARED_DATA  # LOOKBOT_SHARED_DATA, else ../shared/data


def shared(*parts: str) -> Path:
    """A path in ../shared/data; tests that need the full real sets skip when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available at {path}")
    return path
