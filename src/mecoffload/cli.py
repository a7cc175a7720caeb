"""Command line: ``mecoffload policies|scenarios|evaluate|sweep``.

``main(argv) -> int`` runs in-process (used by the tests); errors in user input print one
line ``error: ...`` on stderr and return exit code 2.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .policies.base import PolicyError, available

try:  # recent typer vendors click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover - older typer depends on click
    from click.exceptions import ClickException, UsageError
from .learn.checkpoint import CheckpointError
from .scenario import ScenarioError, load_scenario, preset_names

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="mecoffload: learning-based task offloading for Mobile Edge Computing.",
)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
out = Console(width=None if sys.stdout.isatty() else 200)

SCENARIO_OPT = typer.Option("comllm", "--scenario", "-s", help="preset name (see `mecoffload scenarios`) or path to a .toml file")
SET_OPT = typer.Option(None, "--set", help="override a scenario field, e.g. --set edge.count=11 --set task.size_mbit=[6,6]")
POLICIES_DEFAULT = "all"


class UserError(Exception):
    """Bad user input that is not a scenario/policy error (one line, exit 2)."""


def _split(csv: str) -> list[str]:
    items = [s.strip() for s in csv.split(",") if s.strip()]
    if not items:
        raise UserError("--policies: give at least one policy name")
    return items


@contextlib.contextmanager
def _progress(total: int, label: str, enabled: bool) -> Iterator:
    if not enabled:
        yield None
        return
    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("slots"), TimeRemainingColumn()]
    with Progress(*cols, console=err, transient=True) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n: prog.advance(task, n)


def _out_dir(out_dir: Optional[Path], kind: str, scenario: str) -> Path:
    if out_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out_dir = Path("runs") / f"{kind}-{Path(scenario).stem}-{stamp}"
        n = 1
        while out_dir.exists():  # never overwrite an earlier run
            n += 1
            out_dir = Path("runs") / f"{kind}-{Path(scenario).stem}-{stamp}-{n}"
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _print_table(metrics: dict[str, dict], title: str) -> None:
    from .eval.report import TABLE_COLUMNS, fmt

    table = Table(title=title)
    table.add_column("policy")
    for _, head, _ in TABLE_COLUMNS:
        table.add_column(head, justify="right")
    for name, m in metrics.items():
        table.add_row(name, *[fmt(k, m[k]) for k, _, _ in TABLE_COLUMNS])
    (err if _JSON_MODE[0] else out).print(table)


_JSON_MODE = [False]


@app.command("policies")
def policies_cmd() -> None:
    """List every registered policy."""
    for name, help_ in available().items():
        out.print(f"[bold]{name:15s}[/bold] {help_}")


@app.command("scenarios")
def scenarios_cmd(show: Optional[str] = typer.Option(None, "--show", help="print one scenario's full settings as JSON")) -> None:
    """List the built-in scenario presets (or show one with --show NAME)."""
    if show:
        out.print_json(load_scenario(show).model_dump_json())
        return
    for name in preset_names():
        sc = load_scenario(name)
        out.print(f"[bold]{name:12s}[/bold] {sc.description}")


@app.command("evaluate")
def evaluate_cmd(
    scenario: str = SCENARIO_OPT,
    policies: str = typer.Option(POLICIES_DEFAULT, "--policies", "-p", help="comma-separated policy specs (name or name:arg); 'all' = every baseline + learned policies with a checkpoint in checkpoints/<kind>-<scenario>/"),
    episodes: int = typer.Option(20, "--episodes", "-n", min=1, max=100_000, help="episodes (run in parallel as a batch)"),
    seed: int = typer.Option(0, "--seed", min=0, help="seed of layouts, arrivals, sizes and channels (shared by all policies)"),
    overrides: Optional[list[str]] = SET_OPT,
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/evaluate-<scenario>-<time>)"),
    as_json: bool = typer.Option(False, "--json", help='print {"policies": {name: {metric: value}}} on stdout'),
    no_plots: bool = typer.Option(False, "--no-plots", help="skip the PNG plots"),
) -> int:
    """Evaluate policies on one scenario with common random numbers; write CSV, report and plots."""
    from .eval.evaluate import evaluate
    from .policies.base import make_policy
    from .sim.params import Params

    _JSON_MODE[0] = as_json
    from .policies.base import expand_specs

    sc = load_scenario(scenario, overrides)
    names = expand_specs(_split(policies), sc.name)
    p = Params.from_scenario(sc)
    for n in names:
        make_policy(n, p)  # validate before any work
    with _progress(len(names) * sc.sim.horizon_slots, "evaluating", err.is_terminal) as prog:
        runs = evaluate(sc, names, episodes, seed, prog)
    metrics = {n: r.metrics for n, r in runs.items()}
    folder = _out_dir(out_dir, "evaluate", scenario)
    plots = []
    if not no_plots:
        from .eval import plots as P

        plots = [P.plot_bars(runs, folder), P.plot_latency_cdf(runs, folder), P.plot_offload(runs, folder),
                 P.plot_max_delay(runs, folder, sc.sim.slot_s)]
    from .eval.report import write_evaluation

    report = write_evaluation(runs, sc, episodes, seed, folder, plots)
    if as_json:
        sys.stdout.write(json.dumps({"policies": metrics}) + "\n")
    _print_table(metrics, f"{sc.name}: {episodes} episodes, seed {seed}")
    err.print(f"wrote {folder}/metrics.csv, {report.name}" + (f" and {len(plots)} plots" if plots else ""))
    return 0


def _parse_values(values: str) -> list:
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
    policies: str = typer.Option("random,oracle,lacs", "--policies", "-p", help="comma-separated policy specs"),
    episodes: int = typer.Option(20, "--episodes", "-n", min=1, max=100_000),
    seed: int = typer.Option(0, "--seed", min=0),
    overrides: Optional[list[str]] = SET_OPT,
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/sweep-<scenario>-<time>)"),
    as_json: bool = typer.Option(False, "--json", help='print {"param": p, "values": {v: {policy: metrics}}} on stdout'),
) -> int:
    """Evaluate policies over values of one scenario field (Tables III/IV of seed 001, Fig. 2 of seed 000)."""
    from .eval.evaluate import SWEEP_ALIASES, sweep
    from .eval.plots import plot_sweep
    from .eval.report import write_sweep
    from .policies.base import make_policy
    from .sim.params import Params

    _JSON_MODE[0] = as_json
    sc = load_scenario(scenario, overrides)
    from .policies.base import expand_specs

    vals = _parse_values(values)
    names = expand_specs(_split(policies), sc.name)
    path = SWEEP_ALIASES.get(param, param)
    for v in vals:  # validate every value before running anything
        v2 = [v, v] if path == "task.size_mbit" and not isinstance(v, list) else v
        p = Params.from_scenario(sc.with_overrides({path: v2}))
    for n in names:
        make_policy(n, p)
    with _progress(len(vals) * len(names) * sc.sim.horizon_slots, f"sweeping {param}", err.is_terminal) as prog:
        result = sweep(sc, param, vals, names, episodes, seed, prog)
    folder = _out_dir(out_dir, "sweep", scenario)
    plot = plot_sweep(result, param, folder)
    md = write_sweep(result, param, sc, folder, plot)
    if as_json:
        sys.stdout.write(json.dumps({"param": param, "values": result}) + "\n")
    from .eval.report import TABLE_COLUMNS

    table = Table(title=f"{sc.name}: sweep of {param}")
    table.add_column(param)
    table.add_column("policy")
    for _, head, _ in TABLE_COLUMNS[:4] + TABLE_COLUMNS[5:8] + TABLE_COLUMNS[9:10]:
        table.add_column(head, justify="right")
    from .eval.report import fmt

    for v, per in result.items():
        for pol, m in per.items():
            table.add_row(v, pol, *[fmt(k, m[k]) for k, _, _ in TABLE_COLUMNS[:4] + TABLE_COLUMNS[5:8] + TABLE_COLUMNS[9:10]])
    (err if as_json else out).print(table)
    err.print(f"wrote {folder}/sweep.csv, {md.name}, {plot.name}")
    return 0


@app.command("train")
def train_cmd(
    kind: str = typer.Argument(..., help="what to train (see `mecoffload train --help`): dqn, setnet, ..."),
    scenario: str = SCENARIO_OPT,
    steps: Optional[int] = typer.Option(None, "--steps", min=1, max=100_000_000, help="training budget (learner-specific unit; default: the learner's)"),
    seed: int = typer.Option(0, "--seed", min=0),
    overrides: Optional[list[str]] = SET_OPT,
    out_dir: Path = typer.Option(..., "--out", "-o", help="checkpoint folder (model.safetensors + config.json + curve.png)"),
    backbone: Optional[str] = typer.Option(None, "--backbone", help="LLM learners only: smollm2-135m, gemma3-270m or a local model folder"),
    as_json: bool = typer.Option(False, "--json", help="print the training summary as JSON on stdout"),
) -> int:
    """Train a learned policy and write its checkpoint; evaluate it with -p KIND:FOLDER."""
    import importlib
    import inspect

    from .learn import TRAINERS
    from .learn.checkpoint import CheckpointError

    if kind not in TRAINERS:
        raise UserError(f"unknown learner '{kind}' (allowed: {', '.join(sorted(TRAINERS))})")
    sc = load_scenario(scenario, overrides)
    try:
        module = importlib.import_module(TRAINERS[kind])
    except ImportError as exc:
        raise UserError(f"learner '{kind}' needs an optional dependency ({exc.name}): pip install torch==2.13.0 && pip install -e '.[rl]'") from None
    kwargs = {}
    if backbone is not None:
        if "backbone" not in inspect.signature(module.train).parameters:
            raise UserError(f"--backbone applies to LLM learners only, not '{kind}'")
        kwargs["backbone"] = backbone
    try:
        summary = module.train(sc, out_dir, steps, seed, progress=err.is_terminal, **kwargs)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        out.print_json(json.dumps(summary))
    err.print(f"wrote checkpoint {out_dir}")
    return 0


@app.command("experiment")
def experiment_cmd(
    name: str = typer.Argument(..., help="experiment: iot-devices (seed 002), comllm (seed 001 Tables II-VI)"),
    budget: str = typer.Option("small", "--budget", help="small (minutes on a laptop CPU) or paper"),
    seed: int = typer.Option(0, "--seed", min=0),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default runs/experiment-<name>-<time>)"),
    as_json: bool = typer.Option(False, "--json", help="print the results as one JSON document on stdout"),
) -> int:
    """Reproduce a paper's tables and plots in one command."""
    import importlib

    from .experiments import EXPERIMENTS

    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment '{name}' (allowed: {', '.join(sorted(EXPERIMENTS))})")
    if budget not in ("small", "paper"):
        raise UserError(f"--budget must be 'small' or 'paper' (got '{budget}')")
    try:
        module = importlib.import_module(EXPERIMENTS[name])
    except ModuleNotFoundError as exc:
        raise UserError(f"experiment '{name}' is not available here ({exc.name} missing)") from None
    folder = _out_dir(out_dir, "experiment", name)
    result = module.run(budget, folder, seed, progress=err.is_terminal)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    err.print(f"wrote {folder}")
    return 0


def _register_subcommands() -> None:
    """Optional command groups living next to their subsystem (kept out of this file)."""
    import importlib

    for module, attr, name in [
        ("mecoffload.llm.cli", "llm_app", "llm"),
        ("mecoffload.tiers.cli", "register", None),
        ("mecoffload.ecs.cli", "register", None),
    ]:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("mecoffload"):
                continue  # subsystem not present
            raise
        obj = getattr(mod, attr)
        if name:
            app.add_typer(obj, name=name)
        else:
            obj(app)  # a function that adds commands to the app


_register_subcommands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI in-process; return the exit code."""
    try:
        rv = app(args=argv, prog_name="mecoffload", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except (ScenarioError, PolicyError, UserError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        msg = exc.format_message().strip().replace("\n", " ")
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
