"""The gate's evaluation: labelled people photos must pass (full shots) or be refused (the rest)."""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Optional

from .eval_data import gate_labels, limited, progress
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
            verdict = engine.gate.check(engine.decode(path.read_bytes()).rgb)
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

