"""The bot's worker pool for `lookbot bench`, so throughput is measured through what the bot runs."""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)


class BotPoolAdapter:
    """The bot's asyncio WorkerPool behind submit()/shutdown(), with its event loop on a thread."""

    def __init__(self, workers: int):
        from bot.worker import WorkerPool

        self.pool = WorkerPool(workers=workers)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def submit(self, fn: Callable, *args: Any):
        return asyncio.run_coroutine_threadsafe(self.pool.run(fn, *args), self.loop)

    def shutdown(self, wait: bool = True) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.pool.shutdown()
        self.loop.close()


def bot_pool() -> dict[str, Any]:
    """run_bench's pool_factory, pool_name and cards_fn for the bot's pool and cards; all None
    (a plain thread pool, no cards) when the bot's extras are not installed."""
    try:
        from bot import cards
    except ImportError as exc:
        log.warning("bot worker pool unavailable (%s): using a ThreadPoolExecutor", exc)
        return {"pool_factory": None, "pool_name": None, "cards_fn": None}

    def cards_fn(result):
        return [cards.card(a.detection.category, a.products, "more") for a in result.articles]

    return {"pool_factory": BotPoolAdapter, "pool_name": "bot.worker.WorkerPool",
            "cards_fn": cards_fn}
