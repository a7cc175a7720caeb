"""Evaluation as cells: one cell = one scenario point × one policy × one seed batch (episodes, seed).

Common random numbers make this split exact: :func:`mecoffload.eval.evaluate.run_policy` resets
the exogenous streams and the policy's own stream from ``seed`` for every policy, so a policy run
alone gives bit-identical numbers to the same policy run beside others (``tests/test_runner.py``).

API::

    evaluate_cell(scenario, policy, episodes, seed, checkpoint_sha256="") -> dict   # the cell function
    evaluate_cells(sc, policies, episodes, seed) -> list[Cell]                       # one per policy
    sweep_point(sc, param, value) -> Scenario                                        # one sweep value
    run_evaluate(sc, policies, episodes, seed, runner, store, progress) -> {name: PolicyRun}   # = evaluate()
    run_sweep(sc, param, values, policies, episodes, seed, runner, store, progress) -> {value: {name: metrics}}  # = sweep()
    to_result(run) -> dict / to_policy_run(result) -> PolicyRun                      # what a cell stores
    fingerprint(spec) -> str            # sha256 of the files a policy argument names (from .store)

A stored evaluate cell holds every field of ``PolicyRun``: ``metrics`` as JSON, ``latencies`` and
``max_delay_series`` as arrays, so plots can be redrawn from ``OUT/cells`` without recomputing.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from ..sim.scenario import Scenario, validate_scenario
from .evaluate import PolicyRun, run_policy, sweep_points
from .runner import Cell, ProgressFn, Runner, check_unique
from .store import CellStore, check_fingerprint, fingerprint

EVALUATE_CELL = "mecoffload.eval.cells:evaluate_cell"


def to_result(run: PolicyRun) -> dict[str, Any]:
    return {f.name: getattr(run, f.name) for f in fields(run)}


def to_policy_run(result: dict[str, Any]) -> PolicyRun:
    return PolicyRun(**result)


def evaluate_cell(scenario: dict, policy: str, episodes: int, seed: int, checkpoint_sha256: str = "") -> dict:
    """Run ``policy`` on the scenario dump for ``episodes`` episodes from ``seed``; a ``PolicyRun`` as a dict."""
    check_fingerprint(policy, checkpoint_sha256)
    return to_result(run_policy(validate_scenario(scenario), policy, episodes, seed))


def evaluate_cells(sc: Scenario, policies: list[str], episodes: int, seed: int) -> list[Cell]:
    dump = sc.model_dump()
    return [Cell(EVALUATE_CELL, {"scenario": dump, "policy": spec, "episodes": episodes, "seed": seed,
                                 "checkpoint_sha256": fingerprint(spec)}, label=f"{sc.name} {spec}")
            for spec in policies]


def run_evaluate(sc: Scenario, policies: list[str], episodes: int = 20, seed: int = 0, runner: Runner | None = None,
                 store: CellStore | str | Path | None = None, progress: ProgressFn | None = None) -> dict[str, PolicyRun]:
    """:func:`mecoffload.eval.evaluate.evaluate` through the runner: one cell per policy."""
    check_unique(policies)
    results = (runner or Runner()).run(evaluate_cells(sc, policies, episodes, seed), store, progress)
    runs = [to_policy_run(r) for r in results]
    return {r.name: r for r in runs}


def sweep_point(sc: Scenario, param: str, value: Any) -> Scenario:
    """The scenario at one sweep value (``task.size_mbit`` given a number v means [v, v]): the one rule
    of :func:`~mecoffload.eval.evaluate.sweep_points`."""
    return sweep_points(sc, param, [value])[0][1]


def run_sweep(sc: Scenario, param: str, values: list, policies: list[str], episodes: int = 20, seed: int = 0,
              runner: Runner | None = None, store: CellStore | str | Path | None = None,
              progress: ProgressFn | None = None) -> dict[str, dict[str, dict]]:
    """:func:`mecoffload.eval.evaluate.sweep` through the runner: one cell per (value, policy)."""
    check_unique(policies)
    points = [sweep_point(sc, param, v) for v in values]  # every value validated before any work
    cells = [c for point in points for c in evaluate_cells(point, policies, episodes, seed)]
    results = iter((runner or Runner()).run(cells, store, progress))
    out: dict[str, dict[str, dict]] = {}
    for v in values:
        out[str(v)] = {r["name"]: r["metrics"] for r in (next(results) for _ in policies)}
    return out
