"""Run folders that are never lost or silently replaced (issue 13 item 6).

A run writes into ``NAME.partial/`` and renames it to ``NAME`` once complete, so a folder without
``.partial`` is always a finished run, and a crash, Ctrl-C or ``kill -9`` leaves ``NAME.partial/``
for ``--resume`` to finish (its finished cells are in ``NAME.partial/cells/``).

API::

    open_run_folder(out, resume=False, force=False, say=print_err) -> Path   # the .partial folder to write
    finish_run_folder(partial) -> Path                                     # rename NAME.partial -> NAME
    run_folder(out, resume=False, force=False, say=print_err)              # context manager of both
    fresh_run_path(root, stem) -> Path                                     # root/stem(-N), neither taken
    partial_path(out) -> Path                                              # NAME -> NAME.partial
    holds_files(folder) -> bool                                            # any file below it
    staged_output(out, force=False, what="checkpoint", say=print_err)      # context manager, see below

Rules of :func:`open_run_folder` for ``out`` = NAME:

- nothing there (or empty folders) → a new empty ``NAME.partial/``;
- ``NAME`` or ``NAME.partial`` holds files → :class:`UserError` unless ``resume`` (continue: an
  unfinished ``NAME.partial`` as it is; a finished ``NAME`` is moved back to ``NAME.partial`` and
  its cells are reused) or ``force`` (both are deleted, said in one line through ``say``);
- ``out`` is a file, lies under a file, or cannot be created, or both ``resume`` and ``force``
  are given → :class:`UserError` naming it, before any computation.

:func:`staged_output` is for outputs without cells (checkpoints, data sets): an ``out`` that
holds files is a :class:`UserError` unless ``force`` (said in one line); the output is written
into ``NAME.partial/`` (a leftover of an aborted write is removed first) and moved to ``NAME``
only when the block succeeds, so a failed or interrupted training leaves the old ``NAME``
untouched and no half-written one.

Only the standard library and ``core.errors`` are used, so that any layer may move this module down.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterator

from ..core.errors import UserError, clip

PARTIAL = ".partial"


def _print_err(msg: str) -> None:
    print(msg, file=sys.stderr)


def partial_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + PARTIAL)


def _busy(p: Path) -> bool:
    """True when ``p`` exists and is not an empty folder."""
    if not p.exists() and not p.is_symlink():
        return False
    return not p.is_dir() or any(p.iterdir())


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def open_run_folder(out: str | Path, resume: bool = False, force: bool = False,
                    say: Callable[[str], None] = _print_err) -> Path:
    """Prepare ``out.partial/`` to write a run into; return it (see the module docstring)."""
    out = Path(out)
    if resume and force:
        raise UserError("--resume and --force exclude each other (continue the run, or replace it)")
    if out.name in ("", ".", ".."):
        raise UserError(f"--out: give a folder name, not '{clip(out)}'")
    part = partial_path(out)
    for p in (out, part):
        if p.exists() and not p.is_dir():
            raise UserError(f"--out: '{clip(p)}' exists and is not a folder")
    try:
        if force:
            if _busy(out) or _busy(part):
                say(f"replacing the existing run folder {out} (--force)")
            _remove(out)
            _remove(part)
        elif _busy(out) and _busy(part):
            raise UserError(f"--out: both '{clip(out)}' and '{clip(part)}' exist; remove one or use --force")
        elif _busy(out):
            if not resume:
                raise UserError(f"--out: '{clip(out)}' already holds a run; use --resume to continue it "
                                "or --force to replace it")
            _remove(part)  # an empty leftover
            out.rename(part)
        elif _busy(part) and not resume:
            raise UserError(f"--out: '{clip(part)}' holds an unfinished run; use --resume to finish it "
                            "or --force to start over")
        if out.is_dir() and not _busy(out):
            out.rmdir()
        part.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out: cannot create '{clip(part)}': {exc.strerror or exc}") from None
    return part


def finish_run_folder(partial: str | Path) -> Path:
    """Rename a complete ``NAME.partial`` to ``NAME``; return the final path."""
    partial = Path(partial)
    if not partial.name.endswith(PARTIAL):
        raise ValueError(f"not a .partial run folder: {partial}")
    final = partial.with_name(partial.name[: -len(PARTIAL)])
    if final.is_dir() and not _busy(final):
        final.rmdir()  # an empty folder made meanwhile
    try:
        partial.rename(final)
    except OSError as exc:
        raise UserError(f"--out: cannot rename '{clip(partial)}' to '{clip(final)}': {exc.strerror or exc}") from None
    return final


@contextlib.contextmanager
def run_folder(out: str | Path, resume: bool = False, force: bool = False,
               say: Callable[[str], None] = _print_err) -> Iterator[Path]:
    """``with run_folder(out) as folder:`` write into ``folder`` (the .partial); renamed on success only."""
    part = open_run_folder(out, resume, force, say)
    yield part
    finish_run_folder(part)


def holds_files(folder: str | Path) -> bool:
    """True when ``folder`` (a folder) has a file anywhere below it."""
    folder = Path(folder)
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def _replace(stage: Path, final: Path) -> None:
    """Move ``stage`` to ``final``; an existing ``final`` is moved aside first and deleted last."""
    old = final.with_name(f".{final.name}.old")
    _remove(old)
    try:
        if final.exists() or final.is_symlink():
            final.rename(old)
        stage.rename(final)
    except OSError as exc:
        raise UserError(f"--out: cannot move '{clip(stage)}' to '{clip(final)}': {exc.strerror or exc}") from None
    _remove(old)


@contextlib.contextmanager
def staged_output(out: str | Path, force: bool = False, what: str = "checkpoint",
                  say: Callable[[str], None] = _print_err) -> Iterator[Path]:
    """``with staged_output(out) as folder:`` write into ``folder`` (``out.partial``); it replaces
    ``out`` when the block succeeds and is removed when it fails (see the module docstring)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: '{clip(out)}' exists and is not a folder")
    if _busy(out):
        if not force:
            raise UserError(f"--out: '{clip(out)}' already holds a {what}; use --force to replace it")
        say(f"replacing the existing {what} {out} (--force)")
    stage = partial_path(out)
    try:
        _remove(stage)
        stage.mkdir(parents=True)
    except OSError as exc:
        raise UserError(f"--out: cannot create '{clip(stage)}': {exc.strerror or exc}") from None
    try:
        yield stage
    except BaseException:
        _remove(stage)
        raise
    _replace(stage, out)


def fresh_run_path(root: str | Path, stem: str) -> Path:
    """``root/stem``, or ``root/stem-2``, ``-3``, … : the first name with neither it nor its .partial taken."""
    root = Path(root)
    path, n = root / stem, 1
    while path.exists() or partial_path(path).exists():
        n += 1
        path = root / f"{stem}-{n}"
    return path
