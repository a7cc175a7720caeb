"""EdgeCloudSim commands:

- ``mecoffload import-ecs DIR [--out scenario.toml]``: read an EdgeCloudSim scenario folder,
  print a warning per setting that is not simulated, write the mecoffload scenario (TOML);
- ``mecoffload run-ecs DIR|scenario.toml``: run its sweep (device counts x simulation scenarios
  x orchestrator policies), print EdgeCloudSim's figures, write results (JSON, CSV) and plots;
  ``--policies lacs,setnet:...`` adds mecoffload policies to the comparison. The sweep runs as
  cells (one per orchestrator, one for all ``--policies``; :mod:`mecoffload.ecs.runner`) through
  the batch runner into a resumable run folder (:mod:`.runs`).

A malformed file is one line ``error: FILE:LINE: field 'NAME': ...`` and exit code 2.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Optional

import typer

from ..core.checkpoint import atomic_write_text
from ..core.errors import ScenarioError, clip
from ..core.jsonsafe import NO_DATA, csv_value, dumps, has_data
from ..ecs.model import EcsScenario, dump_toml, load_ecs_scenario
from ..ecs.orchestrators import register_tier_policies
from ..ecs.parser import import_folder
from ..ecs.plots import BackgroundPlotter
from ..ecs.runner import EcsPlan, EcsResult, plan_ecs
from ..eval.runner import Runner
from .common import emit_json, err, make_dir, print_table, split_ints, warn
from .runs import (ADDRESS_OPT, BACKEND_OPT, FORCE_OPT, FORCE_OUT_OPT, RESUME_OPT, RunOut, cell_bar, file_target,
                   make_runner, run_output)

app = typer.Typer()
register_tier_policies()  # the ecs:SCENARIO/POLICY orchestrators join the tier policy registry

TABLE = [
    ("tasks", "tasks", "{:.0f}"), ("failed_pct", "failed %", "{:.2f}"), ("fail_vm_capacity_pct", "VM %", "{:.2f}"),
    ("fail_bandwidth_pct", "BW %", "{:.2f}"), ("fail_mobility_pct", "mob %", "{:.2f}"),
    ("service_time_s", "service s", "{:.3f}"), ("edge_service_time_s", "edge", "{:.3f}"),
    ("cloud_service_time_s", "cloud", "{:.3f}"), ("processing_time_s", "proc s", "{:.3f}"),
    ("edge_processing_time_s", "edge", "{:.3f}"), ("cloud_processing_time_s", "cloud", "{:.3f}"),
    ("network_delay_s", "net s", "{:.4f}"), ("lan_delay_s", "WLAN", "{:.4f}"), ("wan_delay_s", "WAN", "{:.4f}"),
    ("edge_vm_util_pct", "edge util %", "{:.2f}"), ("cloud_vm_util_pct", "cloud util %", "{:.2f}"),
]
"""(figure key, column head, format) of the run-ecs table"""


def _fmt(fmt: str, v) -> str:
    try:
        return NO_DATA if not has_data(v) else fmt.format(v)
    except (TypeError, ValueError):
        return str(v)


def load_any(source: str) -> tuple[EcsScenario, list[str]]:
    """(scenario, warnings) from an EdgeCloudSim folder or a scenario TOML written by import-ecs."""
    p = Path(source)
    if p.is_dir():
        return import_folder(p)
    if p.suffix == ".toml":
        return load_ecs_scenario(p), []
    raise ScenarioError(f"{clip(source)}: expected an EdgeCloudSim folder (with default_config.properties) or a .toml "
                        f"scenario written by `mecoffload import-ecs`")


@app.command("import-ecs")
def import_ecs_cmd(
    folder: Path = typer.Argument(..., help="EdgeCloudSim scenario folder (default_config.properties, applications.xml, edge_devices.xml)"),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", help="scenario file to write (default: <folder name>.toml here)"),
    name: Optional[str] = typer.Option(None, "--name", help="scenario name (default: the folder's)"),
    force: bool = FORCE_OUT_OPT,
) -> int:
    """Import an EdgeCloudSim scenario folder as a mecoffload scenario (TOML)."""
    sc, warnings = import_folder(folder, name)
    warn(warnings)
    target = file_target(out_path or Path(f"{sc.name}.toml"), force)
    header = [f"mecoffload scenario imported from EdgeCloudSim folder {folder}", "run it with: mecoffload run-ecs " + str(target)]
    header += [f"import warning: {w}" for w in warnings]
    make_dir(target.parent)
    atomic_write_text(target, dump_toml(sc, header))
    counts = sc.devices.counts()
    err.print(f"wrote {target}: {len(sc.edge)} edge datacenters, {sc.cloud.n_vms} cloud VMs, {len(sc.apps)} apps, "
              f"{len(counts)} device counts ({counts[0]}..{counts[-1]}), orchestrators: "
              f"{', '.join(sc.orchestrators()) or 'none'}; {len(warnings)} warning(s)", highlight=False)
    return 0


def _orchestrators(text: str) -> Optional[list[str]]:
    """``--orchestrators``: None = the scenario's; 'none' = only --policies."""
    if not text.strip():
        return None
    return [] if text.strip().lower() == "none" else [o.strip() for o in text.split(",") if o.strip()]


def _write_results(res: EcsResult, sc: EcsScenario, source: str, folder: Path) -> dict:
    """results.json, scenario.toml and results.csv of a run; returns the JSON document."""
    data = res.to_json()
    (folder / "results.json").write_text(dumps(data, indent=1))
    (folder / "scenario.toml").write_text(dump_toml(sc, [f"scenario of this run ({source})"]))
    keys = sorted({k for c in res.columns for n in res.devices for k in res.figures[c][n]})
    with (folder / "results.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["orchestrator", "devices"] + keys)
        for c in res.columns:
            for n in res.devices:
                w.writerow([c, n] + [csv_value(res.figures[c][n].get(k, "")) for k in keys])
    return data


def _print_figures(res: EcsResult, sc: EcsScenario, to_stderr: bool) -> None:
    title = (f"EdgeCloudSim scenario {sc.name}: {len(res.devices)} device counts x {len(res.columns)} orchestrators, "
             f"{res.seeds} seed(s), {sc.sim.simulation_time_s / 60:g} min each ({res.timing['total']:.1f} s)")
    rows = [[c, str(n), *[_fmt(fmt, res.figures[c][n].get(k)) for k, _, fmt in TABLE]] for c in res.columns for n in res.devices]
    print_table(title, ["orchestrator", "devices", *[head for _, head, _ in TABLE]], rows, to_stderr)


@app.command("run-ecs")
def run_ecs_cmd(
    source: str = typer.Argument(..., help="EdgeCloudSim folder or a scenario .toml written by import-ecs"),
    policies: str = typer.Option("", "--policies", "-p", help="mecoffload policies added to the comparison, e.g. lacs,least-utilized,setnet:PATH,ecs:TWO_TIER/BEST_FIT"),
    orchestrators: str = typer.Option("", "--orchestrators", help="EdgeCloudSim orchestrators to run instead of the scenario's (SCENARIO/POLICY,...; 'none' = only --policies)"),
    devices: str = typer.Option("", "--devices", "-d", help="device counts (default: the scenario's min..max by step)"),
    seeds: Optional[int] = typer.Option(None, "--seeds", min=1, max=1000, help="iterations per device count (seed, seed+1, ...; default 1)"),
    seed: int = typer.Option(0, "--seed", min=0, help="seed of workload, mobility and random choices"),
    slot: Optional[float] = typer.Option(None, "--slot", min=0.001, max=5.0, help="decision step, s (default: the scenario's sim.slot_s)"),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, max=64, help="local: worker processes, 1 = here; 0 = min(2, CPUs); ray: CPUs of the private runtime (the results do not depend on it)"),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/ecs-<scenario>-<time>)"),
    as_json: bool = typer.Option(False, "--json", help="print the results as JSON on stdout"),
    no_plots: bool = typer.Option(False, "--no-plots", help="skip the PNG plots"),
    backend: str = BACKEND_OPT,
    address: Optional[str] = ADDRESS_OPT,
    resume: bool = RESUME_OPT,
    force: bool = FORCE_OPT,
) -> int:
    """Run an EdgeCloudSim scenario's sweep (one cell per orchestrator, one for --policies) and print EdgeCloudSim's figures (+ plots)."""
    sc, warnings = load_any(source)
    warn(warnings)
    pol = [p.strip() for p in policies.split(",") if p.strip()]
    counts = split_ints(devices, "--devices") or None
    plan = plan_ecs(sc, pol, seeds=seeds, seed=seed, devices=counts, orchestrators=_orchestrators(orchestrators), slot_s=slot)
    runner = make_runner(backend, jobs or (min(2, os.cpu_count() or 1) if backend == "local" else None), address)
    with run_output(out_dir, "ecs", sc.name, resume, force) as run:
        res = _run_plan(plan, sc, runner, run, no_plots, source, as_json)
    if as_json:
        emit_json(res)
    err.print(f"wrote {run.final}", highlight=False)
    return 0


def _run_plan(plan: EcsPlan, sc: EcsScenario, runner: Runner, run: RunOut, no_plots: bool, source: str,
              as_json: bool) -> dict:
    """Run the cells, then write results, table and plots into the run folder; the results JSON."""
    plotter = None if no_plots else BackgroundPlotter()
    t0 = time.perf_counter()
    try:
        with cell_bar("run-ecs", err.is_terminal) as bar:
            results = runner.run(plan.cells(), run.cells, bar)
    except BaseException:
        if plotter:
            plotter.cancel()
        raise
    res = plan.result(results, time.perf_counter() - t0)
    if plotter:
        plotter.plot(res, run.path)
    data = _write_results(res, sc, source, run.path)
    _print_figures(res, sc, as_json)
    if plotter:
        status = plotter.wait()
        if status != "ok":
            err.print(f"warning: {status}", highlight=False)
    return data
