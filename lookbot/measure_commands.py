"""The measuring commands: eval, bench, and the tables of docs/MEASUREMENTS.md."""
from __future__ import annotations

import json
from pathlib import Path

import click

from core.config import SHARED_CCP, SHARED_PEOPLE

from .common import config, echo_json, int_list, invocation, word_list

json_report = click.option("--json", "as_json", is_flag=True, help="all figures as one JSON object")


def _parts(text: str, known: tuple[str, ...]) -> list[str]:
    """--parts as a list, each one known (a typo would measure nothing and say nothing)."""
    parts = word_list(text)
    unknown = [p for p in parts if p not in known]
    if unknown or not parts:
        raise click.BadParameter(f"{', '.join(unknown) or 'nothing'} is not one of "
                                 f"{', '.join(known)}")
    return parts


@click.command("eval")
@json_report
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/eval"), show_default=True,
              help="folder for eval.json and the contact sheet")
@click.option("--people", type=click.Path(path_type=Path), default=SHARED_PEOPLE, show_default=True,
              help="labelled people photos")
@click.option("--ccp", type=click.Path(path_type=Path), default=SHARED_CCP, show_default=True,
              help="CCP photos, boxes and masks")
@click.option("--limit", type=int, default=None, help="at most N items per set (quick run)")
@click.option("--parts", default="gate,detector,catalog,street", show_default=True,
              callback=lambda ctx, param, v: _parts(v, ("gate", "detector", "catalog", "street")),
              help="comma-separated subset of gate,detector,catalog,street")
def evaluate(as_json, out, people, ccp, limit, parts):
    """Measure gate, detector and retrieval quality on the labelled data."""
    from measure.evaluate import format_eval, run_eval

    report = run_eval(config(), out, people_dir=people, ccp_dir=ccp, limit=limit, parts=parts,
                      command=invocation())
    echo_json(report) if as_json else click.echo(format_eval(report))
    return 0


@click.command()
@json_report
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/bench"), show_default=True,
              help="folder for bench.json and bench.png")
@click.option("--photos", type=click.Path(path_type=Path), default=SHARED_PEOPLE / "fullshot",
              show_default=True, help="folder of full-shot photos")
@click.option("--concurrency", multiple=True, metavar="N[,N...]",
              help="worker counts to measure throughput at (repeat or list; default 1,2,4,8)")
@click.option("--index-sizes", default="10000,100000", show_default=True,
              help="Annoy sizes to measure, e.g. 10000,100000,1000000 (1M takes GBs and many minutes)")
@click.option("--limit", type=int, default=None, help="at most N photos (quick run)")
@click.option("--parts", default="pipeline,throughput,embedding,index", show_default=True,
              callback=lambda ctx, param, v: _parts(
                  v, ("pipeline", "throughput", "embedding", "index", "scale")),
              help="comma-separated subset of pipeline,throughput,embedding,index; scale (on "
                   "request) adds Ray Serve with 1 and 2 replicas and Ray Data's embedding rate")
def bench(as_json, out, photos, concurrency, index_sizes, limit, parts):
    """Measure latency, throughput through the bot's worker pool, index and memory figures."""
    from measure.bench_pool import bot_pool
    from measure.bench_report import format_bench
    from measure.benchmark import run_bench

    workers = [c for group in concurrency or ["1,2,4,8"] for c in int_list(group)]
    report = run_bench(config(), photos, workers, int_list(index_sizes), out, limit=limit,
                       parts=parts, **bot_pool())
    echo_json(report) if as_json else click.echo(format_bench(report))
    return 0


@click.command()
@click.argument("eval_json", metavar="EVAL.json|-")
@click.argument("bench_json", metavar="BENCH.json|-")
@click.argument("note", default="")
def measurements(eval_json, bench_json, note):
    """Print the Quality and Speed tables of docs/MEASUREMENTS.md from the JSON reports of
    `lookbot eval` and `lookbot bench`; either may be "-" to leave its table out."""
    from measure.measurements import measurements_markdown

    def load(path: str):
        if path == "-":
            return None
        try:
            return json.loads(Path(path).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"{path} is not a JSON report ({exc})") from None

    click.echo(measurements_markdown(load(eval_json), load(bench_json), note=note))
    return 0


COMMANDS = [evaluate, bench, measurements]
