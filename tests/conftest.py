"""Shared fixtures: paths to real data, and one engine per test session (models load once)."""
from __future__ import annotations

import socket

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


@pytest.fixture(scope="session")
def ray_service():
    """A local Ray (small: 4 logical CPUs) serving the engine with one replica; its base URL."""
    pytest.importorskip("ray.serve")
    from core.config import Config
    from core.index import current_version
    from core.service import ServeSettings, connect_ray, start_service, stop_service

    config = Config.from_env()
    if current_version(config.index_root) is None:
        pytest.skip(f"no catalog index in {config.index_root}: run `lookbot index`")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for attempt in (1, 2):  # on a loaded 2-core machine Ray's own start-up timeouts can strike
        try:
            connect_ray("local", num_cpus=4)
            url = start_service(config, ServeSettings(port=port))
            break
        except Exception:
            stop_service()
            if attempt == 2:
                raise
    try:
        yield url
    finally:
        stop_service()
