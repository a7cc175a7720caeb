"""What every command shares: consoles, output paths, option parsing, tables, JSON (run folders,
runner options and progress bars: :mod:`.runs`).

Output conventions: results go to stdout (a rich table; with ``--json`` one JSON document on
the last line of stdout and the table on stderr); progress, warnings and ``wrote ...`` lines go
to stderr. Bad input raises :class:`mecoffload.core.errors.UserError`, which ``cli.main`` turns
into one ``error:`` line and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

import typer
from rich.console import Console
from rich.table import Table

from ..core.errors import UserError, clip
from ..core.jsonsafe import dumps
from ..core.registry import Registry

err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
"""stderr: tables in --json mode, progress, warnings, 'wrote ...' lines"""
out = Console(width=None if sys.stdout.isatty() else 200)
"""stdout: tables and listings"""

SCENARIO_OPT = typer.Option("comllm", "--scenario", "-s", help="preset name (see `mecoffload scenarios`) or path to a .toml file")
SET_OPT = typer.Option(None, "--set", help="override a scenario field, e.g. --set edge.count=11 --set task.size_mbit=[6,6]")


def entry(registry: Registry, name: str, hint: str = "") -> Callable:
    """``registry.get(name)``: an unknown name, or a module that cannot be imported here (a missing
    optional dependency), is one UserError line; ``hint`` is the install command, if any."""
    try:
        return registry.get(name)
    except ImportError as exc:
        raise UserError(f"{registry.kind} '{name}' is not available here ({exc.name} missing)"
                        + (f": {hint}" if hint else "")) from None


def split_specs(csv: str, flag: str = "--policies") -> list[str]:
    """Comma-separated names (policy specs, orchestrators) -> list; empty items are dropped."""
    items = [s.strip() for s in csv.split(",") if s.strip()]
    if not items:
        raise UserError(f"{flag}: give at least one policy name")
    return items


def split_ints(text: str, flag: str, lo: int = 1) -> list[int]:
    """Comma-separated integers >= ``lo`` (e.g. ``--devices 200,400``); an empty text gives []."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{flag}: expected comma-separated integers (got '{clip(text)}')") from None
    if values and min(values) < lo:
        raise UserError(f"{flag}: counts must be >= {lo}")
    return values


def require_generic_tasks(sc, who: str) -> None:
    """One UserError line when scenario ``sc`` has DNN-split tasks, which ``who`` (a learner or command
    over generic tasks: action = a server or the device) cannot take."""
    if sc.dnn is not None:
        raise UserError(
            f"{who} takes generic tasks; scenario '{sc.name}' has DNN-split tasks (dnn.networks): "
            "train setnet-dnn on it, or evaluate the DNN policies (`mecoffload policies`)"
        )


def check_writable(path: Path, flag: str = "--out", folder: bool = True) -> Path:
    """Refuse, before any work, an output path that cannot be created: an existing file where a
    folder is wanted (or a folder where a file is), a file among its parents, an unwritable parent."""
    try:
        exists, is_dir = path.exists(), path.is_dir()
        parent = path if folder and exists else path.parent
        while not parent.exists():
            parent = parent.parent
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        raise UserError(f"{flag} '{clip(path)}': not a usable path ({clip(exc)})") from None
    if exists and is_dir != folder:
        raise UserError(f"{flag} '{clip(path)}': exists and is {'not ' if folder else ''}a folder")
    if not parent.is_dir():
        raise UserError(f"{flag} '{clip(path)}': '{clip(parent)}' is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag} '{clip(path)}': cannot write in '{clip(parent)}'")
    return path


def make_dir(folder: Path, flag: str = "--out") -> Path:
    """Create ``folder`` (and its parents); failure is one UserError line."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{flag} '{clip(folder)}': cannot create the folder ({exc.strerror or exc})") from None
    return folder


def emit_json(doc: object) -> None:
    """One JSON document on one line of stdout (what ``--json`` promises)."""
    sys.stdout.write(dumps(doc) + "\n")


def print_summary(summary: dict, as_json: bool) -> None:
    """A training summary: one JSON line with ``--json``, else pretty JSON."""
    if as_json:
        emit_json(summary)
    else:
        out.print_json(dumps(summary))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], to_stderr: bool, left: int = 1) -> None:
    """A rich table; the first ``left`` columns are left-aligned, the others right-aligned.
    ``to_stderr`` (the ``--json`` mode) keeps stdout for the JSON document."""
    table = Table(title=title)
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i < left else "right")
    for row in rows:
        table.add_row(*row)
    (err if to_stderr else out).print(table)


def warn(lines: Sequence[str]) -> None:
    """One ``warning: ...`` line on stderr per item (printed verbatim, no rich markup)."""
    for line in lines:
        err.print(f"warning: {line}", highlight=False, markup=False)
