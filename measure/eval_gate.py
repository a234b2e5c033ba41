"""The gate's evaluation: labelled people photos must pass (full shots) or be refused (the rest).

On CCP validation photos that show the whole person (shot_heuristic.csv's auto_fullshot, from the
masks) every photo should pass; the same photos cut just above the shoes (2% of the person's height
above the highest shoe pixel) and through the shins (80% of the person's height) should be refused.
"""
from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Optional

from training.ccp_dataset import read_shots

from .eval_data import detector_val_photos, gate_labels, limited, progress
from .eval_metrics import GOALS, accuracy, class_recall, confusion_matrix, rounded

GATE_CLASSES = ("fullshot", "not_fullshot")


def eval_gate(engine, people_dir: Path, limit: Optional[int]) -> dict[str, Any]:
    from core.imageio import BadImage

    labelled = gate_labels(people_dir)
    per_label: dict[str, list[Path]] = defaultdict(list)
    for p, label in labelled:
        per_label[label].append(p)
    truth, pred, reasons = [], [], {}
    false_rej: Counter = Counter()
    rejected_files, accepted_files = [], []
    info: dict[str, dict[str, int]] = {}
    todo = [(label, path) for label in sorted(per_label)
            for path in limited(per_label[label], limit)]
    for label, path in progress(todo, "gate"):
        try:
            verdict, _ = engine.check_gate(engine.decode(path.read_bytes()))
            ok, reason = verdict.full_shot, verdict.reason
        except BadImage as exc:
            ok, reason = False, exc.reason
        reasons[str(path)] = reason
        if label not in GATE_CLASSES:
            info.setdefault(label, {"pass": 0, "reject": 0})["pass" if ok else "reject"] += 1
            continue
        truth.append(label)
        pred.append("fullshot" if ok else "not_fullshot")
        if label == "fullshot" and not ok:
            false_rej[reason] += 1
            rejected_files.append(f"{path.relative_to(people_dir)}: {reason}")
        if label == "not_fullshot" and ok:
            accepted_files.append(str(path.relative_to(people_dir)))
    m = confusion_matrix(truth, pred, GATE_CLASSES)
    full, notfull = class_recall(m, "fullshot"), class_recall(m, "not_fullshot")
    return {
        "n": len(truth),
        "confusion": {"fullshot": {"pass": m["fullshot"]["fullshot"],
                                   "reject": m["fullshot"]["not_fullshot"]},
                      "not_fullshot": {"pass": m["not_fullshot"]["fullshot"],
                                       "reject": m["not_fullshot"]["not_fullshot"]}},
        "accuracy": rounded(accuracy(m)), "fullshot_pass_rate": rounded(full),
        "not_fullshot_reject_rate": rounded(notfull),
        "false_rejection_reasons": dict(false_rej.most_common()),
        "false_rejections": rejected_files, "false_acceptances": accepted_files,
        "unlabelled_folders": info,
        "goal_met": bool(full is not None and notfull is not None
                         and full >= GOALS["gate_fullshot_pass"]
                         and notfull >= GOALS["gate_not_fullshot_reject"]),
    }



CUTS = {"above_shoes": "cut above the shoes", "shins": "cut through the shins"}


def _cut(photo_path: Path, y: float) -> bytes:
    from PIL import Image

    with Image.open(photo_path) as im:
        out = io.BytesIO()
        im.convert("RGB").crop((0, 0, im.width, int(y))).save(out, "JPEG", quality=92)
        return out.getvalue()


def eval_gate_ccp(engine, models_dir: Path, ccp_dir: Path, limit: Optional[int]) -> dict[str, Any]:
    """CCP validation full shots: passed whole, refused when cut above the shoes or at the shins."""
    ccp_dir = Path(ccp_dir)
    shots = read_shots(ccp_dir)
    shoe_top: dict[str, float] = {}
    for r in csv.DictReader(open(ccp_dir / "boxes.csv")):
        if r["category"] == "footwear":
            shoe_top[r["image"]] = min(float(r["y1"]), shoe_top.get(r["image"], 1e9))
    val, split = detector_val_photos(models_dir, ccp_dir)
    names = limited([n for n in val if shots.get(n, {}).get("auto_fullshot") == "1"], limit)
    counts: dict[str, Counter] = {k: Counter() for k in ("whole", *CUTS)}
    refused_whole = []
    for name in progress(names, "gate ccp"):
        path = ccp_dir / "photos" / name
        top, bottom = float(shots[name]["person_top"]), float(shots[name]["person_bottom"])
        cuts = {"whole": None, "shins": top + 0.80 * (bottom - top)}
        if name in shoe_top:
            cuts["above_shoes"] = shoe_top[name] - 0.02 * (bottom - top)
        for kind, y in cuts.items():
            data = path.read_bytes() if y is None else _cut(path, y)
            verdict, _ = engine.check_gate(engine.decode(data))
            counts[kind][verdict.reason] += 1
            if kind == "whole" and not verdict.full_shot:
                refused_whole.append(f"{name}: {verdict.reason}")
    def rate(c: Counter, ok: bool) -> Optional[float]:
        n = sum(c.values())
        return rounded((c["ok"] if ok else n - c["ok"]) / n) if n else None
    return {"split": split, "n_photos": len(names),
            "fullshot_pass_rate": rate(counts["whole"], True),
            "passed": counts["whole"]["ok"], "false_rejections": refused_whole,
            "cut": {k: {"n": sum(counts[k].values()), "reject_rate": rate(counts[k], False),
                        "reasons": dict(counts[k].most_common())} for k in CUTS}}
