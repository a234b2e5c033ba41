"""The engine's commands: look, detect, similar, index, serve, build-demo, config."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from core.config import SHARED_CATALOG

from .common import (CATEGORIES, DEFAULT_PHOTO, config, detect_text, echo_json, look_text,
                     search_options, similar_text)


def _options(gender: str, k: Optional[int], budget: Optional[int]):
    from core.records import SearchOptions

    return SearchOptions(gender=gender, k=k if k is not None else config().k, budget=budget)


def _image_path(ctx, param, value: Optional[Path]) -> Optional[Path]:
    """--draw's file must name an image format, checked before any photo is looked at."""
    from PIL import Image

    if value is not None and value.suffix.lower() not in Image.registered_extensions():
        raise click.BadParameter(f"{value} has no image suffix; use one such as .jpg or .png")
    return value


@click.command()
@click.argument("photos", nargs=-1)
@search_options
@click.option("--draw", type=click.Path(path_type=Path), metavar="OUT.jpg", callback=_image_path,
              help="save the photo with boxes drawn (numbered for several photos)")
def look(photos, gender, k, budget, as_json, draw):
    """Gate, detect and find products for outfit photos (default: the bundled example)."""
    from core.files import look_files
    from core.pipeline import Engine

    for path, result in look_files(Engine(), list(photos) or [str(DEFAULT_PHOTO)],
                                   _options(gender, k, budget), draw):
        echo_json(result.to_json()) if as_json else click.echo(look_text(path, result, budget))
    return 0


@click.command()
@click.argument("photos", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON line per photo")
def detect(photos, as_json):
    """Raw fused detections of photos, without the gate, for measuring."""
    from core.files import detect_files
    from core.pipeline import Engine

    for path, result in detect_files(Engine(load_index=False), photos):
        echo_json(result.to_json()) if as_json else click.echo(detect_text(path, result))
    return 0


@click.command()
@click.argument("images", nargs=-1, required=True)
@click.option("--category", required=True, type=click.Choice(CATEGORIES))
@search_options(wearer=False)
def similar(images, category, gender, k, budget, as_json):
    """Products similar to photos of single articles of one category."""
    from core.files import similar_files
    from core.pipeline import Engine

    for path, result in similar_files(Engine(), images, category, _options(gender, k, budget)):
        echo_json(result.to_json()) if as_json else click.echo(similar_text(path, result, budget))
    return 0


@click.command()
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option("--drop-features", is_flag=True,
              help="drop raw backbone features afterwards (smaller shipped catalog)")
@click.option("--keep", type=int, default=3, show_default=True, help="index versions kept on disk")
@click.option("--ray", "ray_address", metavar="ADDRESS|local", default=None,
              help="embed as a Ray Data job on this Ray cluster (local: start one here)")
@click.option("--actors", type=int, default=2, show_default=True,
              help="Ray Data actors holding the model (with --ray)")
def index(quiet, drop_features, keep, ray_address, actors):
    """Embed new catalog images and publish a new index version."""
    from core.embed import Embedder
    from core.indexer import build_index

    cfg = config()
    embed_todo = None
    if ray_address:
        from core.ray_index import ray_embedder

        embed_todo = ray_embedder(cfg, ray_address, actors=actors)
    s = build_index(cfg, Embedder.from_config(cfg), progress=not quiet,
                    keep_features=not drop_features, keep_versions=keep, embed_todo=embed_todo)
    click.echo(f"index {s.version}: {s.products} products ({s.embedded} embedded, {s.reused} "
               f"reused, {s.skipped} skipped) with {s.embedding} in {s.seconds:.1f} s")
    return 0


@click.command()
@click.option("--ray", "ray_address", metavar="ADDRESS|local", default="local", show_default=True,
              help="Ray cluster address, or local to start one here")
@click.option("--host", default="127.0.0.1", show_default=True, help="address HTTP binds to")
@click.option("--port", type=int, default=None, help="HTTP port (default LOOKBOT_SERVE_PORT)")
@click.option("--replicas", type=click.IntRange(min=1), default=None,
              help="a fixed number of engine replicas")
@click.option("--min-replicas", type=click.IntRange(min=1), default=None,
              help="autoscaling lower bound (default LOOKBOT_SERVE_MIN_REPLICAS)")
@click.option("--max-replicas", type=click.IntRange(min=1), default=None,
              help="autoscaling upper bound (default LOOKBOT_SERVE_MAX_REPLICAS)")
def serve(ray_address, host, port, replicas, min_replicas, max_replicas):
    """Run the engine as a Ray Serve app: POST /look answers as `lookbot look --json`."""
    import time

    from core.service import ServeSettings, start_service, stop_service

    cfg = config()
    low = replicas or min_replicas or cfg.serve_min_replicas
    high = replicas or max_replicas or max(low, cfg.serve_max_replicas)
    if high < low:
        raise click.UsageError(f"--max-replicas {high} is below --min-replicas {low}")
    try:
        url = start_service(cfg, ServeSettings(
            address=ray_address, host=host, port=port or cfg.serve_port, min_replicas=low,
            max_replicas=high, replica_cpus=cfg.serve_replica_cpus))
    except Exception:
        stop_service()  # a Ray this command started goes with it
        raise
    click.echo(f"lookbot serve: POST {url}/look (replicas {low}..{high}); Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    finally:
        stop_service()


@click.command("build-demo")
@click.option("--source", type=click.Path(path_type=Path), default=SHARED_CATALOG,
              show_default=True, help="the Kaggle catalog folder (products.csv and images)")
def build_demo(source):
    """(Re)build the demo catalog in LOOKBOT_DATA_DIR from the Kaggle set."""
    from core.demo import build_demo_catalog

    cfg = config()
    n = build_demo_catalog(source, cfg.data_dir)
    click.echo(f"demo catalog: {n} products in {cfg.catalog_path}; now run `lookbot index`")
    return 0


@click.command("config")
@click.option("--markdown", is_flag=True, help="as the README's settings table")
def show_config(markdown):
    """List every setting: its environment variable, the value in effect and its meaning."""
    import shutil

    from core.settings_table import settings_markdown, settings_text

    cfg = config()  # a bad value in the environment is reported, not listed as if fine
    if markdown:
        click.echo(settings_markdown())
        return 0
    click.echo(settings_text(cfg, width=min(100, shutil.get_terminal_size().columns)))
    return 0


COMMANDS = [look, detect, similar, index, serve, build_demo, show_config]
