"""`lookbot eval`: how good the gate, the detector and the retrieval are, on real labelled data.

`run_eval` runs the evaluations on ../shared/data and returns figures under stable JSON keys;
`format_eval` prints them as tables. The parts live in their own modules:

- measure/eval_gate.py, measure/eval_detector.py, measure/eval_retrieval.py: one evaluation each;
- measure/eval_street.py: the street garments (CCP boxes, mask colours) the retrieval's street check uses;
- measure/eval_metrics.py: the measures, pure functions with known answers (confusion matrix,
  all-point AP and mAP, exact nearest neighbours, P@k), and the GOALS they are held to;
- measure/eval_labels.py: gender groups, colour naming and families, article-type plausibility;
- measure/eval_data.py: where the data lives, the splits and held-out ids, the machine description.

Definitions written down here, once:

- Gate: photos under `people/fullshot` must pass, photos under `people/not_fullshot` must be refused
  (labels from `manifest.csv`, else from the folder names). `ambiguous/` and `multi_person/` have no
  right answer; their pass counts are reported for information only.
- Detector: per-class AP at IoU 0.50 and mean AP over IoU 0.50:0.05:0.95, with all-point
  interpolation of the precision envelope (VOC 2010+). Detections are matched to ground truth
  greedily by descending score, each to the unmatched ground-truth box of its class with the highest
  IoU in the same photo (COCO rule). Ground truth is the detector's own label conversion of CCP
  (`training.ccp_dataset.load_ccp_labels`: dresses split at the waist, layered tops merged) on the
  photos of `data/models/detector_split.json`'s `val` list; without that file, the same fixed-seed
  split (`split_photos(n_val=160, seed=0)`) is recomputed. Each AP50 comes with a 95% interval
  from 200 draws of the photos with replacement (seed 0): on 160 photos handbag's spans about 0.2.
- Catalog to catalog: the engine's catalog (the demo catalog by default; products.csv when the
  database is empty). Each held-out item (`embedding_split.json`'s `heldout`, else every item)
  queries the exact nearest neighbours of its own category among all catalog items, excluding
  itself, with each embedding in turn: `backbone` (ImageNet features alone, the baseline) and
  `head` (the trained head, what `look` uses) when one is installed. Exact search isolates the
  embedding; Annoy's own recall is measured by `lookbot bench`.
  P@5 counts results with the same `article_type`, the same `colour`, and the same gender group
  (GENDER_GROUPS in measure/eval_labels.py; Unisex agrees with everyone).
- Street to shop: each CCP garment (one ccp_label in one validation photo; both shoes together)
  is cut from the photo by its box and queries its category. Its colour is the majority colour
  family of its mask pixels (each pixel named by the nearest catalog colour in CIE Lab, COLOUR_RGB);
  colour-family agreement@5 is the share of the top 5 whose catalog colour is in that family, and
  article-type plausibility@5 the share whose article type is in PLAUSIBLE_TYPES[ccp_label].
  Dresses, suits and rompers are skipped: the catalog has no such category.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from core.config import REPO_ROOT, Config
from .eval_data import DEFAULT_CATALOG_DIR, DEFAULT_CCP_DIR, DEFAULT_PEOPLE_DIR, machine
from .eval_detector import eval_detector
from .eval_gate import CUTS, eval_gate, eval_gate_ccp
from .eval_metrics import GOALS
from .eval_retrieval import eval_retrieval
from core.records import CATEGORIES

log = logging.getLogger(__name__)


def run_eval(config: Optional[Config] = None, out_dir: Optional[Path] = None,
             people_dir: Path = DEFAULT_PEOPLE_DIR, ccp_dir: Path = DEFAULT_CCP_DIR,
             limit: Optional[int] = None, catalog_dir: Path = DEFAULT_CATALOG_DIR,
             parts: Sequence[str] = ("gate", "detector", "catalog", "street"), k: int = 5,
             engine=None, command: Optional[str] = None) -> dict[str, Any]:
    """Every quality figure, under stable keys. `limit` caps each set for a quick run;
    `command`, the command line that ran, goes into the report's meta.

    The work runs in one worker thread, as the bot runs the engine: on a busy 2-core machine
    torch in the main thread can be several times slower (its thread team spins for cores).
    """
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookbot-eval") as pool:
        return pool.submit(_run_eval, config, out_dir, people_dir, ccp_dir, limit, catalog_dir,
                           parts, k, engine, command).result()


def _run_eval(config, out_dir, people_dir, ccp_dir, limit, catalog_dir, parts, k, engine,
              command) -> dict[str, Any]:
    from core.pipeline import Engine

    config = config or Config.from_env()
    out_dir = Path(out_dir or REPO_ROOT / "runs" / "eval")
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    engine = engine or Engine(config, load_index=False)
    report: dict[str, Any] = {
        "meta": {**machine(), "command": command, "limit": limit,
                 "embedding": engine.embedder.version,
                 "detector": getattr(engine.detector, "name", type(engine.detector).__name__),
                 "goals": GOALS},
    }
    if "gate" in parts:
        log.info("eval: gate on %s", people_dir)
        report["gate"] = eval_gate(engine, Path(people_dir), limit)
        report["gate"]["ccp"] = eval_gate_ccp(engine, config.models_dir, Path(ccp_dir), limit)
    if "detector" in parts:
        log.info("eval: detector on CCP validation photos")
        report["detector"] = eval_detector(engine, config, Path(ccp_dir), limit)
    if "catalog" in parts or "street" in parts:
        report.update(eval_retrieval(engine, config, out_dir, Path(ccp_dir), Path(catalog_dir),
                                     limit, parts, k))
    report["meta"]["seconds"] = round(time.perf_counter() - start, 1)
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1))
    return report


# ------------------------------------------------------------------------------- readable output

def _f(v: Any) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _goal(met: Optional[bool]) -> str:
    return "" if met is None else ("met" if met else "NOT met")


def format_eval(report: dict[str, Any]) -> str:
    """The evaluation as plain-text tables."""
    lines = []
    m = report.get("meta", {})
    lines.append(f"lookbot eval  {m.get('date')}  {m.get('cores')} cores {m.get('cpu')}  "
                 f"embedding {m.get('embedding')}  detector {m.get('detector')}"
                 + (f"  limit {m['limit']}" if m.get("limit") else ""))
    g = report.get("gate")
    if g:
        c = g["confusion"]
        lines += ["", f"Gate ({g['n']} labelled photos)",
                  f"  {'truth':<14}{'pass':>6}{'reject':>8}",
                  f"  {'fullshot':<14}{c['fullshot']['pass']:>6}{c['fullshot']['reject']:>8}",
                  f"  {'not_fullshot':<14}{c['not_fullshot']['pass']:>6}"
                  f"{c['not_fullshot']['reject']:>8}",
                  f"  accuracy {_f(g['accuracy'])}  full shots passed {_f(g['fullshot_pass_rate'])}"
                  f"  others refused {_f(g['not_fullshot_reject_rate'])}  (goal "
                  f"{GOALS['gate_fullshot_pass']} both: {_goal(g['goal_met'])})"]
        if g["false_rejection_reasons"]:
            lines.append("  false rejections by reason: " + ", ".join(
                f"{k} {v}" for k, v in g["false_rejection_reasons"].items()))
        for k, v in g.get("unlabelled_folders", {}).items():
            lines.append(f"  {k} (no right answer): pass {v['pass']}, reject {v['reject']}")
        cc = g.get("ccp")
        if cc:
            lines.append(f"  CCP full shots ({cc['n_photos']}, {cc['split']}): passed "
                         f"{cc['passed']}/{cc['n_photos']} = {_f(cc['fullshot_pass_rate'])}")
            for k, v in cc["cut"].items():
                lines.append(f"    the same {CUTS[k]}: refused {_f(v['reject_rate'])} of {v['n']}")
    d = report.get("detector")
    if d:
        lines += ["", f"Detector ({d['n_photos']} photos, {d['split']})", f"  {d.get('note', '')}",
                  f"  {'variant':<14}{'metric':<10}" + "".join(f"{c:>11}" for c in CATEGORIES)
                  + f"{'mean':>8}{'ms':>8}"]
        for v, fig in d["variants"].items():
            for metric in ("map50", "map50_95"):
                lines.append(f"  {v:<14}{metric:<10}" + "".join(
                    f"{_f(fig[metric][c]):>11}" for c in CATEGORIES)
                    + f"{_f(fig['mean'][metric]):>8}"
                    + (f"{fig['ms_per_photo']:>8}" if metric == "map50" else ""))
            iv = fig.get("map50_interval95") or {}
            if any(iv.values()):  # AP50 over the photos resampled: how far sampling moves it
                lines.append(f"  {'':<14}{'95% int.':<10}" + "".join(
                    f"{(f'{iv[c][0]:.2f}-{iv[c][1]:.2f}' if iv.get(c) else '-'):>11}" for c in CATEGORIES))
            lines.append(f"  {'':<14}{'goal':<10}" + "".join(
                f"{_goal(fig['goal_met'][c]):>11}" for c in CATEGORIES))
        sh = d.get("shown")
        if sh:
            pr = sh["per_class"]
            lines += [f"  shown to users ({sh['note']})",
                      f"  {'':<14}{'precision':<10}" + "".join(
                          f"{_f(pr[c]['precision']):>11}" for c in CATEGORIES),
                      f"  {'':<14}{'recall':<10}" + "".join(
                          f"{_f(pr[c]['recall']):>11}" for c in CATEGORIES),
                      f"  {'':<14}{'goal':<10}" + "".join(
                          f"{_goal(sh['goal_met'][c]):>11}" for c in CATEGORIES)]
    cat = report.get("catalog")
    if cat:
        lines += ["", f"Catalog to catalog P@{cat['k']} ({cat['n_queries']} queries, gallery "
                      f"{cat['n_gallery']}, split {cat['split']})",
                  f"  {'embedding':<10}{'article_type':>14}{'colour':>14}{'gender':>14}"]
        for v, fig in cat["variants"].items():
            lines.append(f"  {v:<10}{_f(fig['p5_article_type']):>14}{_f(fig['p5_colour']):>14}"
                         f"{_f(fig['p5_gender']):>14}")
        fig = cat["variants"][cat["default_variant"]]
        lines.append(f"  {'goal':<10}" + "".join(
            f"{str(GOALS[m]) + ' ' + _goal(fig['goal_met'][m]):>{w}}"
            for m, w in (("p5_article_type", 14), ("p5_colour", 14), ("p5_gender", 14))))
    st = report.get("street")
    if st:
        lines += ["", f"Street to shop @{st['k']} ({st['n_queries']} CCP garments in "
                      f"{st['n_photos']} photos)",
                  f"  {'embedding':<10}{'colour family':>15}{'article type':>14}"]
        for v, fig in st["variants"].items():
            lines.append(f"  {v:<10}{_f(fig['colour_family_at5']):>15}"
                         f"{_f(fig['article_plausible_at5']):>14}")
        fig = st["variants"][st["default_variant"]]
        lines.append(f"  {'goal':<10}{'0.6 ' + _goal(fig['goal_met']['street_colour_family_at5']):>15}")
    sp = report.get("street_picks")
    if sp:
        lines += ["", f"Street picks @{sp['k']} ({sp['n_garments']} CCP garments in "
                      f"{sp['n_photos']} photos no model trained on; wearers {sp['wearers']})",
                  f"  {'variant':<9}{'scope':<12}{'gender':>8}{'type':>8}{'colour':>8}"]
        for v, fig in sp["variants"].items():
            lines.append(f"  {v:<9}{'all':<12}{_f(fig['gender_at5']):>8}{_f(fig['type_at5']):>8}"
                         f"{_f(fig['colour_at5']):>8}")
            for c, pc in fig["per_category"].items():
                lines.append(f"  {'':<9}{c:<12}{_f(pc['gender_at5']):>8}{_f(pc['type_at5']):>8}"
                             f"{_f(pc['colour_at5']):>8}")
        last = list(sp["variants"].values())[-1]
        lines.append("  goals: " + ", ".join(f"{m} {sp['goals'][m]} {_goal(met)}"
                                             for m, met in last["goal_met"].items()))
        if last.get("interval95"):
            lines.append("  95% intervals over photos: " + ", ".join(
                f"{m} {iv[0]:.3f}-{iv[1]:.3f}" for m, iv in last["interval95"].items() if iv))
        if sp.get("wearer_calls"):
            lines.append("  wearer (labelled -> inferred): " + "; ".join(
                f"{t}: " + ", ".join(f"{g} {n}" for g, n in sorted(row.items()))
                for t, row in sorted(sp["wearer_calls"].items())))
        if sp.get("contact_sheet"):
            lines.append(f"  picture of some garments' picks: {sp['contact_sheet']}")
    if report.get("contact_sheet"):
        lines += ["", f"contact sheet: {report['contact_sheet']}"]
    return "\n".join(lines)
