"""How the engine shares the CPU between its models: numpy's BLAS threads, and the ONNX Runtime
sessions of the embedder, the detectors and the segmenter (docs/MEASUREMENTS.md, "After the eighth
session's speed work")."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def limit_blas_threads(threads: int) -> None:
    """Cap numpy's BLAS threads for the whole process (0: leave them as they are)."""
    if threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")


def cpu_session(onnx_file: Path, threads: int, optimize: bool = False) -> Any:
    """An ONNX Runtime CPU session on `threads` intra-op threads (`optimize`: every graph
    optimisation). Its waiting threads sleep instead of spinning: in a look the detectors, the
    pose and the embedder share the cores, and under load a spinning thread takes one from them
    (on 2 cores, alternating runs: best 7.7 and 8.3 photos/s against 7.6 and 6.5 spinning)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
