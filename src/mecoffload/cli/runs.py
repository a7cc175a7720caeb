"""What the batch commands share: runner options, run folders, cell progress bars, staged outputs.

``evaluate``, ``sweep``, ``tier-eval`` and ``run-ecs`` run their cells through one
:class:`~mecoffload.eval.runner.Runner` (``--backend local|ray``, ``--jobs``, ``--address``) into a
run folder that is written as ``OUT.partial/`` (finished cells in ``OUT.partial/cells/``) and
renamed to ``OUT`` when complete (``--resume`` continues one, ``--force`` replaces one); see
:mod:`mecoffload.eval.runfolder`. Ctrl-C keeps the ``.partial`` folder and says so::

    runner = make_runner(backend, jobs, address)        # bad options: one error line, before any work
    with run_output(out_dir, "sweep", scenario, resume, force) as run, cell_bar("sweeping", tty) as bar:
        result = run_sweep(..., runner, run.cells, bar)  # cells stored the moment they finish
        ...write tables and plots into run.path...
    # run.final now holds the complete run

Checkpoints and data sets (``train``, ``tier-train``, ``llm finetune``, ``llm data``) are written
through :func:`~mecoffload.eval.runfolder.staged_output` (``--force`` to replace), files
(``import-ecs --out``) through :func:`file_target`.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..core.errors import UserError, clip
from ..eval.runfolder import finish_run_folder, fresh_run_path, holds_files, open_run_folder, staged_output
from ..eval.runner import ProgressFn, Runner
from ..eval.store import CellStore
from .common import check_writable, err

BACKEND_OPT = typer.Option("local", "--backend", help="where cells run: local (this machine) or ray (pip install 'mecoffload[dist]')")
JOBS_OPT = typer.Option(None, "--jobs", "-j", min=1, max=1024,
                        help="local: worker processes (default: the cells run here, one after another); "
                             "ray: CPUs of the private runtime (default: all); the numbers do not depend on it")
ADDRESS_OPT = typer.Option(None, "--address", help="ray only: a running cluster, HOST:PORT or auto (default: a private runtime here)")
RESUME_OPT = typer.Option(False, "--resume", help="continue the run in --out: compute only the cells not yet stored there")
FORCE_OPT = typer.Option(False, "--force", help="replace what --out holds (said in one line)")
FORCE_OUT_OPT = typer.Option(False, "--force", help="replace an existing --out (said in one line)")


def _say(msg: str) -> None:
    err.print(msg, highlight=False, markup=False)


def make_runner(backend: str, jobs: Optional[int], address: Optional[str]) -> Runner:
    """The runner of ``--backend``, ``--jobs``, ``--address`` (a bad combination is one UserError)."""
    return Runner(backend=backend.strip().lower(), jobs=jobs, address=address)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``cli.main`` prints ``aborted: <message>`` and exits 130."""


@dataclass(frozen=True)
class RunOut:
    """An open run folder: write into ``path`` (``NAME.partial``); ``final`` once complete."""

    path: Path
    final: Path

    @property
    def cells(self) -> CellStore:
        return CellStore(self.path / "cells")


def default_run_path(kind: str, scenario: str) -> Path:
    """``runs/<kind>-<scenario>-<time>`` (``-2``, ``-3``, ... when taken, also as ``.partial``)."""
    return fresh_run_path("runs", f"{kind}-{Path(scenario).stem}-{time.strftime('%Y%m%d-%H%M%S')}")


@contextlib.contextmanager
def run_output(out_dir: Optional[Path], kind: str, scenario: str, resume: bool = False,
               force: bool = False) -> Iterator[RunOut]:
    """Open ``--out`` (default: a fresh ``runs/...`` folder) as ``NAME.partial``; rename it to
    ``NAME`` when the block succeeds. Ctrl-C keeps it (:class:`Interrupted`); another error
    removes it when it holds no file yet (bad input found late writes nothing)."""
    if resume and out_dir is None:
        raise UserError("--resume needs --out (the run folder to continue)")
    final = check_writable(out_dir if out_dir is not None else default_run_path(kind, scenario))
    part = open_run_folder(final, resume, force, say=_say)
    try:
        yield RunOut(part, final)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted by the user (kept in {part}; rerun with --resume to finish)") from None
    except BaseException:
        if part.is_dir() and not holds_files(part):
            for sub in sorted(part.rglob("*"), reverse=True):  # empty folders only
                sub.rmdir()
            part.rmdir()
        raise
    finish_run_folder(part)


@contextlib.contextmanager
def cell_bar(label: str, enabled: bool) -> Iterator[Optional[ProgressFn]]:
    """A transient rich progress bar on stderr counting cells; yields ``progress(done, total)``
    for the runner (None when disabled, e.g. stderr is not a terminal)."""
    if not enabled:
        yield None
        return
    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("cells"), TimeRemainingColumn()]
    with Progress(*cols, console=err, transient=True) as prog:
        task = prog.add_task(label, total=None)
        yield lambda done, total: prog.update(task, completed=done, total=total)


def file_target(path: Path, force: bool, flag: str = "--out") -> Path:
    """A file to write: checked like any output; an existing one is an error unless ``force``."""
    check_writable(path, flag, folder=False)
    if path.exists():
        if not force:
            raise UserError(f"{flag}: '{clip(path)}' already exists; use --force to replace it")
        _say(f"replacing {path} (--force)")
    return path


def moved_paths(doc: Any, stage: Path, final: Path) -> Any:
    """``doc`` with every string path below ``stage`` pointing below ``final`` instead."""
    if isinstance(doc, dict):
        return {k: moved_paths(v, stage, final) for k, v in doc.items()}
    if isinstance(doc, list):
        return [moved_paths(v, stage, final) for v in doc]
    if isinstance(doc, str) and (doc == str(stage) or doc.startswith(str(stage) + os.sep)):
        return str(final) + doc[len(str(stage)):]
    return doc


def train_into(out_dir: Path, force: bool, train: Callable[..., dict], sc: Any, steps: Optional[int], seed: int,
               **kwargs: Any) -> dict:
    """``train(sc, folder, steps, seed, **kwargs)`` into a staged checkpoint folder that replaces
    ``out_dir`` only when training succeeds (an existing checkpoint needs ``force``)."""
    with staged_output(out_dir, force, say=_say) as stage:
        summary = train(sc, stage, steps, seed, **kwargs)
    return moved_paths(summary, stage, out_dir)
