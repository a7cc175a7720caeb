"""``compress(...)``: prune, recover, quantise, export, save and check one trained policy.

Steps, in order: open the source policy (``models.open_subject``); record its greedy decisions
on ``check_states`` simulator states (ε-oracle visits, ``llm.datasets.collect_states``); drop
decoder layers (``layers``, LLM only) and prune (``prune.magnitude`` / ``prune.structured``);
optionally recover; export ONNX from the pruned fp32 module (int8 by onnxruntime when asked);
quantise int8 (torch); save the checkpoint (safetensors + JSON, atomically) and read it back
through the ordinary policy spec; report the agreement of every stage's decisions with the
dense source and the ONNX graph's with the torch policy, the measured sparsity and file sizes.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..core.checkpoint import atomic_write_text, save_checkpoint
from ..core.errors import UserError, clip
from ..core.jsonsafe import dumps
from ..llm.datasets import collect_states
from ..llm.model import prune_layers
from ..policies.base import make_policy
from ..policies.compressed import int8_folder
from ..sim.params import Params
from .export import export_onnx
from .models import Subject, decisions, open_subject, unit_groups
from .prune import METHODS, SCOPES, magnitude, prunable, sparsity_of, structured
from .quant import int8_state, plain_state, quantize_int8
from .recover import recover, refresh

QUANTIZE = ("none", "int8")
EXPORTS = ("none", "onnx")
SUMMARY = "compress.json"


@dataclass(frozen=True)
class Options:
    """What ``mecoffload compress`` does to one checkpoint."""

    prune: str = "magnitude"
    """none | magnitude (unstructured |w|) | structured (channels; LLM: attention heads + MLP channels)"""
    sparsity: float = 0.4
    """share of prunable weights (magnitude) or of units per group (structured) set to zero, in [0, 1)"""
    scope: str = "layer"
    """magnitude pruning per weight matrix (layer) or over all of them (global)"""
    quantize: str = "none"
    """none | int8 (dynamic quantisation of every prunable Linear)"""
    export: str = "none"
    """none | onnx (model.onnx next to the checkpoint; run with -p onnx:OUT)"""
    recover: int = 0
    """fine-tuning steps on oracle labels after pruning (0 = one-time pruning, no retraining)"""
    layers: int | None = None
    """LLM only: keep the first N decoder layers (structural, as `--layers` of `mecoffload train`)"""
    keep_last: int = 0
    """LLM only, with layers: also keep the last N decoder layers"""
    check_states: int = 10_000
    """simulator states on which decisions are compared"""
    seed: int = 0
    """seed of the check states and of recovery"""

    def validate(self) -> None:
        rules = [
            (self.prune in ("none",) + METHODS, f"--prune must be one of none, {', '.join(METHODS)} (got {clip(self.prune, 30)})"),
            (isinstance(self.sparsity, (int, float)) and math.isfinite(self.sparsity) and 0 <= self.sparsity < 1,
             f"--sparsity must be in [0, 1) (got {clip(self.sparsity, 30)})"),
            (self.scope in SCOPES, f"--scope must be one of {', '.join(SCOPES)} (got {clip(self.scope, 30)})"),
            (self.quantize in QUANTIZE, f"--quantize must be one of {', '.join(QUANTIZE)} (got {clip(self.quantize, 30)})"),
            (self.export in EXPORTS, f"--export must be one of {', '.join(EXPORTS)} (got {clip(self.export, 30)})"),
            (0 <= self.recover <= 100_000, f"--recover must be 0..100000 steps (got {self.recover})"),
            (self.layers is None or 1 <= self.layers <= 1024, f"--layers must be 1..1024 (got {self.layers})"),
            (0 <= self.keep_last <= 1024, f"--keep-last must be 0..1024 (got {self.keep_last})"),
            (1 <= self.check_states <= 1_000_000, f"--check-states must be 1..1000000 (got {self.check_states})"),
        ]
        for ok, msg in rules:
            if not ok:
                raise UserError(msg)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share (%) of equal decisions."""
    return float(100 * np.mean(a == b)) if len(a) else 100.0


def check_out(out: Path) -> Path:
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out: '{clip(out)}' exists and is not an empty folder (choose a new folder)")
    return out


def compress(spec: str, p: Params, out: Path, opt: Options, progress=None) -> dict:
    """Compress the policy ``spec`` (``KIND:FOLDER``) for scenario parameters ``p`` into ``out``;
    return the summary (also written to ``out/compress.json``)."""
    opt.validate()
    out = check_out(out)
    t0 = time.perf_counter()
    s = open_subject(spec, p)
    if opt.layers is not None and s.family != "llm":
        raise UserError(f"--layers: only LLM checkpoints have decoder layers (this one is '{s.kind}')")
    states = collect_states(p, opt.check_states, 1_000 + opt.seed)
    dense = decisions(s, states, BATCH)
    step = _step(progress)
    step("pruning")
    masks = _prune(s, opt)
    losses = recover(s, masks, opt.recover, opt.seed)
    refresh(s)
    pruned = decisions(s, states, BATCH)
    sparsity = sparsity_of(s.module)
    out.mkdir(parents=True, exist_ok=True)
    onnx_cfg = None
    if opt.export == "onnx":
        step("exporting ONNX")
        onnx_cfg = export_onnx(s, states, out, opt.quantize == "int8")
    names = []
    if opt.quantize == "int8":
        step("quantising")
        names = list(prunable(s.module))
        quantize_int8(s.module, names)
        refresh(s)
    final = decisions(s, states, BATCH) if names else pruned
    step("saving")
    config = _config(s, opt, sparsity, names, onnx_cfg)
    save_checkpoint(out, int8_state(s.module) if names else plain_state(s.module), config)
    summary = _check(s, p, out, states, dense, pruned, final, onnx_cfg)
    summary.update({"source": s.folder, "kind": s.kind, "family": s.family, "options": asdict(opt),
                    "realized_sparsity": sparsity, "recover_loss": losses[-10:], "wall_s": time.perf_counter() - t0})
    atomic_write_text(out / SUMMARY, dumps(summary, indent=2))
    return summary


def _step(progress):
    return (lambda what: progress(what)) if progress is not None else (lambda what: None)


def _prune(s: Subject, opt: Options) -> dict:
    """Drop decoder layers (LLM) and prune; returns the masks of the pruned weights."""
    if opt.layers is not None:
        llm = s.config["llm"]
        if llm.get("layers"):
            raise UserError(f"--layers: '{clip(s.folder)}' was trained with layers={llm['layers']} already; "
                            "cut layers once (compress a checkpoint trained on the full stack)")
        prune_layers(s.policy.scorer.model, opt.layers, opt.keep_last)
        s.config = {**s.config, "llm": {**llm, "layers": opt.layers, "keep_last": opt.keep_last}}
    if opt.prune == "none" or opt.sparsity == 0:
        return {}
    if opt.prune == "magnitude":
        return magnitude(s.module, opt.sparsity, opt.scope)
    return structured(s.module, unit_groups(s), opt.sparsity)


def _config(s: Subject, opt: Options, sparsity: float, int8_names: list[str], onnx_cfg: dict | None) -> dict:
    comp = {"prune": opt.prune, "sparsity": opt.sparsity, "scope": opt.scope, "realized_sparsity": sparsity,
            "quantize": opt.quantize, "int8_modules": int8_names, "recover_steps": opt.recover,
            "layers": opt.layers, "keep_last": opt.keep_last, "source": s.folder}
    out = {**s.config, "compression": comp}
    if onnx_cfg is not None:
        out["onnx"] = onnx_cfg
    return out


def _check(s: Subject, p: Params, out: Path, states, dense, pruned, final, onnx_cfg) -> dict:
    """Decisions of the saved folder, read back through ``KIND:OUT`` (and ``onnx:OUT``), against the
    in-memory ones; agreement (%) of every stage with the dense source. int8 (dynamic quantisation)
    scales each layer's activations by the largest one of the forward pass, so a row's decision can
    change with the rows decided with it: every agreement is taken in the same ``BATCH``-row batches,
    and ``agree_*int8_batch_64_vs_4096_pct`` measures that dependence."""
    int8 = int8_folder(str(out))
    reloaded_pol = make_policy(f"{s.kind}:{out}", p)
    reloaded = act_batched(reloaded_pol, states, BATCH)  # in the batches of ``decisions`` (see above)
    res = {"states": len(states), "agree_pruned_vs_dense_pct": agreement(pruned, dense),
           "agree_final_vs_dense_pct": agreement(final, dense), "agree_reloaded_vs_final_pct": agreement(reloaded, final),
           "checkpoint_mb": (out / "model.safetensors").stat().st_size / 1e6}
    if int8:
        res["agree_int8_batch_64_vs_4096_pct"] = agreement(act_batched(reloaded_pol, states, 64), reloaded)
    if onnx_cfg is not None:
        onnx = make_policy(f"onnx:{out}", p)
        a_onnx = act_batched(onnx, states, BATCH)
        ref = final if onnx_cfg["int8"] else pruned
        res.update({"agree_onnx_vs_torch_pct": agreement(a_onnx, ref), "agree_onnx_vs_dense_pct": agreement(a_onnx, dense),
                    "onnx_mb": onnx_cfg["size_mb"]})
        if onnx_cfg["int8"]:
            res["agree_onnx_int8_batch_64_vs_4096_pct"] = agreement(act_batched(onnx, states, 64), a_onnx)
    return res


BATCH = 4096
"""rows per forward pass of every decision compared here (``models.decisions``)"""


def act_batched(policy, states, batch: int) -> np.ndarray:
    """Greedy actions of a built policy on ``states``, ``batch`` rows per call."""
    rng = np.random.default_rng(0)
    out = [policy.act(states.take(np.arange(i, min(i + batch, len(states)))), rng) for i in range(0, len(states), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.int64)
