"""`onnx`: a compressed policy exported to ONNX, run by onnxruntime (``-p onnx:FOLDER``).

A folder written by ``mecoffload compress ... --export onnx`` holds ``model.onnx`` next to the
compressed checkpoint (``config.json`` + ``model.safetensors``). The graph maps the policy's own
numeric features to action scores: setnet and the LLM numeric encoder take (task (n, T), server
(n, E, S)) from ``setnet.set_features`` at the checkpoint's ``feature_set`` (absent = 1) (the encoder graph holds its fixed instruction prefix as
cached keys/values), DQN takes its flat observation (``sim.features.flat_features`` at the
checkpoint's ``input_index``). Actions are the argmax over allowed ones, as in the torch policies.
onnxruntime (the ``compress`` extra) is imported when the policy is built.

"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.checkpoint import read_config
from ..core.errors import CheckpointError, MissingExtraError, PolicyError, clip
from ..core.optional import require
from ..sim.dynamics import Obs
from ..sim.features import flat_features
from ..sim.params import Params
from .base import allowed_mask, register
from .setnet import set_features

ONNX_FILE = "model.onnx"
ENCODER_KINDS = ("llm-sft", "llm-grpo", "comllm")

def ort_session(path: Path, threads: int | None = None):
    """An onnxruntime CPU session on ``path``: ``threads`` intra-op threads ($MECOFFLOAD_THREADS,
    else 1), all graph optimisations, sequential execution, and no spin-waiting threads.

    Why these: at batch 1,024 two spinning intra-op threads made setnet 2-3x slower per decision
    than one on this project's shared 2-core machine (25 vs 13 µs under a load average of 6.5;
    ``benchmarks/bench_compress.py``): a spinning thread holds a core that the other one, or the
    service's event loop, needs. Without spinning two threads cost the same as one there; on
    a machine of its own ``MECOFFLOAD_THREADS=2`` may help large batches."""
    try:
        ort = require("onnxruntime", "compress")
    except MissingExtraError as exc:
        raise PolicyError(str(exc)) from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or int(os.environ.get("MECOFFLOAD_THREADS", "0")) or 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable graphs
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{clip(path)}: not a readable ONNX model ({clip(first, 160)})") from None


@register("onnx", "a compressed policy exported to ONNX, run by onnxruntime: onnx:FOLDER (`mecoffload compress --export onnx`)")
class OnnxPolicy:
    name = "onnx"

    def __init__(self, p: Params, arg: str | None = None):
        if not arg:
            raise PolicyError("onnx needs a folder: onnx:PATH (write one with `mecoffload compress SPEC --export onnx --out PATH`)")
        path = Path(arg) / ONNX_FILE
        if not path.is_file():
            raise PolicyError(f"no ONNX policy in '{clip(arg)}' (expected {ONNX_FILE}; write one with `mecoffload compress --export onnx`)")
        cfg = read_config(arg)
        self.kind, self.p = cfg.get("kind"), p
        self.feature_set = int(cfg.get("feature_set", (cfg.get("llm") or {}).get("feature_set", 1)))  # absent = 1
        if self.kind == "dqn":
            self._check_dqn(cfg, arg)
            self.index = np.asarray(cfg["input_index"], np.int64)
            self.max_servers = int(cfg["max_servers"])
        elif self.kind in ENCODER_KINDS and cfg.get("onnx", {}).get("allow_local") not in (None, p.allow_local):
            raise PolicyError(f"'{clip(arg)}' was exported for a scenario with policy.allow_local="
                              f"{cfg['onnx']['allow_local']} (its instruction prefix is in the graph); export it again")
        elif self.kind not in ("setnet", "dqn") + ENCODER_KINDS:
            raise PolicyError(f"'{clip(arg)}' holds a '{clip(self.kind, 40)}' model; onnx runs setnet, dqn and LLM encoder exports")
        self.session = ort_session(path)
        self.scores_are_logits = self.kind != "dqn"  # setnet logits, encoder log-probabilities; not Q-values

    def _check_dqn(self, cfg: dict, arg: str) -> None:
        for key, want, field in (("n_servers", self.p.n_servers, "edge.count"), ("history", self.p.history, "sim.history_slots")):
            if cfg.get(key) != want:
                raise CheckpointError(f"dqn model '{clip(arg)}' was trained with {field}={cfg.get(key)} but the scenario has {want}")

    def reset(self, batch: int) -> None:
        pass

    def scores(self, obs: Obs) -> np.ndarray:
        """(n, E+1) float32 action scores from onnxruntime, disallowed actions -inf."""
        if self.kind == "dqn":
            x = flat_features(obs, np.zeros(len(obs)), self.p, self.max_servers, self.feature_set)[:, self.index]
            out = self.session.run(None, {"x": np.ascontiguousarray(x, np.float32)})[0][:, : obs.n_servers + 1]
        else:
            task, server = set_features(obs, self.p, self.feature_set)
            out = self.session.run(None, {"task": task, "server": server})[0]
        out = np.array(out, np.float32)
        out[~allowed_mask(obs, self.p)] = -np.inf
        return out

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        if len(obs) == 0:
            return np.zeros(0, np.int64)
        return self.scores(obs).argmax(1).astype(np.int64)
