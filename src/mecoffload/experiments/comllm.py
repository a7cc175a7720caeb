"""`mecoffload experiment comllm`: seed 001 Tables II-VI with our rows, on fixed simulator state sets.

Pipeline (one command): state sets (SFT / GRPO / test, seed 001 §V-A) -> for each LLM variant
(text prompt with label tokens; numeric encoder, seed 003) SFT, GRPO (−J) and COMLLM (GRPO + LACS),
both GRPO runs starting from the same SFT checkpoint -> evaluation of every row on the same test
states: Table II (E = 6), III (fixed task size 2-10 Mbit), IV (E = 3..11, trained on E = 6 only),
V (offloading distribution at E = 11), VI (text rows under the four prompt perturbations).
Rows also include Random, the one-step oracle and LACS; the zero-shot LLM (full depth, no training)
is scored in Tables II and VI only, to keep ``small`` within budget. Table II also gives each row's
decision time for one pending task (ms, median of 10). Metrics are the paper's AL (slots), TDR,
PR, LBI on the test states (``llm.datasets.static_metrics``).
Text rows keep the first 8 and the last 2 decoder layers (the top layers read out the label tokens;
``costlabel`` prompt, LoRA on attention + MLP; every SFT prompt augmented with a random perturbation and
random server letters) and encoder rows the first 4 (structural pruning).
Encoder rows are also trained on each backbone of ``extra_encoder_backbones`` (gemma3-270m: the 270M rows)
when its PyPI package is installed; otherwise it is listed under ``skipped_backbones`` in results.json.

Budgets: ``small`` fits ≤ 60 min on a 2-core CPU (short training, 200-state test sets for Table
II/VI and 100 for III/IV); ``paper`` uses the full set sizes and one pass
over the SFT and GRPO sets. Outputs: ``table{2..6}.md`` / ``.csv``, ``results.json``, ``pr_table2.png``,
checkpoints under ``ckpt/``.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from ..core.jsonsafe import dumps
from ..learn.checkpoint import CheckpointError
from ..llm import LLMError, require_llm
from ..llm import comllm as C
from ..llm import grpo as G
from ..llm import sft as S
from ..llm.datasets import collect_states, make_sets
from ..llm.model import GGUF_PACKAGES
from ..llm.policy import LLMPolicy
from ..sim.scenario import load_scenario
from ..sim.cost import oracle_actions
from ..sim.metrics import static_metrics
from ..sim.params import Params
from ..sim.rewards import lacs_cost_s

PAPER_TABLE2 = {  # seed 001 Table II: AL (slots), TDR %, PR %, LBI %
    "COMLLM (7B)": (3.0745, 0.00, 96.86, 73.87), "GRPO-7B": (3.1197, 0.00, 95.46, 71.20), "DQN": (3.3966, 4.35, 87.68, 65.64),
    "SFT-7B": (4.0989, 0.33, 72.65, 42.60), "GRPO-1.5B": (4.3096, 1.63, 69.10, 19.94), "Random": (4.5658, 0.65, 65.22, 63.42),
    "SFT-1.5B": (4.7441, 2.94, 62.77, 46.82),
}

BUDGETS = {
    "small": {"backbone": "smollm2-135m", "sizes": {"sft": 1000, "grpo": 2000, "test": 200}, "test_small": 100,
              "text": {"style": "costlabel", "augment": 1.0, "layers": 8, "keep_last": 2, "lora_mlp": True, "lora_r": 16, "lora_alpha": 32,
                       "batch": 8, "sft_steps": 900, "sft_schedule": "linear", "lr_sft": 5e-4,
                       "grpo_steps": 60, "lr_grpo": 5e-5},
              "encoder": {"layers": 4, "batch": 8, "sft_steps": 125, "grpo_steps": 150},
              "topologies": [3, 5, 7, 9, 11], "task_sizes": [2, 4, 6, 8, 10], "zeroshot": True,
              "extra_encoder_backbones": ["gemma3-270m"]},
    "paper": {"backbone": "smollm2-135m", "sizes": {"sft": 1000, "grpo": 2000, "test": 1000}, "test_small": 1000,
              "text": {"style": "costlabel", "augment": 1.0, "layers": 8, "keep_last": 2, "lora_mlp": True, "lora_r": 16, "lora_alpha": 32,
                       "batch": 8, "sft_epochs": 8, "sft_schedule": "linear", "lr_sft": 5e-4, "lr_grpo": 5e-5},
              "encoder": {"layers": 4, "batch": 8},
              "topologies": [3, 5, 7, 9, 11], "task_sizes": [2, 4, 6, 8, 10], "zeroshot": True,
              "extra_encoder_backbones": ["gemma3-270m"]},
}


CONFIG_KNOBS = ("style", "augment", "batch", "sft_steps", "grpo_steps", "layers", "keep_last", "lora_r", "lora_alpha", "lora_mlp",
                "lr_sft", "lr_grpo", "sft_schedule", "sft_epochs")
"""budget keys passed on to ``LLMConfig``"""


EXTRA_SIZES = {"gemma3-270m": "270M"}
"""row label of an extra backbone (encoder rows only; skipped when its package is not installed)"""


def _available(backbone: str) -> bool:
    return backbone in GGUF_PACKAGES and importlib.util.find_spec(GGUF_PACKAGES[backbone][0]) is not None


def _baseline_actions(name: str, obs, p, rng) -> np.ndarray:
    if name == "Random":
        return rng.integers(0 if p.allow_local else 1, p.n_servers + 1, len(obs))
    if name == "Oracle":
        return oracle_actions(obs, p)
    return np.argmin(lacs_cost_s(obs, p, rng), 1)


def _write_table(out: Path, name: str, title: str, header: list[str], rows: list[list]) -> None:
    with (out / f"{name}.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


def run(budget: str, out: Path, seed: int = 0, progress: bool = False, backbone: str | None = None,
        overrides: dict | None = None) -> dict:
    """Run the experiment; ``backbone``/``overrides`` let tests use the tiny model and tiny sizes."""
    try:
        require_llm()
    except LLMError as exc:
        raise CheckpointError(str(exc)) from None
    B = json.loads(json.dumps(BUDGETS[budget]))
    for k, v in (overrides or {}).items():
        B[k] = {**B[k], **v} if isinstance(B.get(k), dict) else v
    backbone = backbone or B["backbone"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    sc = load_scenario("comllm")
    sets = make_sets(sc, seed, B["sizes"])
    models, timings, skipped = _train_all(sc, sets, B, backbone, out, seed, progress)
    rows = _Rows(models, B, backbone, seed)
    results: dict = {"budget": budget, "backbone": backbone, "timings_s": timings, "skipped_backbones": skipped}
    results["table2"] = _table2(out, rows, Params.from_scenario(sc), sets["test"])
    results["decision_ms_1task"] = rows.latency_ms
    results["table3"] = _table3(out, rows, sc, B, seed)
    results["table4"] = _tables4_5(out, rows, sc, B, seed)
    results["table6"] = _table6(out, rows, Params.from_scenario(sc), sets["test"])
    _plot(results["table2"], out / "pr_table2.png")
    results["wall_s"] = round(time.perf_counter() - t_all, 1)
    (out / "results.json").write_text(dumps(results, indent=1))
    return results


def _train_all(sc, sets: dict, B: dict, backbone: str, out: Path, seed: int, progress: bool):
    """SFT, then GRPO (−J) and COMLLM (LACS) from the same SFT checkpoint, for every variant;
    returns ({row name: checkpoint folder}, timings in s, skipped extra backbones)."""
    timings: dict[str, float] = {}
    models: dict[str, str] = {}  # row name -> checkpoint folder
    variants = [("text", backbone, "135M", ""), ("encoder", backbone, "135M", "-enc")]
    skipped: list[str] = []  # extra backbones whose package is not installed
    for extra in B.get("extra_encoder_backbones", []):  # e.g. the 270M row, when its package is installed
        if _available(extra):
            variants.append(("encoder", extra, EXTRA_SIZES.get(extra, extra), f"-enc-{extra}"))
        else:
            skipped.append(extra)
    for mode, bb, size, tag in variants:
        knobs = B[mode]
        cfg = S.LLMConfig(mode=mode, **{k: v for k, v in knobs.items() if k in CONFIG_KNOBS})
        suffix = "" if mode == "text" else "-enc"
        t0 = time.perf_counter()
        sft_dir = out / "ckpt" / f"llm-sft{tag}"
        S.train(sc, sft_dir, knobs.get("sft_steps"), seed, progress, backbone=bb, config=cfg, data=sets)
        timings[f"sft{tag}_s"] = round(time.perf_counter() - t0, 1)
        models[f"SFT-{size}{suffix}"] = str(sft_dir)
        for kind, mod in (("llm-grpo", G), ("comllm", C)):
            t0 = time.perf_counter()
            d = out / "ckpt" / f"{kind}{tag}"
            mod.train(sc, d, knobs.get("grpo_steps"), seed, progress, config=cfg, init=str(sft_dir), data=sets)
            timings[f"{kind}{tag}_s"] = round(time.perf_counter() - t0, 1)
            models[("GRPO-" if kind == "llm-grpo" else "COMLLM-") + size + suffix] = str(d)
    timings["comllm_pipeline_text_s"] = timings["sft_s"] + timings["comllm_s"]
    timings["comllm_pipeline_encoder_s"] = timings["sft-enc_s"] + timings["comllm-enc_s"]
    return models, timings, skipped


class _Rows:
    """Scores every row (baselines, zero-shot, trained checkpoints) on a state set; one random stream
    for the baselines across all tables, and the decision times of the timed table."""

    def __init__(self, models: dict[str, str], B: dict, backbone: str, seed: int):
        self.models, self.B, self.backbone = models, B, backbone
        self.rng = np.random.default_rng(seed)
        self.latency_ms: dict[str, float] = {}

    def __call__(self, p_eval, obs, perturbation=None, text_only=False, zeroshot=False, timed=False) -> dict:
        res = {}
        if not text_only:
            for b in ("Random", "Oracle", "LACS"):
                res[b] = static_metrics(_baseline_actions(b, obs, p_eval, self.rng), obs, p_eval)
        loaders = {}  # row -> how to load its policy (one model in memory at a time)
        if zeroshot and self.B.get("zeroshot"):
            loaders["Zero-shot-135M"] = lambda: LLMPolicy.zero_shot(self.backbone, p_eval, self.B["text"].get("style", "minimal"),
                                                                    perturbation)
        for row, folder in self.models.items():
            if not (text_only and row.endswith("-enc")):
                loaders[row] = lambda folder=folder: LLMPolicy.from_checkpoint(folder, p_eval, perturbation=perturbation)
        for row, load in loaders.items():
            pol = load()
            res[row] = static_metrics(_act(pol, obs), obs, p_eval)
            if timed:
                self.latency_ms[row] = _latency_ms(pol, obs)
        return res


def _table2(out: Path, rows: _Rows, p, test) -> dict:
    t2 = rows(p, test, zeroshot=True, timed=True)
    hdr = ["model", "AL (slots)", "TDR %", "PR %", "LBI %", "oracle match %", "decision ms (1 task)"]
    lines = [[k, m["AL_slots"], m["TDR_pct"], m["PR_pct"], m["LBI_pct"], m["oracle_match_pct"], rows.latency_ms.get(k, "")]
             for k, m in t2.items()]
    lines += [[f"paper: {k}", *v, "", ""] for k, v in PAPER_TABLE2.items()]
    _write_table(out, "table2", "Table II: E = 6, test states (ours) and seed 001's published rows", hdr, lines)
    return t2


def _table3(out: Path, rows: _Rows, sc, B: dict, seed: int) -> dict:
    t3 = {}
    for size in B["task_sizes"]:
        p_s = Params.from_scenario(sc.with_overrides({"task.size_mbit": [size, size]}))
        t3[str(size)] = rows(p_s, collect_states(p_s, B["test_small"], seed * 10 + 5))
    names = list(next(iter(t3.values())))
    _write_table(out, "table3", "Table III: AL (slots) / TDR % vs task size (Mbit)", ["model"] + [f"{s} Mbit AL / TDR" for s in t3],
                 [[n] + [f"{t3[s][n]['AL_slots']:.3f} / {t3[s][n]['TDR_pct']:.2f}" for s in t3] for n in names])
    return t3


def _tables4_5(out: Path, rows: _Rows, sc, B: dict, seed: int) -> dict:
    """Table IV (every topology, trained on E = 6 only) and Table V (offloading at the largest E)."""
    t4 = {}
    for E in B["topologies"]:
        p_e = Params.from_scenario(sc.with_overrides({"edge.count": E}))
        t4[str(E)] = rows(p_e, collect_states(p_e, B["test_small"], seed * 10 + 6))
    names = list(next(iter(t4.values())))
    _write_table(out, "table4", "Table IV: AL (slots) / TDR % / PR % vs number of servers (trained on E = 6)",
                 ["model"] + [f"E={E}" for E in t4],
                 [[n] + [f"{t4[E][n]['AL_slots']:.3f} / {t4[E][n]['TDR_pct']:.2f} / {t4[E][n]['PR_pct']:.2f}" for E in t4] for n in names])
    E_last = str(B["topologies"][-1])
    _write_table(out, "table5", f"Table V: offloading distribution at E = {E_last} (0 = local) and LBI %",
                 ["model"] + [str(i) for i in range(int(E_last) + 1)] + ["LBI %"],
                 [[n] + t4[E_last][n]["offload"] + [t4[E_last][n]["LBI_pct"]] for n in names])
    return t4


def _table6(out: Path, rows: _Rows, p, test) -> dict:
    """Table VI: the text rows under the four prompt perturbations."""
    t6 = {pert: rows(p, test, pert, text_only=True, zeroshot=True) for pert in ("standard", "shuffle", "noisy", "units")}
    names = list(t6["standard"])
    _write_table(out, "table6", "Table VI: AL (slots) / TDR % / LBI % under prompt perturbations (text policies)",
                 ["model"] + list(t6), [[n] + [f"{t6[k][n]['AL_slots']:.4f} / {t6[k][n]['TDR_pct']:.2f} / {t6[k][n]['LBI_pct']:.2f}"
                                             for k in t6] for n in names])
    return t6


def _latency_ms(pol, obs, reps: int = 10) -> float:
    """Median wall time (ms) of one decision step with one pending task."""
    ts = []
    for r in range(reps + 1):
        t = time.perf_counter()
        pol.act(obs.take(np.array([r % len(obs)])), None)
        ts.append(time.perf_counter() - t)
    return round(1000 * float(np.median(ts[1:])), 1)


def _act(pol, obs, batch: int = 32) -> np.ndarray:
    return np.concatenate([pol.act(obs.take(np.arange(s, min(s + batch, len(obs)))), None)
                           for s in range(0, len(obs), batch)])


def _plot(t2: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(t2)
    fig, ax = plt.subplots(figsize=(1 + 0.9 * len(names), 3.5))
    ax.bar(range(len(names)), [t2[n]["PR_pct"] for n in names])
    ax.axhline(96.86, ls="--", c="k", lw=0.8, label="COMLLM-7B (paper)")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_ylabel("PR %")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
