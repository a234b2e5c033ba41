"""Shared fixtures: paths to real data, and one engine per test session (models load once)."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.helpers import REPO, SHARED, shared  # noqa: F401,E402  (sets the environment first)


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
