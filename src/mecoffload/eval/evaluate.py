"""Closed-loop evaluation of policies with common random numbers.

Each of the ``episodes`` episodes is one environment of a batch; every policy is run on a
fresh batch reset with the same seed, so all policies see identical layouts, arrivals, task
sizes and channel draws. After the horizon, the queues drain (no new arrivals) until every
task has completed or been dropped.
"""

from __future__ import annotations

from ..policies.base import Policy, PolicyError, make_policy
from ..scenario import Scenario
from ..sim.params import Params
from ..sim.rollout import PolicyRun, Progress, policy_seed, run_closed_loop

__all__ = ["PolicyRun", "Progress", "policy_seed", "run_policy", "evaluate", "sweep", "SWEEP_ALIASES"]


def run_policy(
    scenario: Scenario,
    policy: str | Policy,
    episodes: int = 20,
    seed: int = 0,
    progress: Progress | None = None,
) -> PolicyRun:
    """Run ``episodes`` episodes of ``policy`` (a spec or a built policy) in lock-step; return its metrics."""
    p = Params.from_scenario(scenario)
    pol = make_policy(policy, p) if isinstance(policy, str) else policy
    return run_closed_loop(p, pol, episodes, seed, progress)


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
    return {pol.name: run_closed_loop(p, pol, episodes, seed, progress) for pol in built}


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
