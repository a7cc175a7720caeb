"""``mecoffload policies`` and ``mecoffload scenarios``: what can be chosen by name."""

from __future__ import annotations

from typing import Optional

import typer

from ..policies.base import available
from ..sim.scenario import load_scenario, preset_names
from .common import out

app = typer.Typer()


@app.command("policies")
def policies_cmd() -> None:
    """List every registered policy."""
    for name, help_ in available().items():
        out.print(f"[bold]{name:15s}[/bold] {help_}")


@app.command("scenarios")
def scenarios_cmd(show: Optional[str] = typer.Option(None, "--show", help="print one scenario's full settings as JSON")) -> None:
    """List the built-in scenario presets (or show one with --show NAME)."""
    if show is not None:
        out.print_json(load_scenario(show).model_dump_json())
        return
    for name in preset_names():
        sc = load_scenario(name)
        out.print(f"[bold]{name:12s}[/bold] {sc.description}")
