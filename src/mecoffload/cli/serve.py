"""``mecoffload serve`` (a policy behind HTTP) and ``mecoffload serve-sim`` (the simulator driven through it)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..core.optional import require
from ..eval.report import TABLE_COLUMNS, fmt
from ..policies.specs import parse_policy_specs
from ..serve.remote import serve_sim
from ..serve.server import read_key, serve
from ..sim.scenario import load_scenario
from .common import SCENARIO_OPT, SET_OPT, emit_json, err, print_table, require_generic_tasks

app = typer.Typer()


def _extras() -> None:
    for module in ("fastapi", "uvicorn", "httpx", "prometheus_client"):
        require(module, "serve")


@app.command("serve")
def serve_cmd(
    policy: str = typer.Option(..., "--policy", "-p", help="one policy spec, e.g. oracle or setnet:checkpoints/setnet-comllm"),
    scenario: str = SCENARIO_OPT,
    overrides: Optional[list[str]] = SET_OPT,
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on; not loopback => --api-key-file is required"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port"),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="uvicorn worker processes (each its own metrics)"),
    api_key_file: Optional[Path] = typer.Option(None, "--api-key-file", help="file whose first line (>= 16 characters) is the API key"),
    seed: int = typer.Option(0, "--seed", min=0, help="seed of the policy's own random stream (random, lacs)"),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="one JSON line per request on stderr"),
) -> int:
    """Serve one policy over HTTP (FastAPI + uvicorn) until SIGTERM / Ctrl-C: /v1/decide, /metrics, dashboard at /."""
    _extras()
    sc = load_scenario(scenario, overrides)
    require_generic_tasks(sc, "the decision service (its snapshot schema)")
    specs = parse_policy_specs([policy], "--policy")
    if len(specs) != 1:
        raise typer.BadParameter(f"give one policy (got {len(specs)})", param_hint="--policy")
    read_key(api_key_file, host)  # refuse a bad key / a public host without one before anything starts
    serve(sc, specs[0], host, port, workers, api_key_file, seed, access_log, announce=lambda: err.print(
        f"serving {specs[0]} on {sc.name} at http://{host}:{port}/ (dashboard /, API docs /docs)", highlight=False))
    return 0


@app.command("serve-sim")
def serve_sim_cmd(
    url: str = typer.Option(..., "--url", help="base URL of a running `mecoffload serve`, e.g. http://127.0.0.1:8000"),
    scenario: str = SCENARIO_OPT,
    overrides: Optional[list[str]] = SET_OPT,
    episodes: int = typer.Option(20, "--episodes", "-n", min=1, max=100_000, help="episodes (in lock-step)"),
    seed: int = typer.Option(0, "--seed", min=0, help="seed of layouts, arrivals, sizes and channels"),
    api_key_file: Optional[Path] = typer.Option(None, "--api-key-file", help="the service's API key file"),
    as_json: bool = typer.Option(False, "--json", help='print {"policies": {name: {metric: value}}, "requests": N}'),
) -> int:
    """Evaluate the served policy: the simulator runs here and every decision round is one POST /v1/decide/batch."""
    _extras()
    sc = load_scenario(scenario, overrides)
    require_generic_tasks(sc, "`serve-sim`")
    key = read_key(api_key_file, "127.0.0.1") if api_key_file else None
    run, requests = serve_sim(sc, url, episodes, seed, key)
    if as_json:
        emit_json({"policies": {run.name: run.metrics}, "requests": requests})
    row = [run.name, *[fmt(k, run.metrics[k]) for k, _, _ in TABLE_COLUMNS]]
    print_table(f"{sc.name} through {url}: {episodes} episodes, seed {seed}, {requests} requests",
                ["policy", *[h for _, h, _ in TABLE_COLUMNS]], [row], as_json)
    return 0
