"""Three-tier commands (seed 002): ``tier-policies``, ``tier-eval`` (device counts x seeds, one
cell per policy through the batch runner) and ``tier-train`` (the dl-tier networks, saved as
safetensors + JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..core.errors import UserError
from ..core.jsonsafe import NO_DATA, dumps, has_data
from ..eval.runfolder import staged_output
from ..experiments import iot_devices
from ..policies.specs import parse_policy_specs
from ..tiers.config import check_device_counts, load_tier_scenario
from ..tiers.dlnet import save_dl_checkpoint, train_dl
from ..tiers.evaluate import sweep_devices
from ..tiers.policies import tier_policies
from .common import check_writable, emit_json, err, out, print_summary, print_table, split_ints
from .runs import (ADDRESS_OPT, BACKEND_OPT, FORCE_OPT, FORCE_OUT_OPT, JOBS_OPT, RESUME_OPT, cell_bar, make_runner,
                   run_output)

app = typer.Typer()

TIER_SET_OPT = typer.Option(None, "--set", help="override a tier scenario field, e.g. --set sim.horizon_s=60")
TIER_COLUMNS = ["devices", "policy", "service s", "network s", "processing s", "failure %", "vm/bw/dl/mob %", "MEC util %"]


@app.command("tier-policies")
def tier_policies_cmd() -> None:
    """List the three-tier (seed 002) policies; main-registry policies also run as mec:NAME."""
    for name, help_ in tier_policies().items():
        out.print(f"[bold]{name:18s}[/bold] {help_}")
    out.print("[bold]mec:NAME[/bold]           any policy of `mecoffload policies` on datacenters (e.g. oracle, lacs, mec:least-loaded)")


def _f(v, spec: str) -> str:
    """A table cell; a metric with no data (NaN) is an en dash."""
    return format(v, spec) if has_data(v) else NO_DATA


def _row(n: int, policy: str, m: dict) -> list[str]:
    fails = "/".join(_f(m[k], ".1f") for k in ("fail_vm_capacity_pct", "fail_bandwidth_pct", "fail_deadline_pct", "fail_mobility_pct"))
    return [str(n), policy, _f(m["service_time_s"], ".3f"), _f(m["network_delay_s"], ".3f"), _f(m["processing_time_s"], ".3f"),
            _f(m["failure_pct"], ".1f"), fails, _f(m["edge_vm_util_pct"], ".1f")]


@app.command("tier-eval")
def tier_eval_cmd(
    scenario: str = typer.Option("iot3tier", "--scenario", "-s", help="tier preset (iot3tier) or a .toml file"),
    policies: Optional[list[str]] = typer.Option(None, "--policies", "-p", help="tier policy specs, repeatable, in the grammar of evaluate -p (e.g. -p random,sonmez -p 'mec:lacs:k=3,lambda=0.3'); 'all' (default) = the iot-devices set"),
    devices: Optional[str] = typer.Option(None, "--devices", "-d", help="comma-separated device counts, 1..100,000 (default: the scenario's)"),
    seeds: int = typer.Option(3, "--seeds", min=1, max=1000, help="seeds per device count (seed, seed+1, ...)"),
    seed: int = typer.Option(0, "--seed", min=0),
    overrides: Optional[list[str]] = TIER_SET_OPT,
    as_json: bool = typer.Option(False, "--json", help='print {"devices": {n: {policy: metrics}}} on stdout'),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="run folder for results.json and the finished cells (default: none, nothing written)"),
    backend: str = BACKEND_OPT,
    jobs: Optional[int] = JOBS_OPT,
    address: Optional[str] = ADDRESS_OPT,
    resume: bool = RESUME_OPT,
    force: bool = FORCE_OPT,
) -> int:
    """Evaluate tier policies with common random numbers (one cell per policy: every device count x seed in one batch)."""
    sc = load_tier_scenario(scenario, overrides)
    specs = parse_policy_specs(policies or ["all"])
    names = list(dict.fromkeys(n for s in specs for n in (iot_devices.default_policies() if s == "all" else [s])))
    if devices is not None and not devices.strip():
        raise UserError("--devices: give at least one device count, e.g. -d 200,400 (or leave the flag out)")
    counts = check_device_counts(split_ints(devices or "", "--devices") or [sc.devices.count])
    runner = make_runner(backend, jobs, address)
    if out_dir is None:
        if resume or force:
            raise UserError("--resume and --force need --out (tier-eval writes nothing without it)")
        with cell_bar("tier-eval", err.is_terminal) as bar:
            res = sweep_devices(sc, names, counts, seeds, seed, runner=runner, cell_progress=bar)
    else:
        with run_output(out_dir, "tier-eval", scenario, resume, force) as run:
            with cell_bar("tier-eval", err.is_terminal) as bar:
                res = sweep_devices(sc, names, counts, seeds, seed, runner=runner, store=run.cells, cell_progress=bar)
            doc = {"scenario": sc.name, "seeds": seeds, "seed": seed, "devices": {str(n): v for n, v in res.items()}}
            (run.path / "results.json").write_text(dumps(doc, indent=1))
    if as_json:
        emit_json({"devices": {str(n): v for n, v in res.items()}})
    rows = [_row(n, p, m) for n, per in res.items() for p, m in per.items()]
    print_table(f"{sc.name}: {seeds} seed(s) from {seed}", TIER_COLUMNS, rows, as_json, left=0)
    return 0


@app.command("tier-train")
def tier_train_cmd(
    out_dir: Path = typer.Option(..., "--out", "-o", help="checkpoint folder (model.safetensors + config.json)"),
    scenario: str = typer.Option("iot3tier", "--scenario", "-s"),
    seed: int = typer.Option(0, "--seed", min=0),
    samples: int = typer.Option(10_000, "--samples", min=100, max=10_000_000, help="TierSelectionNN training samples"),
    epochs: int = typer.Option(10, "--epochs", min=1, max=10_000),
    overrides: Optional[list[str]] = typer.Option(None, "--set"),
    as_json: bool = typer.Option(False, "--json"),
    force: bool = FORCE_OUT_OPT,
) -> int:
    """Train dl-tier (TierSelectionNN on seed 002's rule labels + VMCompatibilityNN); use it as -p dl-tier:FOLDER."""
    sc = load_tier_scenario(scenario, overrides)
    check_writable(out_dir)
    with staged_output(out_dir, force) as stage:
        models = train_dl(sc, seed, samples=samples, epochs=epochs)
        save_dl_checkpoint(models, stage)
    print_summary(models.info, as_json)
    err.print(f"wrote checkpoint {out_dir}")
    return 0
