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


def search_options(fn: Optional[Callable] = None, *, wearer: bool = True) -> Callable:
    """--gender, --k, --budget and --json, as `look` and `similar` take them. Without a `wearer`
    in the photo (`similar`: one article alone) --gender has no auto and defaults to any."""
    genders = ["auto", "men", "women", "any", "kids"] if wearer else ["any", "men", "women", "kids"]

    def decorate(fn: Callable) -> Callable:
        for option in reversed([
            click.option("--gender", type=click.Choice(genders), default=genders[0],
                         show_default=True,
                         help=("whose products; auto: the wearer's, inferred from the photo"
                               if wearer else "whose products")),
            click.option("--k", type=click.IntRange(min=1), default=None,
                         help="products per article  [default: LOOKBOT_K, 5]"),
            click.option("--budget", type=click.IntRange(min=1), default=None,
                         help="maximum price in rupees"),
            click.option("--json", "as_json", is_flag=True, help="one JSON line per photo"),
        ]):
            fn = option(fn)
        return fn

    return decorate(fn) if fn is not None else decorate


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


def whose_text(result) -> str:
    """Whose products a look shows and who chose: "women's (the wearer's, from the photo)"."""
    from core.index import WHOSE

    name = WHOSE.get(result.gender, result.gender)
    if result.gender_source == "you":
        return f"{name} (as chosen with --gender)"
    if result.gender_source != "photo":  # no street model: nothing read the wearer
        return f"{name} (the wearer was not read; choose with --gender)"
    if (result.wearer or {}).get("gender") == "unsure":
        return f"unisex first, then {name} (not sure whose; choose with --gender)"
    return f"{name} (the wearer's, from the photo)"


def unpriced_text(products, budget: Optional[int]) -> str:
    """The products a --budget could not be checked against, because they list no price."""
    unpriced = sum(p.price is None for p in products)
    if budget is None or not unpriced:
        return ""
    return (f"  note: {unpriced} of these {len(products)} products list no price, so they were "
            f"not checked against the {budget:,} rupee budget")


def look_text(path: str, result, budget: Optional[int] = None) -> str:
    lines = [f"{path}: {result.verdict.reason} - {result.verdict.message}"]
    if result.articles:
        lines.append(f"  picks: {whose_text(result)}")
    for a in result.articles:
        d = a.detection
        lines.append(f"  {d.category:<10} {d.source:<4} {d.score:.2f} box={[round(v) for v in d.box]}")
        for p in a.products:
            lines.append(f"      {p.distance:.3f}  {(p.brand or '-')[:18]:<18} {p.title[:48]:<48} "
                         f"{p.price_label:<16} {p.url}")
    note = unpriced_text([p for a in result.articles for p in a.products], budget)
    return "\n".join(lines + ([note] if note else []))


def detect_text(path: str, result) -> str:
    lines = [f"{path}: {result.reason if result.reason != 'ok' else ''}"]
    lines += [f"  {d.category:<10} {d.source:<4} {d.score:.3f} {[round(v) for v in d.box]}"
              for d in result.detections]
    return "\n".join(lines)


def similar_text(path: str, result, budget: Optional[int] = None) -> str:
    lines = [f"{path}: {result.message or ''}"]
    lines += [f"      {p.distance:.3f}  {p.title[:60]:<60} {p.price_label:<16} {p.url}"
              for p in result.products]
    note = unpriced_text(result.products, budget)
    return "\n".join(lines + ([note] if note else []))
