"""The speed goals of `lookbot bench`, as ratios measured in one run (issue 17):

- a whole look per photo costs at most 0.8x the seed's embedding step alone: ResNet-50 on 4 crops at
  224 px in PyTorch with 2 threads. ResNet-50's ImageNet weights are not on this machine, so a randomly
  initialised torchvision resnet50 is timed: the same graph, the same compute;
- at least 12 photos/s at 2 or more workers;
- at most 1.5 GB resident memory with all models loaded.

It also times the embedder on the same 4 real crops under PyTorch and ONNX Runtime, and checks that
their vectors agree.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Sequence

import numpy as np
import torch

log = logging.getLogger(__name__)

SEED_CROPS = 4
SEED_THREADS = 2
LOOK_RATIO_GOAL = 0.8
THROUGHPUT_GOAL = 12.0  # photos/s at >= 2 workers
MEMORY_GOAL_MB = 1536.0


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(float(np.median(times)) * 1000, 2)


def real_crops(engine, photos: Sequence[bytes], n: int = SEED_CROPS) -> list:
    """`n` article crops the engine itself cuts from the first photos that pass the gate."""
    from core.crops import articles_of, crop

    crops = []
    for data in photos:
        image = engine.decode(data)
        verdict = engine.gate.check(image.rgb)
        if not verdict.full_shot:
            continue
        crops += [crop(image, d.box) for g in articles_of(engine.detect_photo(image, verdict))
                  for d in g]
        if len(crops) >= n:
            break
    if not crops:
        raise ValueError("no photo passed the gate: no crops to time the embedder on")
    return (crops * n)[:n]


def seed_embedding_ms(crops: Sequence, threads: int = SEED_THREADS, repeats: int = 10) -> float:
    """The seed's embedding step: ResNet-50 (random init, same compute) on the crops at 224 px."""
    import torchvision

    from core.embed import to_batch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        net = torchvision.models.resnet50()  # no weights: none on this machine, same FLOPs
        net.fc = torch.nn.Identity()
        net.eval()

        @torch.inference_mode()
        def step():
            net(to_batch(crops, 224))
        return _median_ms(step, repeats)
    finally:
        torch.set_num_threads(before)


def embedder_runtimes(config, crops: Sequence, repeats: int = 10) -> dict[str, Any]:
    """The engine's embedder on the crops under PyTorch, ONNX Runtime fp32 and int8, and OpenVINO
    int8, and how well they agree."""
    from core.embed import Embedder

    out: dict[str, Any] = {"crops": len(crops)}
    vectors = {}
    for runtime in ("torch", "onnx", "onnx-int8", "openvino-int8"):
        emb = Embedder.from_config(config.__class__.from_env(embedder_runtime=runtime))
        vectors[runtime] = emb.embed(crops)
        out[f"{emb.runtime}_ms"] = _median_ms(lambda: emb.embed(crops), repeats)
        del emb
    if "onnx_ms" in out and "torch_ms" in out:
        out["min_cosine"] = round(float((vectors["torch"] * vectors["onnx"]).sum(axis=1).min()), 6)
        out["onnx_over_torch"] = round(out["onnx_ms"] / out["torch_ms"], 3)
    if "onnx-int8_ms" in out and "onnx_ms" in out:
        cosine = (vectors["onnx"] * vectors["onnx-int8"]).sum(axis=1)
        out["int8_mean_cosine"] = round(float(cosine.mean()), 4)
        out["int8_min_cosine"] = round(float(cosine.min()), 4)
        out["int8_over_onnx"] = round(out["onnx-int8_ms"] / out["onnx_ms"], 3)
    if "openvino-int8_ms" in out and "onnx-int8_ms" in out:
        cosine = (vectors["onnx"] * vectors["openvino-int8"]).sum(axis=1)
        out["openvino_int8_mean_cosine"] = round(float(cosine.mean()), 4)
        out["openvino_over_onnx_int8"] = round(out["openvino-int8_ms"] / out["onnx-int8_ms"], 3)
    return out


def speed_goals(report: dict[str, Any], seed_ms: float) -> dict[str, Any]:
    """The three goals, each as its measured figure, its goal and whether it is met."""
    goals: dict[str, Any] = {"seed_embedding_ms": seed_ms,
                             "load_average_1m": round(os.getloadavg()[0], 2),  # contention
                             "seed_note": "ResNet-50, random init (same compute as the seed's "
                                          f"ImageNet one), {SEED_CROPS} crops at 224 px, "
                                          f"{SEED_THREADS} torch threads"}
    look = report.get("pipeline", {}).get("look", {}).get("p50_ms")
    if look and seed_ms:
        ratio = round(look / seed_ms, 3)
        goals["look_over_seed_embedding"] = {"value": ratio, "goal": f"<= {LOOK_RATIO_GOAL}",
                                             "met": ratio <= LOOK_RATIO_GOAL}
    tp = report.get("throughput", {}).get("by_concurrency", {})
    multi = {int(c): v["photos_per_s"] for c, v in tp.items() if int(c) >= 2}
    if multi:
        best = max(multi, key=multi.get)
        goals["throughput"] = {"value": multi[best], "workers": best,
                               "goal": f">= {THROUGHPUT_GOAL} photos/s at >= 2 workers",
                               "met": multi[best] >= THROUGHPUT_GOAL,
                               "core_ms_per_photo": tp[str(best)].get("core_ms_per_photo")}
    mem = report.get("memory", {}).get("all_models_loaded", {}).get("rss_mb")
    if mem:
        goals["memory"] = {"value": mem, "goal": f"<= {MEMORY_GOAL_MB:.0f} MiB RSS",
                           "met": mem <= MEMORY_GOAL_MB}
    return goals


def format_speed(report: dict[str, Any]) -> list[str]:
    """The goals and the embedder runtimes as report lines."""
    g, r = report.get("goals"), report.get("embedder_runtimes")
    lines: list[str] = []
    if g:
        lines += ["", f"Goals (one run; seed embedding step {g['seed_embedding_ms']} ms: "
                      f"{g['seed_note']}; load average {g.get('load_average_1m')})"]
        for key, label in (("look_over_seed_embedding", "look p50 / seed embedding"),
                           ("throughput", "throughput, photos/s"), ("memory", "RSS, MiB")):
            if key in g:
                v = g[key]
                at = f" at {v['workers']} workers" if "workers" in v else ""
                if v.get("core_ms_per_photo"):
                    at += f" ({v['core_ms_per_photo']} core-ms a photo)"
                lines.append(f"  {label:<28}{v['value']:>9}{at}  goal {v['goal']}: "
                             f"{'met' if v['met'] else 'NOT met'}")
    if r:
        lines.append(f"  embedder on {r['crops']} real crops: torch {r.get('torch_ms')} ms, "
                     f"onnx {r.get('onnx_ms')} ms (x{r.get('onnx_over_torch')}), min cosine "
                     f"{r.get('min_cosine')}")
        if "int8_over_onnx" in r:
            lines.append(f"  onnx-int8 {r['onnx-int8_ms']} ms (x{r['int8_over_onnx']} of onnx), "
                         f"cosine to onnx mean {r['int8_mean_cosine']} min {r['int8_min_cosine']}")
        if "openvino_over_onnx_int8" in r:
            lines.append(f"  openvino-int8 {r['openvino-int8_ms']} ms (x{r['openvino_over_onnx_int8']} of "
                         f"onnx-int8), cosine to onnx mean {r['openvino_int8_mean_cosine']}")
    return lines
