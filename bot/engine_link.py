"""Where the bot's looks run: the engine in this process, or a `lookbot serve` app at
LOOKBOT_ENGINE_URL, reached through core/remote.py (docs/SCALING.md)."""
from __future__ import annotations

import logging
import time

from core.config import Config

log = logging.getLogger(__name__)

REMOTE_WORKERS = 8  # photos at once on a remote engine: its threads only wait on HTTP
ENGINE_START_WAIT = 180.0  # s a bot waits at startup for its engine service (it may be starting)


def load_engine(config: Config, wait_s: float = ENGINE_START_WAIT):
    """The engine in this process, or a thin client of a `lookbot serve` app: same calls. A
    service not yet answering (started at the same time: it takes 15-30 s) is waited for."""
    if config.engine_url:
        from core.remote import EngineUnavailable, RemoteEngine

        engine = RemoteEngine(config.engine_url, timeout=config.engine_timeout)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                version = engine.embedding_version
                break
            except EngineUnavailable as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("waiting for the engine service (%s)", exc)
                time.sleep(5)
        log.info("engine service %s (embedding %s)", config.engine_url, version)
        return engine
    from core.pipeline import Engine

    return Engine(config)
