"""``mecoffload evaluate`` and ``mecoffload sweep``: policies on one scenario, or over values of one field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..core.errors import UserError, clip
from ..core.jsonsafe import has_data
from ..eval import plots as P
from ..eval.cells import run_evaluate, run_sweep, sweep_point
from ..eval.report import TABLE_COLUMNS, fmt, rankings, write_evaluation, write_sweep
from ..policies.base import check_evaluation_memory, expand_specs, make_policy
from ..policies.specs import parse_policy_specs
from ..sim.params import Params
from ..sim.scenario import load_scenario
from .common import SCENARIO_OPT, SET_OPT, emit_json, err, print_table
from .runs import ADDRESS_OPT, BACKEND_OPT, FORCE_OPT, JOBS_OPT, RESUME_OPT, cell_bar, make_runner, run_output

app = typer.Typer()

SWEEP_COLUMNS = TABLE_COLUMNS[:4] + TABLE_COLUMNS[5:8] + TABLE_COLUMNS[9:10]
"""the metrics a sweep table shows (one row per value x policy)"""


@app.command("evaluate")
def evaluate_cmd(
    scenario: str = SCENARIO_OPT,
    policies: Optional[list[str]] = typer.Option(None, "--policies", "-p", help="policy specs, repeatable: -p random,oracle -p 'lacs:k=3,lambda=0.3' -p 'ga:pop=8,gens=2' (or ';' between specs); 'all' (default) = every baseline + learned policies with a checkpoint in checkpoints/<kind>-<scenario>/"),
    episodes: int = typer.Option(20, "--episodes", "-n", min=1, max=100_000, help="episodes (run in parallel as a batch)"),
    seed: int = typer.Option(0, "--seed", min=0, help="seed of layouts, arrivals, sizes and channels (shared by all policies)"),
    overrides: Optional[list[str]] = SET_OPT,
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/evaluate-<scenario>-<time>)"),
    as_json: bool = typer.Option(False, "--json", help='print {"policies": {name: {metric: value}}} on stdout'),
    no_plots: bool = typer.Option(False, "--no-plots", help="skip the PNG plots"),
    backend: str = BACKEND_OPT,
    jobs: Optional[int] = JOBS_OPT,
    address: Optional[str] = ADDRESS_OPT,
    resume: bool = RESUME_OPT,
    force: bool = FORCE_OPT,
) -> int:
    """Evaluate policies on one scenario with common random numbers (one cell per policy); write CSV, report and plots."""
    sc = load_scenario(scenario, overrides)
    names = expand_specs(parse_policy_specs(policies or ["all"]), sc.name)
    p = Params.from_scenario(sc)
    built = [make_policy(n, p) for n in names]  # validate before any work
    check_evaluation_memory(sc, episodes, built)
    runner = make_runner(backend, jobs, address)
    with run_output(out_dir, "evaluate", scenario, resume, force) as run:
        with cell_bar("evaluating", err.is_terminal) as bar:
            runs = run_evaluate(sc, names, episodes, seed, runner, run.cells, bar)
        plots = []
        if not no_plots:
            plots = [P.plot_bars(runs, run.path), P.plot_latency_cdf(runs, run.path), P.plot_offload(runs, run.path),
                     P.plot_max_delay(runs, run.path, sc.sim.slot_s)]
        report = write_evaluation(runs, sc, episodes, seed, run.path, plots)
    folder = run.final
    metrics = {n: r.metrics for n, r in runs.items()}
    empty = [n for n, m in metrics.items() if not has_data(m.get("realized_mean_s"))]
    if empty:
        err.print(f"warning: no task completed under {', '.join(empty)}: realized latency metrics have no data "
                  "(null in JSON, empty in CSV, – in tables)", highlight=False)
    if as_json:
        emit_json({"policies": metrics})
    rows = [[name, *[fmt(k, m[k]) for k, _, _ in TABLE_COLUMNS]] for name, m in metrics.items()]
    print_table(f"{sc.name}: {episodes} episodes, seed {seed}, cost model '{sc.cost.model}'",
                ["policy", *[h for _, h, _ in TABLE_COLUMNS]], rows, as_json)
    if not as_json and len(metrics) > 1:
        by_al, by_real = rankings(metrics)
        rank_rows = [[str(i), a, r] for i, (a, r) in enumerate(zip(by_al, by_real), 1)]
        print_table("the estimate's ranking vs what users got", ["rank", "by AL (estimated)", "by realized drop %, then mean"],
                    rank_rows, False, left=3)
    err.print(f"wrote {folder}/metrics.csv, {report.name}" + (f" and {len(plots)} plots" if plots else ""))
    return 0


def parse_values(values: str) -> list:
    """``--values``: a JSON list, or comma-separated items (each JSON when it parses, else a string)."""
    text = values.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"--values: not valid JSON ({exc.msg})") from None
        if not isinstance(parsed, list) or not parsed:
            raise UserError("--values: give a non-empty list")
        return parsed
    out_vals = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out_vals.append(json.loads(item))
        except json.JSONDecodeError:
            out_vals.append(item)
    if not out_vals:
        raise UserError("--values: give at least one value, e.g. --values 3,5,7")
    return out_vals


@app.command("sweep")
def sweep_cmd(
    param: str = typer.Option(..., "--param", help="scenario field to sweep (e.g. edge.count, task.size_mbit) or alias L, lambda, E"),
    values: str = typer.Option(..., "--values", help="comma-separated values, e.g. 3,5,7,9,11"),
    scenario: str = SCENARIO_OPT,
    policies: Optional[list[str]] = typer.Option(None, "--policies", "-p", help="policy specs, repeatable (see evaluate --help); default random,oracle,lacs"),
    episodes: int = typer.Option(20, "--episodes", "-n", min=1, max=100_000),
    seed: int = typer.Option(0, "--seed", min=0),
    overrides: Optional[list[str]] = SET_OPT,
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/sweep-<scenario>-<time>)"),
    as_json: bool = typer.Option(False, "--json", help='print {"param": p, "values": {v: {policy: metrics}}} on stdout'),
    backend: str = BACKEND_OPT,
    jobs: Optional[int] = JOBS_OPT,
    address: Optional[str] = ADDRESS_OPT,
    resume: bool = RESUME_OPT,
    force: bool = FORCE_OPT,
) -> int:
    """Evaluate policies over values of one scenario field, one cell per value x policy (Tables III/IV of seed 001, Fig. 2 of seed 000)."""
    sc = load_scenario(scenario, overrides)
    vals = parse_values(values)
    names = expand_specs(parse_policy_specs(policies or ["random,oracle,lacs"]), sc.name)
    seen: dict[str, object] = {}
    for v in vals:  # validate every value before running anything
        point = sweep_point(sc, param, v)
        key = point.model_dump_json()
        if key in seen:
            raise UserError(f"--values: {clip(json.dumps(v))} gives the same scenario as {clip(json.dumps(seen[key]))}; give each point once")
        seen[key] = v
        p = Params.from_scenario(point)
    built = [make_policy(n, p) for n in names]
    check_evaluation_memory(sc, episodes * len(vals), built, "this sweep")
    runner = make_runner(backend, jobs, address)
    with run_output(out_dir, "sweep", scenario, resume, force) as run:
        with cell_bar(f"sweeping {param}", err.is_terminal) as bar:
            result = run_sweep(sc, param, vals, names, episodes, seed, runner, run.cells, bar)
        plot = P.plot_sweep(result, param, run.path)
        md = write_sweep(result, param, sc, run.path, plot)
    folder = run.final
    if as_json:
        emit_json({"param": param, "values": result})
    rows = [[v, pol, *[fmt(k, m[k]) for k, _, _ in SWEEP_COLUMNS]] for v, per in result.items() for pol, m in per.items()]
    print_table(f"{sc.name}: sweep of {param}", [param, "policy", *[h for _, h, _ in SWEEP_COLUMNS]], rows, as_json, left=2)
    err.print(f"wrote {folder}/sweep.csv, {md.name}, {plot.name}")
    return 0
