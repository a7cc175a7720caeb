"""`mecoffload experiment loadbalance`: seed 000 (Sohaib & Jeon, LLM-based online task offloading
for load balancing) Figs. 1 and 2 with our rows, on the ``loadbalance`` scenario preset.

- Fig. 1: distribution of the maximum server delay over time at L = 30, λ = 0.5 (the point the
  paper names). Per slot, the maximum over servers of the backlog delay L_e·γ/F_e (s) after the
  slot's decisions, as ``eval.evaluate`` records it (mean over the episodes of each slot); we give
  it over time, as a CDF and a box plot over the slots, and its mean = the average maximum
  server delay.
- Fig. 2: the average maximum server delay (s) vs the per-user per-slot arrival probability λ
  (at L = 30) and vs the task workload L (Gcycles per task, at λ = 0.5), through
  ``eval.evaluate.sweep`` with the aliases ``lambda`` and ``L``.

Policies: seed 000's baselines uniform (``random``), distance (``nearest``) and genetic (``ga``),
``min-max-delay`` (the paper's per-slot objective, greedy), the LLM zero-shot policy
(``llm-zeroshot:smollm2-135m``) where its backbone package is installed (otherwise listed under
``skipped``), and any learned policy specs passed in ``policies``. Every policy of one point sees
the same layouts, arrivals and channel draws (common random numbers).

Budgets: ``small`` (about a minute on 2 CPUs): 20 episodes, λ ∈ {0.1, 0.3, 0.5, 0.7, 0.9},
L ∈ {10, 20, 30, 40, 50}; the LLM row, when it runs, is scored at the Fig. 1 point only, on
2 episodes of 30 slots, next to the other policies on the same inputs (``llm_point.md``).
``paper``: 50 episodes, λ = 0.1..0.9 step 0.1, L = 10..50 step 5, the LLM a row everywhere
(hours on a CPU). Seed 000's text does not give the axis values of Fig. 2 (only L = 30,
λ = 0.5 for Fig. 1); the grids are centred on that point.

Outputs: ``fig1.md/.csv/.png``, ``fig2_lambda.md/.csv``, ``fig2_L.md/.csv``, ``fig2.csv`` (every
metric per point), ``fig2.png``, ``llm_point.md/.csv`` (small budget, LLM installed),
``results.json``, ``report.md``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..eval.cells import run_evaluate, run_sweep
from ..eval.evaluate import PolicyRun, evaluate, sweep
from ..eval.runner import Runner
from ..llm.model import GGUF_PACKAGES
from ..sim.scenario import load_scenario
from .figures import max_delay_distribution, sweep_panels
from .loadbalance_report import write_report
from .tables import Stages, budget_of, finish, missing_modules, write_table

BASELINES = {"random": "uniform", "nearest": "distance", "ga": "genetic", "min-max-delay": "min-max-delay"}
"""policy spec -> the name seed 000 gives it (min-max-delay: our greedy form of its objective)"""

LLM_SPEC = "llm-zeroshot:smollm2-135m"
METRIC = "avg_max_server_delay_s"
POINT = {"lambda": 0.5, "L": 30}
"""seed 000 §II: Fig. 1 is drawn "for L = 30 and λ = 0.5" (also the preset's values)"""

PARAM_LABELS = {"lambda": "task arrival probability λ (per user per slot)", "L": "task workload L (Gcycles per task)"}

BUDGETS = {
    "small": {"scenario": "loadbalance", "set": {}, "episodes": 20, "lambda": [0.1, 0.3, 0.5, 0.7, 0.9],
              "L": [10, 20, 30, 40, 50], "llm": LLM_SPEC, "llm_in_sweeps": False, "llm_episodes": 2,
              "llm_horizon_slots": 30},
    "paper": {"scenario": "loadbalance", "set": {}, "episodes": 50, "lambda": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
              "L": [10, 15, 20, 25, 30, 35, 40, 45, 50], "llm": LLM_SPEC, "llm_in_sweeps": True, "llm_episodes": 50,
              "llm_horizon_slots": 100},
}
"""``set``: scenario overrides (dotted paths); ``llm``: the LLM spec (None: no LLM row)"""

CSV_METRICS = [METRIC, "realized_mean_s", "realized_p95_s", "realized_drop_pct", "edge_util_mean_pct", "LBI_pct", "tasks"]


def llm_skip_reason(spec: str) -> str | None:
    """Why the LLM policy ``spec`` cannot run here, or None when it can (nothing is imported)."""
    backbone = spec.partition(":")[2]
    miss = missing_modules("torch", "transformers", "peft")
    if miss:
        return f"the 'llm' extra is not installed ({', '.join(miss)} missing)"
    if backbone in GGUF_PACKAGES:
        pkg, _, hint = GGUF_PACKAGES[backbone]
        miss = missing_modules(pkg, "gguf")
        return f"backbone '{backbone}' needs {', '.join(miss)}: {hint}" if miss else None
    if backbone == "tiny" or Path(backbone).is_dir():
        return None
    return f"unknown backbone '{backbone}'"


def label(spec: str) -> str:
    """The row name of a policy spec (seed 000's names for its baselines)."""
    if spec in BASELINES:
        return BASELINES[spec]
    if spec.startswith("llm-zeroshot:"):
        return f"LLM zero-shot ({spec.partition(':')[2]})"
    return spec


def _stats(r: PolicyRun) -> dict:
    """Fig. 1 row: the per-slot maximum server delay over the horizon (s) and a few realized metrics."""
    s = np.asarray(r.max_delay_series, float)
    q = np.percentile(s, [50, 90, 99]) if s.size else [np.nan] * 3
    m = r.metrics
    return {"avg_max_server_delay_s": m[METRIC], "std_s": float(s.std()), "p50_s": float(q[0]), "p90_s": float(q[1]),
            "p99_s": float(q[2]), "max_s": float(s.max()) if s.size else np.nan, "realized_mean_s": m["realized_mean_s"],
            "realized_drop_pct": m["realized_drop_pct"], "edge_util_mean_pct": m["edge_util_mean_pct"], "tasks": m["tasks"]}


def _point(sc, specs: list[str], episodes: int, seed: int, runner: Runner | None = None) -> tuple[dict, dict]:
    """Evaluate ``specs`` at one point: (label -> Fig. 1 stats, label -> (T,) series); with a
    ``runner``, one cell per policy on its backend (the same numbers)."""
    runs = evaluate(sc, specs, episodes, seed) if runner is None else run_evaluate(sc, specs, episodes, seed, runner)
    rows, series = {}, {}
    for spec, r in zip(specs, runs.values()):
        rows[label(spec)] = {"spec": spec, **_stats(r)}
        series[label(spec)] = r.max_delay_series
    return rows, series


def _sweep(sc, param: str, values: list, specs: list[str], episodes: int, seed: int, runner: Runner | None = None) -> dict:
    """Fig. 2 panel: {"values", "delay": label -> [s per value], "rows": long-format metric rows}."""
    res = (sweep(sc, param, values, specs, episodes, seed) if runner is None
           else run_sweep(sc, param, values, specs, episodes, seed, runner))
    delay: dict[str, list[float]] = {}
    rows = []
    for v in values:
        per = res[str(v)]
        for spec, (name, m) in zip(specs, per.items()):
            delay.setdefault(label(spec), []).append(m[METRIC])
            rows.append([param, v, label(spec), spec] + [m[k] for k in CSV_METRICS])
    return {"values": list(values), "delay": delay, "rows": rows}


def run(budget: str, out: Path, seed: int = 0, progress: bool = False, policies: list[str] | None = None,
        overrides: dict | None = None, runner: Runner | None = None) -> dict:
    """Run Figs. 1 and 2 of seed 000 into ``out``; ``policies``: extra (e.g. learned) policy specs;
    ``overrides``: budget keys (tests use tiny ones); ``runner``: the batch runner of the cells
    (default: this process). Returns the JSON-able results (no NaN)."""
    B = budget_of(BUDGETS, budget, overrides)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = Stages("loadbalance", progress)
    t_all = time.perf_counter()
    sc = load_scenario(B["scenario"], B.get("set") or None)
    base = list(BASELINES) + [p for p in (policies or []) if p not in BASELINES]
    reason = llm_skip_reason(B["llm"]) if B.get("llm") else None
    skipped = [{"policy": B["llm"], "reason": reason}] if reason else []
    llm = B["llm"] if B.get("llm") and not reason else None
    specs = base + ([llm] if llm and B["llm_in_sweeps"] else [])
    timings: dict[str, float] = {}
    log(f"Fig. 1: {len(specs)} policies x {B['episodes']} episodes")
    t = time.perf_counter()
    fig1, series = _point(sc, specs, B["episodes"], seed, runner)
    timings["fig1_s"] = round(time.perf_counter() - t, 2)
    llm_point = None
    if llm and not B["llm_in_sweeps"]:
        log(f"LLM point: {len(base) + 1} policies x {B['llm_episodes']} episodes x {B['llm_horizon_slots']} slots")
        t = time.perf_counter()
        sc_l = sc.with_overrides({"sim.horizon_slots": B["llm_horizon_slots"]})
        llm_point = _point(sc_l, base + [llm], B["llm_episodes"], seed)[0]
        timings["llm_point_s"] = round(time.perf_counter() - t, 2)
    fig2 = {}
    for param in ("lambda", "L"):
        log(f"Fig. 2: {param} = {B[param]}")
        t = time.perf_counter()
        fig2[param] = _sweep(sc, param, B[param], specs, B["episodes"], seed, runner)
        timings[f"fig2_{param}_s"] = round(time.perf_counter() - t, 2)
    doc = {"experiment": "loadbalance", "budget": budget, "seed": seed, "scenario": sc.name, "episodes": B["episodes"],
           "horizon_slots": sc.sim.horizon_slots, "slot_s": sc.sim.slot_s, "point": POINT, "policies": specs,
           "skipped": skipped, "fig1": fig1, "llm_point": llm_point,
           "llm_point_setup": {"episodes": B["llm_episodes"], "horizon_slots": B["llm_horizon_slots"]} if llm_point else None,
           "fig2": {p: {"values": f["values"], "delay": f["delay"]} for p, f in fig2.items()}, "timings_s": timings}
    tables = _write_outputs(out, doc, series, fig2, sc.sim.slot_s)
    return finish(out, doc, t_all, lambda path, d: write_report(path, d, tables), log)


def _write_outputs(out: Path, doc: dict, series: dict, fig2: dict, slot_s: float) -> dict[str, str]:
    """Tables (markdown + CSV) and PNGs; returns table name -> markdown."""
    cols = ["avg_max_server_delay_s", "std_s", "p50_s", "p90_s", "p99_s", "max_s", "realized_mean_s",
            "realized_drop_pct", "edge_util_mean_pct", "tasks"]
    head = ["policy", "spec", "avg max server delay (s)", "std over slots (s)", "p50 (s)", "p90 (s)", "p99 (s)",
            "max (s)", "realized mean latency (s)", "realized drop %", "edge util %", "tasks"]
    tables = {"fig1": write_table(out, "fig1", f"Fig. 1: maximum server delay over the {doc['horizon_slots']} slots "
                                  f"(L = 30, λ = 0.5, {doc['episodes']} episodes)", head,
                                  [[k, r["spec"]] + [r[c] for c in cols] for k, r in doc["fig1"].items()], 3)}
    if doc["llm_point"]:
        s = doc["llm_point_setup"]
        tables["llm_point"] = write_table(out, "llm_point", f"LLM zero-shot at L = 30, λ = 0.5 ({s['episodes']} episodes "
                                          f"x {s['horizon_slots']} slots, same inputs for every row)", head,
                                          [[k, r["spec"]] + [r[c] for c in cols] for k, r in doc["llm_point"].items()], 3)
    for p, f in fig2.items():
        tables[f"fig2_{p}"] = write_table(out, f"fig2_{p}", f"Fig. 2: average maximum server delay (s) vs {PARAM_LABELS[p]}",
                                          ["policy"] + [f"{p} = {v}" for v in f["values"]],
                                          [[k] + ys for k, ys in f["delay"].items()], 3)
    rows = [r for f in fig2.values() for r in f["rows"]]
    write_table(out, "fig2", "Fig. 2: every metric per point", ["param", "value", "policy", "spec"] + CSV_METRICS, rows)
    max_delay_distribution(series, slot_s, out / "fig1.png",
                           f"seed 000 Fig. 1: maximum server delay, L = 30, λ = 0.5 ({doc['episodes']} episodes, mean per slot)")
    sweep_panels([(PARAM_LABELS[p], [float(v) for v in f["values"]], f["delay"]) for p, f in fig2.items()],
                 "average maximum server delay (s)", out / "fig2.png", "seed 000 Fig. 2 (ours)")
    return tables
