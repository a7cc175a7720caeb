"""One runner for every batch job: cells through a local or a Ray backend, with a resumable store.

A **cell** is one unit of a batch job — a scenario point × a policy × a seed batch — described by
plain data: ``Cell(fn="package.module:function", inputs={...})``. ``fn`` names a *pure* function
called as ``function(**inputs)``; ``inputs`` is JSON-able (the scenario goes in as its
``model_dump()``, so a cell pickles to processes and Ray workers and hashes by content). The
function returns JSON-able data and/or numpy arrays (see :mod:`mecoffload.eval.store`). The same
inputs give the same result on every backend: each cell seeds its own random streams from its
inputs; nothing is shared between cells.

API::

    Cell(fn, inputs, label="")                  # one unit of work; .key(salt) is its content hash
    Runner(backend="local", jobs=None, address=None, resume=True)
    Runner.run(cells, store=None, progress=None) -> list   # results in the order of ``cells``
    run_cells(cells, runner=None, store=None, progress=None) -> list   # the same, default Runner()
    execute(fn, inputs) -> (result, seconds)    # what a worker does for one cell
    check_unique(names, what)                   # PolicyError for a policy listed twice

A command wires it like this (``--backend``, ``--jobs``, ``--address``, ``--resume``, ``--force``;
the CLI's helpers are in :mod:`mecoffload.cli.runs`)::

    runner = Runner(backend, jobs, address)                  # bad options: UserError, before any work
    with run_folder(out, resume, force) as folder:           # writes OUT.partial/, renamed to OUT at the end
        runs = run_evaluate(sc, names, episodes, seed, runner, folder / "cells", progress)
        ...write metrics, report and plots into folder...

The batch jobs as cells: ``evaluate`` / ``sweep`` (:mod:`mecoffload.eval.cells`: one policy on one
scenario point), ``tier-eval`` (:mod:`mecoffload.tiers.evaluate`: one policy on every device
count x seed), ``run-ecs`` (:mod:`mecoffload.ecs.runner`: one EdgeCloudSim orchestrator, or all
added policies together, on every device count x seed).

- ``backend="local"``: ``jobs`` None/1 runs the cells one after another in this process;
  ``jobs=N`` runs them in N worker processes (``concurrent.futures`` with the *forkserver*
  start method, *spawn* where there is none).
- ``backend="ray"`` (the ``dist`` extra: ``pip install 'mecoffload[dist]'``): each cell is one
  ``ray.remote`` task. ``address=None`` starts a private local runtime with ``jobs`` CPUs (all
  CPUs when None) and stops it afterwards; ``address="auto"`` or ``"HOST:PORT"`` connects to a
  running cluster. A runtime that is already initialised in this process is used as it is.
- ``store``: a :class:`~mecoffload.eval.store.CellStore` (or a folder path). Every cell is
  written there the moment it finishes; with ``resume=True`` (default) cells already there are
  loaded instead of computed, so re-running a killed job recomputes only what is missing.
  ``resume=False`` recomputes and overwrites every cell.
- ``progress(done, total)``: called once when the cached cells are loaded and after each finished
  cell (cells, not slots) — hook a rich progress bar on it.

A cell that raises stops the run: the error (a ``UserError`` stays a ``UserError``) is re-raised
after the cells that already finished are stored; Ctrl-C likewise keeps every finished cell.

Two-node Ray run (the package installed with the ``dist`` extra on both machines, same version —
a worker of another version refuses to run a cell)::

    head$   ray start --head --port=6379
    other$  ray start --address=HEAD:6379
    head$   mecoffload sweep --param E --values 3,5,7,9,11 -p random,oracle,lacs \\
                --backend ray --address HEAD:6379 --out runs/sweep-E
    head$   ray stop; other$ ray stop

Where the cluster uses token authentication (Ray's default for local clusters from 2.59, for all
clusters from 2.61), run ``ray get-auth-token`` on the head and export ``RAY_AUTH_TOKEN=<token>``
on the other node before ``ray start`` and in the shell that runs ``mecoffload``. A ``HOST:PORT``
where nothing answers fails within 5 s.

Paths inside cell inputs (checkpoints, scenario files) are resolved on the worker, in the
driver's working directory when that exists there: keep the same layout on every node or give
absolute paths on a shared filesystem. A checkpoint that differs on a worker is refused (its
sha256 is part of the cell).

Determinism: worker processes run single-threaded (``OMP_NUM_THREADS=1``, as Ray does), cells in
this process keep torch's default; the shipped networks give identical numbers either way.
Scripts that use ``jobs > 1`` need the usual ``if __name__ == "__main__":`` guard (forkserver and
spawn import the main module in each worker).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import os
import signal
import socket
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..core.errors import PolicyError, UserError
from ..core.optional import require
from .store import SALT, CellStore, cell_key, normalise

ProgressFn = Callable[[int, int], None]
"""progress(done cells, total cells)"""

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class Cell:
    """One unit of a batch job: ``fn`` ("module:function") called with the JSON-able ``inputs``."""

    fn: str
    inputs: dict = field(default_factory=dict)
    label: str = ""  # for messages and the stored record; not part of the key

    def key(self, salt: str = SALT) -> str:
        return cell_key(self.fn, self.inputs, salt)


def resolve(fn: str) -> Callable:
    """The function named ``"package.module:function"``."""
    module, sep, attr = fn.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"cell function must be 'module:function', got {fn!r}")
    return getattr(importlib.import_module(module), attr)


def execute(fn: str, inputs: dict) -> tuple[Any, float]:
    """Run one cell; return ``(result, wall seconds)``. This is what every backend's worker calls."""
    t0 = time.perf_counter()
    result = resolve(fn)(**inputs)
    return result, time.perf_counter() - t0


def _execute_in(cwd: str, salt: str, fn: str, inputs: dict) -> tuple[Any, float]:
    """``execute`` on a Ray worker: same code version as the driver, in its working directory if it exists here."""
    if salt != SALT:
        raise UserError(f"a Ray node runs {SALT.rsplit('-', 1)[0]} but this machine {salt.rsplit('-', 1)[0]}: "
                        "install the same mecoffload version on every node")
    if os.path.isdir(cwd) and os.getcwd() != cwd:
        os.chdir(cwd)
    return execute(fn, inputs)


@dataclass(frozen=True)
class Runner:
    """Where and how cells run; see the module docstring for each option."""

    backend: str = "local"
    jobs: int | None = None
    address: str | None = None
    resume: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UserError(f"--backend must be one of {', '.join(BACKENDS)} (got '{self.backend}')")
        if self.jobs is not None and not 1 <= self.jobs <= 1024:
            raise UserError(f"--jobs must be in 1..1024 (got {self.jobs})")
        if self.address is not None and self.backend != "ray":
            raise UserError("--address needs --backend ray")

    def run(self, cells: Sequence[Cell], store: CellStore | str | Path | None = None,
            progress: ProgressFn | None = None) -> list:
        """Compute (or load) every cell; return their results in the order of ``cells``."""
        store = CellStore(store) if isinstance(store, (str, Path)) else store
        if store is not None:
            store.clean()
        results: dict[str, Any] = {}
        todo: dict[str, Cell] = {}  # key -> cell; a cell listed twice is computed once
        for cell in cells:
            key = cell.key(store.salt if store else SALT)
            if key in results or key in todo:
                continue
            if store is not None and self.resume:
                found, value = store.get(cell.fn, cell.inputs)
                if found:
                    results[key] = value
                    continue
            todo[key] = cell
        total = len(results) + len(todo)
        if progress:
            progress(len(results), total)

        def finished(key: str, value: Any, elapsed: float) -> None:
            cell = todo[key]
            if store is not None:
                results[key] = store.put(cell.fn, cell.inputs, value, cell.label, elapsed)
            else:
                results[key] = normalise(value)
            if progress:
                progress(len(results), total)

        if todo:
            backend = {"local": self._local, "ray": self._ray}[self.backend]
            backend(todo, finished)
        salt = store.salt if store else SALT
        return [results[c.key(salt)] for c in cells]

    def _local(self, todo: dict[str, Cell], finished: Callable) -> None:
        jobs = min(self.jobs or 1, len(todo))
        if jobs <= 1:
            for key, cell in todo.items():
                finished(key, *execute(cell.fn, cell.inputs))
            return
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context(method), initializer=_worker_init)
        try:
            _drain_futures({pool.submit(execute, c.fn, c.inputs): k for k, c in todo.items()}, finished)
        except BaseException:
            _stop_pool(pool)  # do not wait for cells nobody will store
            raise
        pool.shutdown()

    def _ray(self, todo: dict[str, Cell], finished: Callable) -> None:
        ray = require("ray", "dist")
        if self.address is not None:
            _check_reachable(self.address)
        started = not ray.is_initialized()
        if started:
            _ray_init(ray, self.address, self.jobs)
        try:
            task = ray.remote(num_cpus=1)(_execute_in)
            cwd = os.getcwd()
            pending = {task.remote(cwd, SALT, c.fn, c.inputs): k for k, c in todo.items()}
            try:
                _drain_refs(ray, pending, finished)
            except BaseException:
                for other in pending:  # a failed cell or Ctrl-C: nobody will store the others
                    ray.cancel(other, force=True)
                raise
        finally:
            if started:
                ray.shutdown()


def _worker_init() -> None:
    """Worker processes run one thread each, as Ray's workers do (no oversubscription of cores),
    and leave Ctrl-C to the driver, which stops them (no traceback from every worker)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """End a process pool now: pending cells cancelled, running ones killed."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)


def _drain_refs(ray: Any, pending: dict, finished: Callable) -> None:
    """Hand each finished Ray task's result to ``finished`` (raises the first cell's own error)."""
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            key = pending.pop(ref)
            try:
                value, elapsed = ray.get(ref)
            except ray.exceptions.RayError as exc:
                raise _unwrap(exc) from None
            finished(key, value, elapsed)


def check_unique(names: Sequence[str], what: str = "policy listed more than once") -> None:
    """A :class:`PolicyError` naming the items (policies, orchestrators) listed twice."""
    dup = sorted({s for s in names if list(names).count(s) > 1})
    if dup:
        raise PolicyError(f"{what}: {', '.join(dup)}")


def _drain_futures(pending: dict, finished: Callable) -> None:
    """Hand each finished future's result to ``finished`` as it completes (raises the first error)."""
    left = set(pending)
    while left:
        done, left = wait(left, return_when=FIRST_COMPLETED)
        for fut in done:
            finished(pending[fut], *fut.result())


def _ray_init(ray: Any, address: str | None, jobs: int | None) -> None:
    opts = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address is None:
            ray.init(num_cpus=jobs or os.cpu_count(), include_dashboard=False, **opts)
        else:
            ray.init(address=address, **opts)
    except ConnectionError as exc:
        raise UserError(f"cannot reach the Ray cluster at '{address}': {str(exc).splitlines()[0]}") from None


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a ``HOST:PORT`` where nothing listens (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", "ray://...": left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise UserError(f"--address: nothing answers at {address} ({exc.strerror or exc}); "
                        "start the head with `ray start --head --port=PORT`") from None


def _unwrap(exc: BaseException) -> BaseException:
    """The cell's own exception from a Ray task error (a UserError stays one)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def run_cells(cells: Iterable[Cell], runner: Runner | None = None, store: CellStore | str | Path | None = None,
              progress: ProgressFn | None = None) -> list:
    """``(runner or Runner()).run(cells, store, progress)``."""
    return (runner or Runner()).run(list(cells), store, progress)
