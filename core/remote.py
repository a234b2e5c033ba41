"""The engine over HTTP: what the bot uses when LOOKBOT_ENGINE_URL names a `lookbot serve` app.

`RemoteEngine` has the calls the bot makes of `core.pipeline.Engine` (look, search, stats,
reload_if_changed, embedding_version), so the bot process stays thin (Telegram I/O and cards) while
the models run in Ray Serve replicas. The wire format is `LookResult.to_json()`, the very object
`lookbot look --json` prints, plus (with `full=1`) what the bot needs beyond it: the query vectors
for "More like this" and every product field the cards show.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Optional

import numpy as np

from .index import IndexMismatch
from .records import (Article, Detection, GateVerdict, LookResult, Product, SearchOptions)
from .street import ArticleHint

log = logging.getLogger(__name__)


class EngineUnavailable(RuntimeError):
    """The engine service did not answer, or answered with an error."""


def options_query(options: SearchOptions) -> dict[str, Any]:
    out: dict[str, Any] = {"gender": options.gender, "k": options.k, "offset": options.offset}
    if options.budget is not None:
        out["budget"] = options.budget
    return out


def look_to_wire(result: LookResult, full: bool = False) -> dict[str, Any]:
    """`result.to_json()`; with `full`, each article also carries its vector and whole products."""
    out = result.to_json()
    if full:
        out.update(width=result.width, height=result.height, timings=result.timings)
        for wire, article in zip(out["articles"], result.articles):
            wire["vector"] = None if article.vector is None else \
                np.asarray(article.vector, np.float32).tolist()
            wire["products_full"] = [dataclasses.asdict(p) for p in article.products]
            wire["hint"] = article.hint.to_wire() if article.hint is not None else None
    return out


def look_from_wire(wire: dict[str, Any]) -> LookResult:
    """The LookResult a `full=1` answer describes."""
    verdict = GateVerdict(wire["full_shot"], wire["reason"], wire["message"],
                          people=wire.get("people", 1))
    gender = wire.get("gender") or {}
    result = LookResult(wire["photo"], verdict, width=wire.get("width", 0),
                        height=wire.get("height", 0), timings=wire.get("timings", {}),
                        gender=gender.get("shown", "any"), gender_source=gender.get("source", "you"),
                        wearer=gender.get("wearer"))
    for a in wire["articles"]:
        det = Detection(a["category"], tuple(a["box"]), a["score"], a["source"])
        vec = None if a.get("vector") is None else np.asarray(a["vector"], np.float32)
        result.articles.append(Article(det, [Product(**p) for p in a.get("products_full", [])],
                                       vec, ArticleHint.from_wire(a.get("hint"))))
    return result


def _expired(response) -> Optional[str]:
    """The error of a 409 that says the vector's results expired (the service's models changed)."""
    try:
        wire = response.json()
    except ValueError:
        return None
    return wire.get("error", "expired") if isinstance(wire, dict) and wire.get("expired") else None


class RemoteEngine:
    """Calls a `lookbot serve` app; thread-safe (one pooled HTTP client)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=timeout)
        self._embedding: Optional[str] = None

    def _call(self, method: str, path: str, **kwargs) -> Any:
        import httpx

        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"engine service {self.url} unreachable: {exc}") from exc
        expired = _expired(response) if response.status_code == 409 else None
        if expired is not None:
            self._embedding = None  # the service's models changed: ask again
            raise IndexMismatch(f"engine service {self.url}: {expired}")
        if response.status_code != 200:
            raise EngineUnavailable(f"engine service {self.url}{path} answered "
                                    f"{response.status_code}: {response.text[:200]}")
        return response.json()

    def look(self, data: bytes, photo: str = "photo", options: Optional[SearchOptions] = None
             ) -> LookResult:
        params = {**options_query(options or SearchOptions()), "photo": photo, "full": 1}
        return look_from_wire(self._call("POST", "/look", params=params, content=data))

    def search(self, vector: np.ndarray, category: str, options: SearchOptions,
               exclude: tuple[str, ...] = (), hint: Optional[ArticleHint] = None
               ) -> list[Product]:
        body = {"vector": np.asarray(vector, np.float32).tolist(), "category": category,
                **options_query(options), "exclude": list(exclude),
                "hint": hint.to_wire() if hint is not None else None,
                "embedding": self.embedding_version}  # a service whose models changed: 409
        return [Product(**p) for p in self._call("POST", "/search", json=body)["products"]]

    def stats(self) -> dict:
        stats = self._call("GET", "/stats")
        self._embedding = stats.get("embedding")
        return stats

    def reload_if_changed(self) -> bool:
        """Replicas pick up new index versions themselves (they read the shared data path)."""
        return False

    @property
    def embedding_version(self) -> str:
        """The service's embedding version, asked once (it changes only with the models)."""
        if self._embedding is None:
            self.stats()
        return self._embedding or ""

    def close(self) -> None:
        self.client.close()
