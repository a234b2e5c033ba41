"""The benchmark report of `lookbot bench` (measure/benchmark.py) as plain-text tables and a PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from core.records import LOOK_STAGES

from .bench_scale import format_scale
from .bench_speed import format_speed


def plot_bench(report: dict[str, Any], path: Path) -> Path:
    """Latency per stage (box plot) and throughput against concurrency, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    raw = report.get("pipeline", {}).get("raw_ms", {})
    names = [s for s in (*LOOK_STAGES, "cards", "look") if raw.get(s)]
    if names:
        a1.boxplot([raw[s] for s in names], showfliers=True)
        a1.set_xticks(range(1, len(names) + 1), names)
        a1.set_ylabel("ms")
        a1.set_title(f"latency per stage ({len(raw.get('look', []))} photos, warm)")
        a1.axhline(300, color="tab:red", lw=0.8, ls="--", label="look p50 goal 300 ms")
        a1.legend(loc="upper left", fontsize=8)
    tp = report.get("throughput", {}).get("by_concurrency", {})
    if tp:
        cs = sorted(int(c) for c in tp)
        a2.plot(cs, [tp[str(c)]["photos_per_s"] for c in cs], marker="o")
        a2.set_xscale("log", base=2)
        a2.set_xticks(cs, [str(c) for c in cs])
        a2.set_xlabel("concurrent requests")
        a2.set_ylabel("photos / s")
        a2.set_ylim(bottom=0)
        a2.set_title(f"throughput ({report['throughput'].get('pool')})", fontsize=9)
    m = report.get("meta", {})
    fig.suptitle(f"lookbot bench - {m.get('cores')} cores {m.get('cpu')}, {m.get('date')}",
                 fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _f(v: Any, nd: int = 1) -> str:
    return "-" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


def format_bench(report: dict[str, Any]) -> str:
    """The benchmark as plain-text tables."""
    m = report.get("meta", {})
    lines = [f"lookbot bench  {m.get('date')}  {m.get('cores')} cores {m.get('cpu')}  "
             f"{m.get('photos')} photos from {m.get('photos_dir')}",
             f"  embedding {m.get('embedding')}  detector {m.get('detector')}  "
             f"CPU reference (1024^2 matmul) {m.get('cpu_reference_ms')} ms"]
    p = report.get("pipeline")
    if p:
        lines += ["", f"Latency, warm (ms; {p['refused_by_gate']} photos refused by the gate)",
                  f"  {'stage':<10}{'n':>5}{'p50':>9}{'p95':>9}{'max':>9}"]
        rows = [*p["stages"].items(), ("look", p["look"])]
        if "look_with_cards" in p:
            rows.append(("look+cards", p["look_with_cards"]))
        for s, v in rows:
            lines.append(f"  {s:<10}{v['n']:>5}{_f(v['p50_ms']):>9}{_f(v['p95_ms']):>9}"
                         f"{_f(v['max_ms']):>9}")
        lines.append(f"  look p50 goal 300 ms: {'met' if p['goal_met'] else 'NOT met'}  "
                     f"(timed in a worker thread, as the bot runs it)")
        if p.get("look_main_thread"):
            v = p["look_main_thread"]
            lines.append(f"  look in the main thread (as `lookbot look` runs it), {v['n']} photos: "
                         f"p50 {_f(v['p50_ms'])} ms, p95 {_f(v['p95_ms'])} ms")
        if p.get("street_model"):
            v = p["street_model"]
            lines.append(f"  look with / without the street model, alternating: p50 "
                         f"{_f(v['with']['p50_ms'])} / {_f(v['without']['p50_ms'])} ms, ratio "
                         f"{_f(v['p50_ratio'])} (goal <= {v['goal_ratio']})")
    t = report.get("throughput")
    if t:
        lines += ["", f"Throughput ({t['pool']})",
                  f"  {'workers':<10}{'photos/s':>10}{'errors':>8}{'core-ms a photo':>17}{'cores allow':>13}"]
        for c, v in t["by_concurrency"].items():
            cpu = v.get("core_ms_per_photo")
            ceiling = (v.get("cores") or 1) * 1000 / cpu if cpu else None
            lines.append(f"  {c:<10}{v['photos_per_s']:>10.2f}{v['errors']:>8}{_f(cpu):>17}"
                         f"{_f(round(ceiling, 2) if ceiling else None):>13}")
    e = report.get("embedding")
    if e:
        lines += ["", f"Embedding ({e['images']} catalog images, batch {e['batch']}): backbone "
                      f"{e['backbone_images_per_s']} img/s"
                  + (f", with head {e['with_head_images_per_s']} img/s "
                     f"(x{e['head_overhead_ratio']} time)" if "with_head_images_per_s" in e else "")]
    mem = report.get("memory")
    if mem:
        a = mem.get("all_models_loaded") or mem.get("engine_loaded", {})
        lines.append(f"Memory with all models loaded: RSS {a.get('rss_mb')} MiB (anonymous "
                     f"{a.get('anon_rss_mb')}, library files {a.get('file_rss_mb')}), peak "
                     f"{a.get('peak_rss_mb')} MiB (whole run peak "
                     f"{mem.get('end', {}).get('peak_rss_mb')} MiB)")
    lines += format_speed(report) + format_scale(report)
    ix = report.get("index")
    if ix:
        kk = "recall_at_" + str(ix["k"])
        lines += ["", f"Annoy ({ix['dim']}-d, {ix['trees']} trees, search_k {ix['search_k']}; "
                      f"vectors {ix['vectors']})",
                  f"  {'size':>9} {'vectors':<10}{'build s':>9}{'p50 ms':>9}{'p95 ms':>9}"
                  f"{'recall@' + str(ix['k']):>11}"]
        rows = ([("real", ix["real"])] if ix.get("real") else []) + \
            [(g, v) for n, e in ix["sizes"].items() for g, v in e.items() if g != "goal_met"]
        for g, v in rows:
            lines.append(f"  {v['n']:>9} {g:<10}{v['build_s']:>9.1f}{_f(v['query']['p50_ms'], 3):>9}"
                         f"{_f(v['query']['p95_ms'], 3):>9}{v[kk]:>11.3f}")
            lines.append("            smaller search_k factor -> p50 ms / recall: " + ", ".join(
                f"{f}: {_f(x['p50_ms'], 3)} / {x[kk]:.3f}"
                for f, x in v.get("search_k_factor_sweep", {}).items()))
        goal = ix["sizes"].get("100000", {}).get("goal_met")
        if goal is not None:
            lines.append(f"  goal recall@10 >= 0.95 under 1 ms at 100k (blended): "
                         f"{'met' if goal else 'NOT met'}")
        if ix["skipped"]:
            lines.append(f"  not measured: {ix['skipped']} (ask with --index-sizes; 1M needs GBs "
                         f"and many minutes on 2 cores)")
    if report.get("plot"):
        lines += ["", f"plot: {report['plot']}"]
    return "\n".join(lines)
