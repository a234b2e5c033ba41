"""`lookbot serve`: the engine as a Ray Serve application.

- `POST /look` with a photo's bytes (query `gender`, `k`, `budget`, `offset`, `photo`) answers the
  same JSON object as one line of `lookbot look --json`; `full=1` adds what a remote bot needs
  (core/remote.py). A photo over LOOKBOT_MAX_IMAGE_BYTES is refused unread (413).
- `POST /search` (JSON: vector, category, gender, k, budget, offset, exclude, hint, embedding)
  answers {"products": [...]}; a vector of another embedding than the service's is 409 with
  `"expired": true` (the bot then says the results have expired).
- `GET /stats` answers `Engine.stats()`; `GET /healthz` answers "ok" once the replica has loaded.
- A bad parameter is 400 with {"error": ...} naming it and what it takes (core/service_requests.py),
  an unknown route 404 and a wrong method 405.

Each replica loads its own `Engine` from the shared data path and switches to a new index version
when `lookbot index` publishes one (index/CURRENT), as the in-process bot does.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass
from typing import Any, Optional

from .config import REPO_ROOT, Config
from .index import IndexMismatch, current_version, missing_index
from .remote import look_to_wire
from .service_requests import BadRequest, search_category, search_options, search_vector
from .street import ArticleHint

log = logging.getLogger(__name__)

APP_NAME = "lookbot"
ROUTES = {"/look": ("POST",), "/search": ("POST",), "/stats": ("GET",), "/healthz": ("GET",)}


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


class LookService:
    """One replica: an Engine and its four routes. Wrapped by `serve.deployment` in `build_app`."""

    def __init__(self, config: Config) -> None:
        from .pipeline import Engine

        logging.basicConfig(level=logging.INFO)
        self.engine = Engine(config)

    async def __call__(self, request) -> Any:
        from starlette.responses import JSONResponse, PlainTextResponse

        def error(status: int, message: str, **extra: Any):
            return JSONResponse({"error": message, **extra}, status_code=status)

        route, method = request.url.path.rstrip("/") or "/", request.method
        allowed = ROUTES.get(route)
        if allowed is None:
            return error(404, f"no route {route}: POST /look, POST /search, GET /stats, "
                              f"GET /healthz")
        if method not in allowed and not (method == "HEAD" and "GET" in allowed):
            return error(405, f"{route} takes {' or '.join(allowed)}, not {method}")
        try:
            if route == "/look":
                size = int(request.headers.get("content-length") or 0)
                limit = self.engine.config.max_image_bytes
                if size > limit:  # refused before reading it
                    return error(413, f"the photo is {size} bytes; at most {limit} are taken")
                if request.headers.get("content-type", "").startswith("multipart/"):
                    raise BadRequest("send the photo's bytes as the request body, not as a form "
                                     "(curl --data-binary @photo.jpg)")
                options = search_options(request.query_params)
                result = await self._run(self.engine.look, await request.body(),
                                         request.query_params.get("photo") or "photo", options)
                full = request.query_params.get("full") in ("1", "true")
                return _json(look_to_wire(result, full=full))
            if route == "/search":
                body = await request.json()
                if not isinstance(body, dict):
                    raise BadRequest("the body must be a JSON object")
                sent = body.get("embedding")
                if sent and sent != self.engine.embedding_version:
                    raise IndexMismatch(f"the vector is of embedding {sent}, this service "
                                        f"embeds with {self.engine.embedding_version}")
                index = self.engine.index
                products = await self._run(
                    self.engine.search, search_vector(body, index.dim if index else None),
                    search_category(body), search_options(body),
                    tuple(body.get("exclude") or ()), ArticleHint.from_wire(body.get("hint")))
                return _json({"products": [asdict(p) for p in products]})
            if route == "/stats":
                await self._run(self.engine.reload_if_changed)
                return _json(self.engine.stats())
            return PlainTextResponse("ok")
        except IndexMismatch as exc:  # a vector of another embedding than this service's
            return error(409, str(exc), expired=True)
        except json.JSONDecodeError:
            return error(400, "the body must be JSON")
        except BadRequest as exc:
            return error(400, str(exc))
        except (KeyError, ValueError, TypeError, OverflowError) as exc:  # malformed, not a crash
            return error(400, f"bad request: {exc}")

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


class ServeError(RuntimeError):
    """Why the service cannot start, in one line."""


def preflight(config: Config, settings: ServeSettings) -> None:
    """What would stop the service, found before Ray starts: no index, a port in use, more CPUs
    asked of a local Ray than the machine has (Serve would wait for them forever, silently)."""
    if current_version(config.index_root) is None:
        raise ServeError(missing_index(config))
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((settings.host, settings.port))
        except OSError as exc:
            raise ServeError(f"cannot listen on {settings.host}:{settings.port}: "
                             f"{exc.strerror or exc}") from None
    if settings.address == "local":
        check_cpus(settings, float(os.cpu_count() or 1), "this machine")


def check_cpus(settings: ServeSettings, have: float, where: str) -> None:
    need = settings.min_replicas * settings.replica_cpus
    if need > have:
        most = int(have // settings.replica_cpus)
        raise ServeError(f"{settings.min_replicas} replicas of {settings.replica_cpus:g} CPU need "
                         f"{need:g} CPUs and {where} has {have:g}: ask for {most} or fewer, or set "
                         f"a smaller LOOKBOT_SERVE_REPLICA_CPUS")


def start_service(config: Config, settings: ServeSettings, wait_s: float = 600) -> str:
    """Deploy the app and wait until it answers; returns its base URL."""
    import ray
    from ray import serve

    preflight(config, settings)
    connect_ray(settings.address)
    if settings.address != "local":
        check_cpus(settings, float(ray.cluster_resources().get("CPU", 0)), "the Ray cluster")
    serve.start(http_options={"host": settings.host, "port": settings.port})
    log.info("deploying %s: replicas %d..%d, %.1f CPU each", APP_NAME, settings.min_replicas,
             settings.max_replicas, settings.replica_cpus)
    try:
        serve.run(build_app(config, settings), name=APP_NAME, route_prefix="/", blocking=False)
    except RuntimeError as exc:  # a replica failed to load: its reason is in the replica's log
        raise ServeError(f"{exc} (the replicas' logs: /tmp/ray/session_latest/logs/serve/)") \
            from None
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

    if not ray.is_initialized():  # never started (a preflight refusal): nothing to stop
        return
    serve.shutdown()
    ray.shutdown()
