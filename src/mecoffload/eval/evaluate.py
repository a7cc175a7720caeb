"""Closed-loop evaluation of policies with common random numbers.

Each of the ``episodes`` episodes is one environment of a batch; every policy is run on a
fresh batch reset with the same seed, so all policies see identical layouts, arrivals, task
sizes and channel draws. After the horizon, the queues drain (no new arrivals) until every
task has completed or been dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..policies.base import Policy, PolicyError, make_policy
from ..policies.oracle import oracle_costs
from ..scenario import Scenario
from ..sim.dynamics import decide, draw_slot, observe, reset, serve
from ..sim.params import Params
from ..sim.metrics import Accumulator, check_accounting

Progress = Callable[[int], None]  # called with the number of slots just simulated


@dataclass
class PolicyRun:
    name: str
    metrics: dict
    latencies: np.ndarray  # realized latencies of completed tasks (s)
    max_delay_series: np.ndarray  # (T,) per-slot max server delay, mean over episodes (s)


def policy_seed(seed: int) -> np.random.Generator:
    """The policy's own random stream (e.g. Random, LACS sampling), separate from the exogenous one."""
    return np.random.Generator(np.random.PCG64([seed, 0x9E3779B9]))


def run_policy(
    scenario: Scenario,
    policy: str | Policy,
    episodes: int = 20,
    seed: int = 0,
    progress: Progress | None = None,
) -> PolicyRun:
    """Run ``episodes`` episodes of ``policy`` in lock-step; return its metrics."""
    p = Params.from_scenario(scenario)
    pol = make_policy(policy, p) if isinstance(policy, str) else policy
    state, exo = reset(p, episodes, seed)
    pol.reset(episodes)
    rng = policy_seed(seed)
    acc = Accumulator(p, episodes)
    plan = getattr(pol, "plan_slot", None)
    for _ in range(p.horizon):
        arr = draw_slot(state, p, exo)
        if plan is not None:  # slot-level planners (e.g. the genetic algorithm) see all arrivals first
            plan(state, arr, rng)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            a = np.asarray(pol.act(obs, rng), dtype=np.int64)
            _check_actions(a, len(obs), p, pol.name)
            acc.decision(obs.env, a, oracle_costs(obs, p))
            decide(state, obs, a, p)
        acc.slot_delay(state)
        acc.outcome(serve(state, p))
        if progress:
            progress(1)
    for _ in range(p.tau_slots):  # drain: every task ends (completed or dropped) by its deadline
        draw_slot(state, p, exo, arrivals=False)
        acc.outcome(serve(state, p))
    check_accounting(state)
    if state.in_flight().sum():
        raise AssertionError("tasks still in flight after draining")
    return PolicyRun(pol.name, acc.summary(state), acc.latencies(), acc.max_delay_series())


def _check_actions(a: np.ndarray, n: int, p: Params, name: str) -> None:
    if a.shape != (n,):
        raise PolicyError(f"policy '{name}' returned {a.shape} actions for {n} tasks")
    if n and (a.min() < (0 if p.allow_local else 1) or a.max() > p.n_servers):
        raise PolicyError(f"policy '{name}' returned an action outside the allowed range")


def evaluate(
    scenario: Scenario,
    policies: list[str],
    episodes: int = 20,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, PolicyRun]:
    """Evaluate several policies on identical random inputs (common random numbers)."""
    p = Params.from_scenario(scenario)
    dup = sorted({s for s in policies if policies.count(s) > 1})
    if dup:
        raise PolicyError(f"policy listed more than once: {', '.join(dup)}")
    built = [make_policy(s, p) for s in policies]  # fail fast on a bad spec
    return {pol.name: run_policy(scenario, pol, episodes, seed, progress) for pol in built}


SWEEP_ALIASES = {
    "L": "task.density_gcycles_per_mbit",
    "lambda": "task.rate",
    "E": "edge.count",
}


def sweep(
    scenario: Scenario,
    param: str,
    values: list,
    policies: list[str],
    episodes: int = 20,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, dict[str, dict]]:
    """For each value of ``param`` (dotted scenario path or alias), evaluate every policy.

    ``task.size_mbit`` given a number v means a fixed size [v, v] (seed 001 Table III).
    Returns {value: {policy: metrics}}.
    """
    path = SWEEP_ALIASES.get(param, param)
    out: dict[str, dict[str, dict]] = {}
    for v in values:
        val = [v, v] if path == "task.size_mbit" and not isinstance(v, list) else v
        sc = scenario.with_overrides({path: val})
        runs = evaluate(sc, policies, episodes, seed, progress)
        out[str(v)] = {name: r.metrics for name, r in runs.items()}
    return out
