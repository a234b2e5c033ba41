"""`lookbot serve`: the engine as a Ray Serve application.

- `POST /look` with a photo's bytes (query `gender`, `k`, `budget`, `photo`) answers the same JSON
  object as one line of `lookbot look --json`; `full=1` adds what a remote bot needs (core/remote.py).
- `POST /search` (JSON: vector, category, gender, k, budget, offset) answers {"products": [...]}.
- `GET /stats` answers `Engine.stats()`; `GET /healthz` answers "ok" once the replica has loaded.

Each replica loads its own `Engine` from the shared data path and switches to a new index version
when `lookbot index` publishes one (index/CURRENT), as the in-process bot does.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Optional

from .config import REPO_ROOT, Config
from .records import SearchOptions
from .remote import look_to_wire
from .street import ArticleHint

log = logging.getLogger(__name__)

APP_NAME = "lookbot"


@dataclass
class ServeSettings:
    """Where and how many: Ray's address ("local" starts one), the HTTP port and the replicas.

    `max_replicas` above `min_replicas` switches autoscaling on between the two bounds."""

    address: str = "local"
    host: str = "127.0.0.1"
    port: int = 8000
    min_replicas: int = 1
    max_replicas: int = 1
    replica_cpus: float = 1.0
    target_ongoing_requests: float = 2.0


def _options(query: Any) -> SearchOptions:
    budget = query.get("budget")
    return SearchOptions(gender=query.get("gender") or "auto", k=int(query.get("k") or 5),
                         budget=int(float(budget)) if budget not in (None, "", "none") else None,
                         offset=int(query.get("offset") or 0))


class LookService:
    """One replica: an Engine and the three routes. Wrapped by `serve.deployment` in `build_app`."""

    def __init__(self, config: Config) -> None:
        from .pipeline import Engine

        logging.basicConfig(level=logging.INFO)
        self.engine = Engine(config)

    async def __call__(self, request) -> Any:
        from starlette.responses import JSONResponse, PlainTextResponse

        path = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            if request.method == "POST" and path == "look":
                data = await request.body()
                result = await self._run(self.engine.look, data,
                                         request.query_params.get("photo") or "photo",
                                         _options(request.query_params))
                full = request.query_params.get("full") in ("1", "true")
                return _json(look_to_wire(result, full=full))
            if request.method == "POST" and path == "search":
                body = await request.json()
                import numpy as np

                products = await self._run(self.engine.search,
                                           np.asarray(body["vector"], np.float32),
                                           body["category"], _options(body),
                                           tuple(body.get("exclude") or ()),
                                           ArticleHint.from_wire(body.get("hint")))
                return _json({"products": [asdict(p) for p in products]})
            if request.method == "GET" and path == "stats":
                await self._run(self.engine.reload_if_changed)
                return _json(self.engine.stats())
            if request.method == "GET" and path == "healthz":
                return PlainTextResponse("ok")
        except (KeyError, ValueError, TypeError) as exc:  # a malformed request, not a crash
            return JSONResponse({"error": f"bad request: {exc}"}, status_code=400)
        return JSONResponse({"error": f"no route {request.method} {request.url.path}"},
                            status_code=404)

    @staticmethod
    async def _run(fn, *args):
        """The engine's blocking work off the replica's event loop."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _json(obj: Any):
    from starlette.responses import Response

    return Response(json.dumps(obj, ensure_ascii=False, default=float),
                    media_type="application/json")


def build_app(config: Config, settings: ServeSettings):
    """The Serve application: fixed replicas, or autoscaling between the two bounds."""
    from ray import serve

    scaling: dict[str, Any]
    if settings.max_replicas > settings.min_replicas:
        scaling = {"autoscaling_config": {
            "min_replicas": settings.min_replicas, "max_replicas": settings.max_replicas,
            "target_ongoing_requests": settings.target_ongoing_requests}}
    else:
        scaling = {"num_replicas": settings.min_replicas}
    deployment = serve.deployment(LookService, name="LookService", max_ongoing_requests=8,
                                  ray_actor_options={"num_cpus": settings.replica_cpus},
                                  health_check_period_s=10, **scaling)
    return deployment.bind(config)


def connect_ray(address: str, num_cpus: Optional[int] = None) -> None:
    """Join the Ray cluster at `address`, or start a local one ("local", `num_cpus` logical
    CPUs: by default the machine's cores)."""
    import ray

    if ray.is_initialized():
        return
    env = {"PYTHONPATH": str(REPO_ROOT), "YOLO_OFFLINE": "1", "GLOG_minloglevel": "2"}
    kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env}, "log_to_driver": False}
    if address != "local":
        ray.init(address=address, **kwargs)
        return
    for attempt in (1, 2, 3):
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **kwargs)
            return
        except Exception as exc:  # Ray gives its raylet 30 s to register: a loaded machine misses it
            ray.shutdown()
            if attempt == 3:
                raise
            log.warning("local Ray did not start (%s); starting it again", exc)


def start_service(config: Config, settings: ServeSettings, wait_s: float = 600) -> str:
    """Deploy the app and wait until it answers; returns its base URL."""
    from ray import serve

    connect_ray(settings.address)
    serve.start(http_options={"host": settings.host, "port": settings.port})
    log.info("deploying %s: replicas %d..%d, %.1f CPU each", APP_NAME, settings.min_replicas,
             settings.max_replicas, settings.replica_cpus)
    serve.run(build_app(config, settings), name=APP_NAME, route_prefix="/", blocking=False)
    url = f"http://{settings.host}:{settings.port}"
    deadline = time.time() + wait_s
    while serve.status().applications[APP_NAME].status != "RUNNING":
        if time.time() > deadline:
            raise TimeoutError(f"{APP_NAME} did not start within {wait_s:.0f} s")
        time.sleep(1)
    return url


def stop_service() -> None:
    import ray
    from ray import serve

    serve.shutdown()
    ray.shutdown()
