"""The Quality and Speed tables of docs/MEASUREMENTS.md, rendered from the JSON reports of
`lookbot eval` (eval.json) and `lookbot bench` (bench.json):

    lookbot measurements runs/eval/eval.json runs/bench/bench.json [NOTE]

Either file may be "-" to leave its table out.
"""
from __future__ import annotations

from typing import Any, Optional


def _met(ok: Optional[bool]) -> str:
    return "–" if ok is None else ("met" if ok else "**not met**")


def _n(v: Any, nd: int = 3) -> str:
    return "–" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


def measurements_markdown(ev: Optional[dict[str, Any]], bench: Optional[dict[str, Any]],
                          eval_cmd: str = "lookbot eval --json --out runs/eval",
                          bench_cmd: str = "lookbot bench --json --out runs/bench",
                          note: str = "") -> str:
    """The "Quality" and "Speed" tables of docs/MEASUREMENTS.md, from eval.json and bench.json."""
    from .eval_gate import CUTS
    from .eval_metrics import GOALS

    out: list[str] = []
    if ev:
        m = ev["meta"]
        out += ["## Quality", "",
                f"Command: `{m.get('command') or eval_cmd}`  "
                + (f"(at most {m['limit']} per set: a quick run, not the figures)  "
                   if m.get("limit") else ""),
                f"Machine: {m['cores']} cores, {m['cpu']}; {m['date']}; embedding "
                f"`{m['embedding']}`, detector `{m['detector']}`; {m.get('seconds')} s.", "",
                "| figure | value | goal | status |", "|---|---|---|---|"]
        g = ev.get("gate")
        if g:
            c = g["confusion"]
            full_goal, other_goal = GOALS["gate_fullshot_pass"], GOALS["gate_not_fullshot_reject"]
            out += [f"| gate: full shots passed ({c['fullshot']['pass']}/"
                    f"{c['fullshot']['pass'] + c['fullshot']['reject']}) | "
                    f"{_n(g['fullshot_pass_rate'])} | {full_goal} | "
                    f"{_met(None if g['fullshot_pass_rate'] is None else g['fullshot_pass_rate'] >= full_goal)} |",
                    f"| gate: other photos refused ({c['not_fullshot']['reject']}/"
                    f"{c['not_fullshot']['pass'] + c['not_fullshot']['reject']}) | "
                    f"{_n(g['not_fullshot_reject_rate'])} | {other_goal} | "
                    f"{_met(None if g['not_fullshot_reject_rate'] is None else g['not_fullshot_reject_rate'] >= other_goal)} |",
                    f"| gate: accuracy | {_n(g['accuracy'])} | | |"]
            cc = g.get("ccp")
            if cc:
                rate = cc["fullshot_pass_rate"]
                out.append(f"| gate: CCP validation full shots passed ({cc['passed']}/"
                           f"{cc['n_photos']}) | {_n(rate)} | {full_goal} | "
                           f"{_met(None if rate is None else rate >= full_goal)} |")
                for k, v in cc["cut"].items():
                    out.append(f"| gate: the same photos {CUTS[k]}, refused "
                               f"(of {v['n']}) | {_n(v['reject_rate'])} | | |")
        d = ev.get("detector")
        if d:
            for v, fig in d["variants"].items():
                for cls in ("topwear", "bottomwear", "footwear", "eyewear", "handbag"):
                    val = fig["map50"][cls]
                    goal = GOALS[f"map50_{cls}"]
                    out.append(f"| detector `{v}` mAP50 {cls} (mAP50-95 "
                               f"{_n(fig['map50_95'][cls])}) | {_n(val)} | {goal} | "
                               f"{_met(None if val is None else val >= goal) if v in ('fused', 'yolo') else ''} |")
            sh = d.get("shown")
            for cls, v in (sh["per_class"].items() if sh else ()):
                out.append(f"| detector shown boxes {cls}: precision (recall {_n(v['recall'])}, "
                           f"{v['n_shown']} shown) | {_n(v['precision'])} | "
                           f"{GOALS['shown_precision']} | {_met(sh['goal_met'][cls])} |")
        cat = ev.get("catalog")
        if cat:
            for v, fig in cat["variants"].items():
                for key, label in (("p5_article_type", "article type"), ("p5_colour", "colour"),
                                   ("p5_gender", "gender group")):
                    out.append(f"| catalog→catalog P@5 {label}, `{v}` | {_n(fig[key])} | "
                               f"{GOALS[key]} | {_met(fig['goal_met'][key])}"
                               f"{' (baseline)' if v == 'backbone' and len(cat['variants']) > 1 else ''} |")
        st = ev.get("street")
        if st:
            for v, fig in st["variants"].items():
                val = fig["colour_family_at5"]
                out.append(f"| street→shop colour-family agreement@5, `{v}` | {_n(val)} | 0.6 | "
                           f"{_met(fig['goal_met']['street_colour_family_at5'])} |")
                out.append(f"| street→shop article-type plausibility@5, `{v}` | "
                           f"{_n(fig['article_plausible_at5'])} | | |")
        sp = ev.get("street_picks")
        if sp:
            for v, fig in sp["variants"].items():
                for c, pc in [("all", fig), *fig["per_category"].items()]:
                    out.append(f"| street picks@5 gender / type / colour family, `{v}`, {c} | "
                               f"{_n(pc['gender_at5'])} / {_n(pc['type_at5'])} / "
                               f"{_n(pc['colour_at5'])} | " + (
                                   "0.95 / 0.85 / 0.80 | " + " / ".join(_met(fig['goal_met'][m])
                                   for m in ("gender_at5", "type_at5", "colour_at5")) + " |"
                                   if c == "all" else ("– / 0.75 / – | " + _met(
                                       fig['goal_met']['type_at5_topwear']) + " |"
                                       if c == "topwear" else "| |")))
        out += ["", f"Sets: gate {ev.get('gate', {}).get('n', '–')} labelled people photos; detector "
                    f"{d['n_photos'] if d else '–'} CCP photos ({d['split'] if d else '–'}); "
                    f"catalog {cat['n_queries'] if cat else '–'} queries ({cat['split'] if cat else '–'}) "
                    f"over {cat['n_gallery'] if cat else '–'} items; street "
                    f"{st['n_queries'] if st else '–'} CCP garments.", ""]
        if d and d.get("note"):
            out += [f"Detector variants: {d['note']}.", ""]
        if g and g.get("false_rejection_reasons"):
            out += ["False rejections of full shots by reason: " + ", ".join(
                f"`{k}` {v}" for k, v in g["false_rejection_reasons"].items()) + ".", ""]
    if bench:
        m = bench["meta"]
        out += ["## Speed", "",
                f"Command: `{bench_cmd}`  ",
                f"Machine: {m['cores']} cores, {m['cpu']}; {m['date']}; CPU reference (1024² "
                f"float32 matmul) {m['cpu_reference_ms']} ms; {m.get('seconds')} s.", ""]
        if note:
            out += [note, ""]
        out += ["| figure | value | goal | status |", "|---|---|---|---|"]
        p = bench.get("pipeline")
        if p:
            for s, v in p["stages"].items():
                goal, ok = ("60 ms", v["p50_ms"] <= 60) if s == "detect" else ("", None)
                out.append(f"| {s} p50 / p95 / max (ms) | {_n(v['p50_ms'], 1)} / "
                           f"{_n(v['p95_ms'], 1)} / {_n(v['max_ms'], 1)} | {goal} | "
                           f"{_met(ok) if goal else ''} |")
            v = p["look"]
            out.append(f"| **look end to end, warm**, p50 / p95 / max (ms) | {_n(v['p50_ms'], 1)} / "
                       f"{_n(v['p95_ms'], 1)} / {_n(v['max_ms'], 1)} | p50 300 ms | "
                       f"{_met(p['goal_met'])} |")
            if p.get("look_main_thread"):
                v = p["look_main_thread"]
                out.append(f"| look in the main thread (`lookbot look`), p50 / p95 (ms) | "
                           f"{_n(v['p50_ms'], 1)} / {_n(v['p95_ms'], 1)} | | |")
            if "look_with_cards" in p:
                v = p["look_with_cards"]
                out.append(f"| look + cards p50 / p95 (ms) | {_n(v['p50_ms'], 1)} / "
                           f"{_n(v['p95_ms'], 1)} | | |")
        t = bench.get("throughput")
        if t:
            out.append("| throughput (photos/s) at " + ", ".join(t["by_concurrency"]) + " workers | "
                       + ", ".join(f"{v['photos_per_s']:.2f}" for v in t["by_concurrency"].values())
                       + f" | | {t['pool']} |")
        e = bench.get("embedding")
        if e:
            out.append(f"| embedding throughput, backbone (img/s) | {e['backbone_images_per_s']} | | |")
            if "with_head_images_per_s" in e:
                out.append(f"| embedding throughput with head (img/s) | "
                           f"{e['with_head_images_per_s']} | ≤ 10% slower | "
                           f"{_met(e['head_overhead_ratio'] <= 1.10)} (x{e['head_overhead_ratio']}) |")
        mem = bench.get("memory", {})
        a = mem.get("all_models_loaded") or mem.get("engine_loaded")
        if a:
            out.append(f"| resident memory, all models loaded (MiB) | {a['rss_mb']} (peak "
                       f"{a['peak_rss_mb']}) | | |")
        ix = bench.get("index")
        if ix:
            rows = ([("real", ix["real"], None)] if ix.get("real") else []) + \
                [(g, v, e.get("goal_met") if g == "blended" else None)
                 for n, e in ix["sizes"].items() for g, v in e.items() if g != "goal_met"]
            for g, v, ok in rows:
                out.append(f"| Annoy {v['n']:,} × {ix['dim']}-d ({g}): build s / query p50 ms / "
                           f"recall@10 | {v['build_s']} / {_n(v['query']['p50_ms'])} / "
                           f"{_n(v['recall_at_10'])} | "
                           f"{'0.95 at < 1 ms' if v['n'] == 100_000 and g == 'blended' else ''} | "
                           f"{_met(ok) if ok is not None else ''} |")
                sweep = v.get("search_k_factor_sweep", {})
                if sweep:
                    out.append("| ↳ search_k factor → p50 ms / recall@10 | "
                               + "; ".join(f"{f}: {_n(x['p50_ms'])} / {_n(x['recall_at_10'])}"
                                           for f, x in sweep.items()) + " | | |")
            if ix["skipped"]:
                out.append(f"| Annoy sizes not measured | {', '.join(f'{n:,}' for n in ix['skipped'])}"
                           f" | | |")
            out += ["", f"Annoy vectors: {ix['vectors']}. `clustered`: a real vector plus noise "
                        f"(near-duplicate clusters, optimistic); `blended`: between two real "
                        f"vectors (pessimistic). {ix['trees']} trees, search_k {ix['search_k']} "
                        f"(production: k × trees × LOOKBOT_SEARCH_K_FACTOR)."]
        out.append("")
    return "\n".join(out)
