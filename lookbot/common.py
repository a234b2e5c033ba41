"""What the command modules share: the search options, the JSON switch, and the text layouts."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import click

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PHOTO = REPO / "data" / "examples" / "look.jpg"
CATEGORIES = ("topwear", "bottomwear", "footwear", "eyewear", "handbag")

json_flag = click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
out_path = click.option("--out", type=click.Path(path_type=Path), default=None,
                        help="output file or folder (default under data/models)")


def search_options(fn: Callable) -> Callable:
    """--gender, --k, --budget and --json, as `look` and `similar` take them."""
    for option in reversed([
        click.option("--gender", type=click.Choice(["auto", "men", "women", "any", "kids"]),
                     default="auto", show_default=True,
                     help="whose products; auto: the wearer's, inferred from the photo"),
        click.option("--k", type=click.IntRange(min=1), default=None,
                     help="products per article  [default: LOOKBOT_K, 5]"),
        click.option("--budget", type=click.IntRange(min=1), default=None,
                     help="maximum price in rupees"),
        click.option("--json", "as_json", is_flag=True, help="one JSON line per photo"),
    ]):
        fn = option(fn)
    return fn


def config():
    """The typed configuration from the environment (a bad value stops the command clearly)."""
    from core.config import Config

    return Config.from_env()


def invocation() -> str:
    """The command line that ran, as reports record it to say how a model was made."""
    ctx = click.get_current_context()
    argv = (ctx.find_root().obj or {}).get("argv")
    return "lookbot " + shlex.join(sys.argv[1:] if argv is None else argv)


def int_list(text: str) -> list[int]:
    """"10000,100000" -> [10000, 100000]."""
    return [int(float(x)) for x in str(text).replace(" ", "").split(",") if x]


def word_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def echo_json(obj: Any, indent: Optional[int] = None) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=indent, default=str))


def look_text(path: str, result) -> str:
    lines = [f"{path}: {result.verdict.reason} - {result.verdict.message}"]
    for a in result.articles:
        d = a.detection
        lines.append(f"  {d.category:<10} {d.source:<4} {d.score:.2f} box={[round(v) for v in d.box]}")
        for p in a.products:
            lines.append(f"      {p.distance:.3f}  {(p.brand or '-')[:18]:<18} {p.title[:48]:<48} "
                         f"{p.price_label:<16} {p.url}")
    return "\n".join(lines)


def detect_text(path: str, result) -> str:
    lines = [f"{path}: {result.reason if result.reason != 'ok' else ''}"]
    lines += [f"  {d.category:<10} {d.source:<4} {d.score:.3f} {[round(v) for v in d.box]}"
              for d in result.detections]
    return "\n".join(lines)


def similar_text(path: str, result) -> str:
    lines = [f"{path}: {result.message or ''}"]
    lines += [f"      {p.distance:.3f}  {p.title[:60]:<60} {p.url}" for p in result.products]
    return "\n".join(lines)
