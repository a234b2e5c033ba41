"""How the engine runs its models on the CPU: numpy's BLAS threads, the ONNX Runtime sessions of
the embedder, the detectors and the segmenter, and the detectors' OpenVINO sessions (bfloat16
where the CPU has it; docs/MEASUREMENTS.md, "After the eighth session's speed work" and "Detectors
under OpenVINO")."""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

log = logging.getLogger(__name__)


def limit_blas_threads(threads: int) -> None:
    """Cap numpy's BLAS threads for the whole process (0: leave them as they are)."""
    if threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")


def spare_threads(threads: Optional[int] = None) -> int:
    """`threads`, or one less than the cores, as ultralytics pins torch: a detector or the
    segmenter leaves the gate and the bot a core."""
    return int(threads or max(1, (os.cpu_count() or 2) - 1))


class InFlight:
    """Counts the calls inside `with` blocks on any thread; `busy` while more than one is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __enter__(self) -> "InFlight":
        with self._lock:
            self.count += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self.count -= 1

    @property
    def busy(self) -> bool:
        return self.count > 1


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


@dataclass(frozen=True)
class SessionInput:
    """What callers read of a session's input: its name and shape (`str` for a dynamic side)."""

    name: str
    shape: list


class OpenVinoSession:
    """An ONNX model compiled by OpenVINO for the CPU, called like an ONNX Runtime session
    (`get_inputs()`, `run(None, {name: array})`), one inference request per calling thread.

    OpenVINO picks its own precision: bfloat16 on CPUs with AVX512-BF16 or AMX (on this project's
    2-core EPYC the detectors then take 0.6x ONNX Runtime's time for the same boxes), float32
    elsewhere; `precision` ("f32", "bf16") fixes it."""

    def __init__(self, onnx_file: Path, threads: int, precision: Optional[str] = None,
                 outputs: Optional[Sequence[str]] = None, streams: Optional[int] = None) -> None:
        """`onnx_file`: any model OpenVINO reads (ONNX, TensorFlow Lite); `outputs`: compute only
        these outputs (the branches that lead to no other are left out); `threads` per inference,
        and up to `streams` inferences at once (default: one per core). With one stream the
        calls of concurrent looks queued: a detector served 42 calls/s to two callers, 87 with
        two streams, at the same CPU time a call."""
        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(onnx_file))
        if outputs is not None:
            wanted = set(outputs)
            results = [r for r in model.get_results()
                       if wanted & (r.input_value(0).get_names() | r.output(0).get_names())]
            model = ov.Model(results, model.get_parameters(), model.get_friendly_name())
        streams = max(1, int(streams or os.cpu_count() or 1))
        options = {"INFERENCE_NUM_THREADS": int(threads) * streams, "NUM_STREAMS": streams,
                   "PERFORMANCE_HINT": "LATENCY" if streams == 1 else "THROUGHPUT",
                   # pinned, every session's thread took the same core: the ensemble's two
                   # detectors then ran one after the other instead of side by side
                   "ENABLE_CPU_PINNING": False}
        if precision:
            options["INFERENCE_PRECISION_HINT"] = precision
        self.compiled = core.compile_model(model, "CPU", options)
        chosen = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        self.precision = chosen.to_string() if hasattr(chosen, "to_string") else str(chosen)
        self._inputs = [SessionInput(p.get_any_name(), [d.get_length() if d.is_static else str(d)
                                                        for d in p.get_partial_shape()])
                        for p in model.inputs]
        self._local = threading.local()
        log.info("OpenVINO runs %s in %s, %d inference(s) at once on %d thread(s) each",
                 Path(onnx_file).name, self.precision, streams, threads)

    def get_inputs(self) -> list[SessionInput]:
        return list(self._inputs)

    def run(self, output_names: Optional[Sequence[str]], feeds: dict[str, np.ndarray]
            ) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:  # a request is not thread-safe: each worker thread gets its own
            request = self._local.request = self.compiled.create_infer_request()
        result = request.infer(feeds)
        outputs = self.compiled.outputs
        if output_names is not None:
            outputs = [o for o in outputs if o.get_any_name() in output_names]
        return [np.array(result[o]) for o in outputs]  # a copy: the request reuses its buffers
