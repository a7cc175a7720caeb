"""EdgeCloudSim commands added to the main CLI (``mecoffload.cli`` calls ``register(app)``):

- ``mecoffload import-ecs DIR [--out scenario.toml]``: read an EdgeCloudSim scenario folder,
  print a warning per setting that is not simulated, write the mecoffload scenario (TOML);
- ``mecoffload run-ecs DIR|scenario.toml``: run its sweep (device counts x simulation scenarios
  x orchestrator policies), print EdgeCloudSim's figures, write results (JSON, CSV) and plots;
  ``--policies lacs,setnet:...`` adds mecoffload policies to the comparison.

A malformed file is one line ``error: FILE:LINE: field 'NAME': ...`` and exit code 2.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Optional

import typer

TABLE = [
    ("tasks", "tasks", "{:.0f}"), ("failed_pct", "failed %", "{:.2f}"), ("fail_vm_capacity_pct", "VM %", "{:.2f}"),
    ("fail_bandwidth_pct", "BW %", "{:.2f}"), ("fail_mobility_pct", "mob %", "{:.2f}"),
    ("service_time_s", "service s", "{:.3f}"), ("edge_service_time_s", "edge", "{:.3f}"),
    ("cloud_service_time_s", "cloud", "{:.3f}"), ("processing_time_s", "proc s", "{:.3f}"),
    ("edge_processing_time_s", "edge", "{:.3f}"), ("cloud_processing_time_s", "cloud", "{:.3f}"),
    ("network_delay_s", "net s", "{:.4f}"), ("lan_delay_s", "WLAN", "{:.4f}"), ("wan_delay_s", "WAN", "{:.4f}"),
    ("edge_vm_util_pct", "edge util %", "{:.2f}"), ("cloud_vm_util_pct", "cloud util %", "{:.2f}"),
]


def _fmt(fmt: str, v) -> str:
    try:
        return "-" if v != v else fmt.format(v)
    except (TypeError, ValueError):
        return str(v)


def load_any(source: str):
    """(scenario, warnings) from an EdgeCloudSim folder or a scenario TOML written by import-ecs."""
    from .model import load_ecs_scenario
    from .parser import import_folder

    p = Path(source)
    if p.is_dir():
        return import_folder(p)
    if p.suffix == ".toml":
        return load_ecs_scenario(p), []
    from ..scenario import ScenarioError

    raise ScenarioError(f"{source}: expected an EdgeCloudSim folder (with default_config.properties) or a .toml scenario "
                        f"written by `mecoffload import-ecs`")


def register(app: typer.Typer) -> None:
    from rich.console import Console
    from rich.table import Table

    from .orchestrators import register_tier_policies

    register_tier_policies()
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
    out = Console(width=None if sys.stdout.isatty() else 200)

    def warn_all(warnings: list[str]) -> None:
        for w in warnings:
            err.print(f"warning: {w}", highlight=False, markup=False)

    @app.command("import-ecs")
    def import_ecs_cmd(
        folder: Path = typer.Argument(..., help="EdgeCloudSim scenario folder (default_config.properties, applications.xml, edge_devices.xml)"),
        out_path: Optional[Path] = typer.Option(None, "--out", "-o", help="scenario file to write (default: <folder name>.toml here)"),
        name: Optional[str] = typer.Option(None, "--name", help="scenario name (default: the folder's)"),
    ) -> int:
        """Import an EdgeCloudSim scenario folder as a mecoffload scenario (TOML)."""
        from .model import dump_toml
        from .parser import import_folder

        sc, warnings = import_folder(folder, name)
        warn_all(warnings)
        target = out_path or Path(f"{sc.name}.toml")
        header = [f"mecoffload scenario imported from EdgeCloudSim folder {folder}",
                  "run it with: mecoffload run-ecs " + str(target)]
        header += [f"import warning: {w}" for w in warnings]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dump_toml(sc, header))
        counts = sc.devices.counts()
        err.print(f"wrote {target}: {len(sc.edge)} edge datacenters, {sc.cloud.n_vms} cloud VMs, {len(sc.apps)} apps, "
                  f"{len(counts)} device counts ({counts[0]}..{counts[-1]}), orchestrators: "
                  f"{', '.join(sc.orchestrators()) or 'none'}; {len(warnings)} warning(s)", highlight=False)
        return 0

    @app.command("run-ecs")
    def run_ecs_cmd(
        source: str = typer.Argument(..., help="EdgeCloudSim folder or a scenario .toml written by import-ecs"),
        policies: str = typer.Option("", "--policies", "-p", help="mecoffload policies added to the comparison, e.g. lacs,least-utilized,setnet:PATH,ecs:TWO_TIER/BEST_FIT"),
        orchestrators: str = typer.Option("", "--orchestrators", help="EdgeCloudSim orchestrators to run instead of the scenario's (SCENARIO/POLICY,...; 'none' = only --policies)"),
        devices: str = typer.Option("", "--devices", "-d", help="device counts (default: the scenario's min..max by step)"),
        seeds: Optional[int] = typer.Option(None, "--seeds", min=1, max=1000, help="iterations per device count (seed, seed+1, ...; default 1)"),
        seed: int = typer.Option(0, "--seed", min=0, help="seed of workload, mobility and random choices"),
        slot: Optional[float] = typer.Option(None, "--slot", min=0.001, max=5.0, help="decision step, s (default: the scenario's sim.slot_s)"),
        jobs: int = typer.Option(0, "--jobs", "-j", min=0, max=64, help="processes for the EdgeCloudSim orchestrators; 0 = min(2, CPUs) (the results do not depend on it)"),
        out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/ecs-<scenario>-<time>)"),
        as_json: bool = typer.Option(False, "--json", help="print the results as JSON on stdout"),
        no_plots: bool = typer.Option(False, "--no-plots", help="skip the PNG plots"),
    ) -> int:
        """Run an EdgeCloudSim scenario's sweep and print EdgeCloudSim's figures (+ plots)."""
        from ..cli import UserError, _out_dir
        from .runner import run_ecs

        sc, warnings = load_any(source)
        warn_all(warnings)
        pol = [p.strip() for p in policies.split(",") if p.strip()]
        orch = None
        if orchestrators.strip():
            orch = [] if orchestrators.strip().lower() == "none" else [o.strip() for o in orchestrators.split(",") if o.strip()]
        try:
            counts = [int(x) for x in devices.split(",") if x.strip()] or None
        except ValueError:
            raise UserError(f"--devices: expected comma-separated integers (got '{devices}')") from None
        if counts and min(counts) < 1:
            raise UserError("--devices: counts must be >= 1")
        plotter = None
        if not no_plots:
            from .plots import BackgroundPlotter

            plotter = BackgroundPlotter()
        import os

        jobs = jobs or min(2, os.cpu_count() or 1)
        try:
            res = run_ecs(sc, pol, seeds=seeds, seed=seed, devices=counts, orchestrators=orch, jobs=jobs, slot_s=slot)
        except BaseException:
            if plotter:
                plotter.cancel()
            raise
        folder = _out_dir(out_dir, "ecs", sc.name)
        if plotter:
            plotter.plot(res, folder)
        data = res.to_json()
        (folder / "results.json").write_text(json.dumps(data, indent=1))
        from .model import dump_toml

        (folder / "scenario.toml").write_text(dump_toml(sc, [f"scenario of this run ({source})"]))
        keys = sorted({k for c in res.columns for n in res.devices for k in res.figures[c][n]})
        with (folder / "results.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["orchestrator", "devices"] + keys)
            for c in res.columns:
                for n in res.devices:
                    w.writerow([c, n] + [res.figures[c][n].get(k, "") for k in keys])
        table = Table(title=f"EdgeCloudSim scenario {sc.name}: {len(res.devices)} device counts x {len(res.columns)} "
                            f"orchestrators, {res.seeds} seed(s), {sc.sim.simulation_time_s / 60:g} min each "
                            f"({res.timing['total']:.1f} s)")
        table.add_column("orchestrator")
        table.add_column("devices", justify="right")
        for _, head, _ in TABLE:
            table.add_column(head, justify="right")
        for c in res.columns:
            for n in res.devices:
                f = res.figures[c][n]
                table.add_row(c, str(n), *[_fmt(fmt, f.get(k)) for k, _, fmt in TABLE])
        (err if as_json else out).print(table)
        if plotter:
            status = plotter.wait()
            if status != "ok":
                err.print(f"warning: {status}", highlight=False)
        if as_json:
            sys.stdout.write(json.dumps(data) + "\n")
        err.print(f"wrote {folder}", highlight=False)
        return 0
