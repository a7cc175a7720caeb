"""`mecoffload experiment realized`: which policy serves users best, by what the queue simulation
realizes (drops, mean and p95 latency), next to the ranking the estimated cost gives.

Grid (``small`` budget, 20 episodes per point, common random numbers at every point): users U ∈
{4, 10, 20, 40} × arrival rate λ ∈ {0.2, ..., 0.6} on ``comllm``; E ∈ {6, 16, 32} edge servers at
the preset's U = 4, λ = 0.3; and the ``comllm-bursty`` preset when it is installed. Policies: the
heuristics that use no cost model once (random, local, nearest, round-robin); those that do
(least-loaded, min-max-delay, oracle, lacs) under both cost models (``name[paper]``,
``name[queue]``); the queue oracle whose estimate lets the tasks still uploading to a server compete
for it (``oracle[queue+uploads]``, ``oracle:uploads=compete``), that one sending the tasks no location
serves in time to their own CPU (``oracle[queue+doomed-local]``), and the queue oracle with admission
control (``oracle[queue+reject]``, which decides with the uploads competing); ga (a small
population, queue model); the shipped checkpoints setnet, dqn and their realized-reward versions
(``checkpoints/<kind>-comllm``, ``checkpoints/<kind>-realized-comllm``) where present.

Per point the *estimated* winner is the policy with the least seed 001 AL (``AL_paper_slots``, the
leaderboard's metric), the *realized* winner the one with the fewest realized drops, then the least
realized mean latency. Outputs: ``table.md/.csv`` (every point × policy), ``winners.md/.csv``,
``heatmaps.png`` (realized drop % per policy over U × λ), ``scatter.png`` (estimated vs realized
latency of completed tasks per cost model, oracle at the preset's point), ``results.json``,
``report.md``. Cells run on the runner (``--backend local|ray``, ``--jobs``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..core.jsonsafe import has_data
from ..eval.cells import run_evaluate
from ..core.errors import UserError
from ..eval.runner import Runner
from ..policies.base import make_policy
from ..sim.params import Params
from ..sim.scenario import load_scenario, preset_names
from .realized_figures import drop_heatmaps, estimate_scatter
from .tables import Stages, budget_of, finish, write_table

MODEL_FREE = ["random", "local", "nearest", "round-robin"]
MODEL_DEPENDENT = ["least-loaded", "min-max-delay", "oracle", "lacs"]
LEARNED = ["setnet", "dqn", "setnet-realized", "dqn-realized"]
"""checkpoints/<name>-comllm; the spec is <kind>:<folder> (kind = setnet or dqn)"""

BUDGETS = {
    "small": {"episodes": 20, "users": [4, 10, 20, 40], "rates": [0.2, 0.3, 0.4, 0.5, 0.6], "servers": [6, 16, 32],
              "bursty": "comllm-bursty", "ga": "ga:pop=8,gens=4", "checkpoints": "checkpoints", "set": []},
    "paper": {"episodes": 50, "users": [4, 10, 20, 40], "rates": [0.2, 0.3, 0.4, 0.5, 0.6], "servers": [6, 16, 32],
              "bursty": "comllm-bursty", "ga": "ga", "checkpoints": "checkpoints", "set": []},
}
"""``ga``: the GA spec (None: no GA row); ``bursty``: the preset of the bursty point (None: none);
``set``: scenario overrides applied at every point (tests shorten the horizon)"""

ORACLE_VARIANTS = [("oracle[queue+uploads]", "oracle:uploads=compete"),
                   ("oracle[queue+doomed-local]", "oracle:uploads=compete,doomed=local")]
"""queue-model oracles without admission control: the admission estimate (uploads compete) alone, and
with a doomed task sent to its own CPU (the imitation teacher of setnet-realized)"""

SCATTER_POINT = "U=4 λ=0.3"
"""the preset's own point: the scatter of estimated vs realized latency is drawn there"""

METRICS = ["realized_drop_pct", "realized_mean_s", "realized_p95_s", "drops_rejected", "AL_paper_slots", "AL_slots",
           "est_mae_pct", "tasks"]


def policy_groups(B: dict, extra: list[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """cost-model variant ("paper", "queue", "queue+reject") -> [(row label, policy spec)]."""
    ckpt = Path(B["checkpoints"])
    learned = [(name, f"{name.split('-')[0]}:{ckpt / f'{name}-comllm'}") for name in LEARNED
               if (ckpt / f"{name}-comllm" / "config.json").exists()]
    queue = [(n, n) for n in MODEL_FREE] + [(f"{n}[queue]", n) for n in MODEL_DEPENDENT] + ORACLE_VARIANTS + learned
    queue += [("ga[queue]", B["ga"])] if B.get("ga") else []
    queue += [(spec, spec) for spec in extra or []]
    return {"paper": [(f"{n}[paper]", n) for n in MODEL_DEPENDENT], "queue": queue,
            "queue+reject": [("oracle[queue+reject]", "oracle")]}


def variant_sets(variant: str) -> list[str]:
    """Scenario overrides of a cost-model variant."""
    return {"paper": ["cost.model=paper"], "queue": ["cost.model=queue"],
            "queue+reject": ["cost.model=queue", "cost.allow_reject=true"]}[variant]


def grid(B: dict) -> list[tuple[str, str, list[str]]]:
    """[(point label, preset, overrides)] in a fixed order."""
    pts = [(f"U={u} λ={r}", "comllm", [f"users.count={u}", f"task.rate={r}"]) for u in B["users"] for r in B["rates"]]
    pts += [(f"E={e}", "comllm", [f"edge.count={e}"]) for e in B["servers"]]
    if B.get("bursty") and B["bursty"] in preset_names():
        pts.append((B["bursty"], B["bursty"], []))
    return pts


def _point(preset: str, sets: list[str], groups: dict, episodes: int, seed: int, runner: Runner | None,
           skipped: dict) -> dict:
    """label -> PolicyRun of every policy that can run at one point (one run_evaluate per variant);
    a policy that cannot (e.g. dqn, whose input size fixes E) goes to ``skipped[label]`` with why."""
    rows = {}
    for variant, pols in groups.items():
        sc = load_scenario(preset, sets + variant_sets(variant))  # sets already hold the budget's own
        ok = []
        for label, spec in pols:
            try:
                make_policy(spec, Params.from_scenario(sc))
                ok.append((label, spec))
            except UserError as e:
                skipped.setdefault(label, str(e))
        specs = list(dict.fromkeys(spec for _, spec in ok))
        runs = run_evaluate(sc, specs, episodes, seed, runner) if specs else {}
        for label, spec in ok:
            rows[label] = runs[spec]
    return rows


def winners(metrics: dict[str, dict]) -> tuple[str, str]:
    """(estimated winner: least AL_paper_slots, realized winner: fewest drops, then least mean)."""
    est = min(metrics, key=lambda n: metrics[n]["AL_paper_slots"])
    def realized(n: str) -> tuple:
        mean = metrics[n]["realized_mean_s"]
        return metrics[n]["realized_drop_pct"], mean if has_data(mean) else np.inf
    real = min(metrics, key=realized)
    return est, real


def run(budget: str, out: Path, seed: int = 0, progress: bool = False, policies: list[str] | None = None,
        overrides: dict | None = None, runner: Runner | None = None) -> dict:
    """Run the grid into ``out``; ``policies``: extra specs (queue-model scenario); ``overrides``:
    budget keys (tests use tiny ones). Returns the JSON-able results (no NaN)."""
    B = budget_of(BUDGETS, budget, overrides)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = Stages("realized", progress)
    t_all = time.perf_counter()
    groups = policy_groups(B, policies)
    points = grid(B)
    results: dict[str, dict[str, dict]] = {}
    scatter: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    skipped: dict[str, dict[str, str]] = {}
    for i, (label, preset, sets) in enumerate(points):
        log(f"point {i + 1}/{len(points)}: {label}")
        runs = _point(preset, list(B.get("set") or []) + sets, groups, int(B["episodes"]), seed, runner, skipped.setdefault(label, {}))
        results[label] = {name: r.metrics for name, r in runs.items()}
        if label == SCATTER_POINT:
            for model in ("paper", "queue"):
                r = runs.get(f"oracle[{model}]")
                if r is not None and len(r.estimates):
                    scatter[model] = (r.estimates, r.latencies)
    doc = {"experiment": "realized", "budget": budget, "seed": seed, "episodes": B["episodes"], "points": [p[0] for p in points],
           "policies": {v: [n for n, _ in pols] for v, pols in groups.items()}, "results": results}
    doc["skipped"] = {pt: why for pt, why in skipped.items() if why}
    doc["winners"] = {pt: dict(zip(("estimated", "realized"), winners(m))) for pt, m in results.items()}
    tables = _write_outputs(out, doc, B, scatter)
    return finish(out, doc, t_all, lambda path, d: _report(path, d, tables), log)


def _write_outputs(out: Path, doc: dict, B: dict, scatter: dict) -> dict[str, str]:
    rows = [[pt, name] + [m[k] for k in METRICS] for pt, per in doc["results"].items() for name, m in per.items()]
    tables = {"table": write_table(out, "table", "Every point × policy (20 episodes unless the budget says otherwise)",
                                   ["point", "policy", *METRICS], rows, digits=4)}
    win_rows = [[pt, w["estimated"], w["realized"], "yes" if w["estimated"] != w["realized"] else "no"]
                for pt, w in doc["winners"].items()]
    tables["winners"] = write_table(out, "winners", "Estimated-metric winner (least AL, seed 001) vs realized winner "
                                    "(fewest drops, then least mean)", ["point", "estimated winner", "realized winner",
                                                                         "differ"], win_rows)
    users, rates = B["users"], B["rates"]
    heat = {}
    names = list(dict.fromkeys(n for per in doc["results"].values() for n in per))
    for name in names:
        grid_ = np.full((len(users), len(rates)), np.nan)
        for a, u in enumerate(users):
            for b, r in enumerate(rates):
                m = doc["results"].get(f"U={u} λ={r}", {}).get(name)
                grid_[a, b] = m["realized_drop_pct"] if m else np.nan
        heat[name] = grid_
    drop_heatmaps(heat, users, rates, out / "heatmaps.png")
    if scatter:
        estimate_scatter(scatter, out / "scatter.png")
    return tables


def _report(path: Path, doc: dict, tables: dict[str, str]) -> None:
    differ = sum(w["estimated"] != w["realized"] for w in doc["winners"].values())
    md = ["# Realized vs estimated: which policy serves users best", "",
          f"Budget `{doc['budget']}`, {doc['episodes']} episodes per point, seed {doc['seed']}, wall {doc['wall_s']} s. "
          "Every policy of a point sees the same layouts, arrivals, sizes and channel draws.", "",
          f"The estimated-metric winner differs from the realized winner at {differ} of {len(doc['winners'])} points.", "",
          tables["winners"], "", "![realized drops](heatmaps.png)", "", "![estimated vs realized](scatter.png)", "",
          tables["table"]]
    if doc["skipped"]:
        md += ["", "Not run at some points:", ""]
        md += [f"- {pt}: {name}: {why}" for pt, per in doc["skipped"].items() for name, why in per.items()]
    path.write_text("\n".join(md) + "\n")
