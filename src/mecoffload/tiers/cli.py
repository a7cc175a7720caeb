"""Tier commands added to the main CLI (``mecoffload.cli`` calls ``register(app)``):

- ``mecoffload tier-policies``: list the tier policies;
- ``mecoffload tier-eval``: evaluate tier policies on a tier scenario (device counts x seeds);
- ``mecoffload tier-train``: train the dl-tier networks and save them (safetensors + JSON).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    from rich.console import Console
    from rich.table import Table

    err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
    out = Console(width=None if sys.stdout.isatty() else 200)

    @app.command("tier-policies")
    def tier_policies_cmd() -> None:
        """List the three-tier (seed 002) policies; main-registry policies also run as mec:NAME."""
        from .policies import tier_policies

        for name, help_ in tier_policies().items():
            out.print(f"[bold]{name:18s}[/bold] {help_}")
        out.print("[bold]mec:NAME[/bold]           any policy of `mecoffload policies` on datacenters (e.g. oracle, lacs, mec:least-loaded)")

    @app.command("tier-eval")
    def tier_eval_cmd(
        scenario: str = typer.Option("iot3tier", "--scenario", "-s", help="tier preset (iot3tier) or a .toml file"),
        policies: str = typer.Option("all", "--policies", "-p", help="comma-separated tier policies; 'all' = the iot-devices set"),
        devices: str = typer.Option("", "--devices", "-d", help="comma-separated device counts (default: the scenario's)"),
        seeds: int = typer.Option(3, "--seeds", min=1, max=1000, help="seeds per device count (seed, seed+1, ...)"),
        seed: int = typer.Option(0, "--seed", min=0),
        overrides: Optional[list[str]] = typer.Option(None, "--set", help="override a tier scenario field, e.g. --set sim.horizon_s=60"),
        as_json: bool = typer.Option(False, "--json", help='print {"devices": {n: {policy: metrics}}} on stdout'),
    ) -> int:
        """Evaluate tier policies with common random numbers (one batch per policy)."""
        from ..cli import UserError
        from ..experiments.iot_devices import default_policies
        from .config import load_tier_scenario
        from .evaluate import sweep_devices

        sc = load_tier_scenario(scenario, overrides)
        names = default_policies() if policies.strip() == "all" else [s.strip() for s in policies.split(",") if s.strip()]
        if not names:
            raise UserError("--policies: give at least one policy name")
        try:
            counts = [int(x) for x in devices.split(",") if x.strip()] or [sc.devices.count]
        except ValueError:
            raise UserError(f"--devices: expected comma-separated integers (got '{devices}')") from None
        if min(counts) < 1:
            raise UserError("--devices: counts must be >= 1")
        res = sweep_devices(sc, names, counts, seeds, seed)
        if as_json:
            sys.stdout.write(json.dumps({"devices": {str(n): v for n, v in res.items()}}) + "\n")
        table = Table(title=f"{sc.name}: {seeds} seed(s) from {seed}")
        for col in ["devices", "policy", "service s", "network s", "processing s", "failure %", "vm/bw/dl/mob %", "MEC util %"]:
            table.add_column(col, justify="right")
        for n, per in res.items():
            for p, m in per.items():
                table.add_row(str(n), p, f"{m['service_time_s']:.3f}", f"{m['network_delay_s']:.3f}", f"{m['processing_time_s']:.3f}",
                              f"{m['failure_pct']:.1f}",
                              f"{m['fail_vm_capacity_pct']:.1f}/{m['fail_bandwidth_pct']:.1f}/{m['fail_deadline_pct']:.1f}/{m['fail_mobility_pct']:.1f}",
                              f"{m['edge_vm_util_pct']:.1f}")
        (err if as_json else out).print(table)
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
    ) -> int:
        """Train dl-tier (TierSelectionNN on seed 002's rule labels + VMCompatibilityNN); use it as -p dl-tier:FOLDER."""
        from ..cli import UserError
        from ..learn.checkpoint import CheckpointError
        from .config import load_tier_scenario
        from .dlnet import save_dl_checkpoint, train_dl

        sc = load_tier_scenario(scenario, overrides)
        try:
            models = train_dl(sc, seed, samples=samples, epochs=epochs)
            save_dl_checkpoint(models, out_dir)
        except CheckpointError as exc:
            raise UserError(str(exc)) from None
        if as_json:
            sys.stdout.write(json.dumps(models.info) + "\n")
        else:
            out.print_json(json.dumps(models.info))
        err.print(f"wrote checkpoint {out_dir}")
        return 0
