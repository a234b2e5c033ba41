"""Shared fixtures: paths to real data, and one engine per test session (models load once)."""
from __future__ import annotations

import os
import socket
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


@pytest.fixture(scope="session")
def engine():
    from core.config import Config
    from core.pipeline import Engine

    return Engine(Config.from_env())


@pytest.fixture
def no_network(monkeypatch):
    """Any DNS lookup or socket connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield
