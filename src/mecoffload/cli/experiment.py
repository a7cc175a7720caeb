"""``mecoffload experiment NAME``: reproduce a paper's tables and plots (``mecoffload.experiments.EXPERIMENTS``)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Optional

import typer

from ..core.errors import UserError
from ..eval.runfolder import staged_output
from ..experiments import BUDGETS, EXPERIMENTS
from .common import check_writable, emit_json, entry, err, out
from ..experiments.all import takes_runner
from ..policies.specs import parse_policy_specs
from .runs import ADDRESS_OPT, BACKEND_OPT, FORCE_OUT_OPT, JOBS_OPT, default_run_path, make_runner

app = typer.Typer()


@app.command("experiment")
def experiment_cmd(
    name: Optional[str] = typer.Argument(None, help=f"experiment: {', '.join(EXPERIMENTS.names())} (omit it, or --list, to list them)"),
    list_: bool = typer.Option(False, "--list", help="list the experiments with a one-line description"),
    budget: str = typer.Option("small", "--budget", help="small (minutes on a laptop CPU) or paper"),
    seed: int = typer.Option(0, "--seed", min=0),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/experiment-<name>-<time>)"),
    as_json: bool = typer.Option(False, "--json", help="print the results as one JSON document on stdout"),
    force: bool = FORCE_OUT_OPT,
    backend: str = BACKEND_OPT,
    jobs: Optional[int] = JOBS_OPT,
    address: Optional[str] = ADDRESS_OPT,
    policies: Optional[list[str]] = typer.Option(None, "--policies", "-p", help="extra policy specs for the experiments that take them (loadbalance: e.g. -p setnet:checkpoints/setnet-comllm; iot-devices: tier policies instead of its set); repeatable"),
) -> int:
    """Reproduce a paper's tables and plots in one command (no NAME: list the experiments)."""
    if name is None or list_:
        for key, help_ in EXPERIMENTS.help().items():
            out.print(f"[bold]{key:15s}[/bold] {help_}")
        return 0
    run = entry(EXPERIMENTS, name)
    if budget not in BUDGETS:
        raise UserError(f"--budget must be one of {', '.join(BUDGETS)} (got '{budget}')")
    kwargs = {}
    if backend != "local" or jobs is not None or address is not None:  # cells on another backend
        if not takes_runner(run):
            raise UserError(f"experiment '{name}' does not run cells; --backend, --jobs and --address do not apply to it")
        kwargs["runner"] = make_runner(backend, jobs, address)
    if policies:
        if "policies" not in inspect.signature(run).parameters:
            raise UserError(f"experiment '{name}' takes no --policies")
        kwargs["policies"] = parse_policy_specs(policies)
    folder = check_writable(out_dir if out_dir is not None else default_run_path("experiment", name))
    with staged_output(folder, force, what="run") as stage:  # written as FOLDER.partial, renamed when complete
        result = run(budget, stage, seed, progress=err.is_terminal, **kwargs)
    if as_json:
        emit_json(result)
    err.print(f"wrote {folder}")
    return 0
