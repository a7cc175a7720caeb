"""Closed-loop evaluation of policies with common random numbers.

Each of the ``episodes`` episodes is one environment of a batch; every policy is run on a
fresh batch reset with the same seed, so all policies see identical layouts, arrivals, task
sizes and channel draws. After the horizon, the queues drain (no new arrivals) until every
task has completed or been dropped. The loop itself is ``sim.rollout.run_closed_loop``; this
module turns scenarios and policy specs into runs (``Params`` built once per evaluation, each
spec built once) and sweeps a scenario parameter.
"""

from __future__ import annotations

from ..policies.base import Policy, PolicyError, make_policy
from ..sim.scenario import Scenario
from ..sim.params import Params
from ..sim.rollout import PolicyRun, Progress, policy_seed, run_closed_loop

__all__ = ["PolicyRun", "Progress", "policy_seed", "run_policy", "evaluate", "sweep", "sweep_points", "SWEEP_ALIASES"]


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
    policies: list[str | Policy],
    episodes: int = 20,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, PolicyRun]:
    """Evaluate several policies (specs, or policies already built for ``scenario``) on identical
    random inputs (common random numbers); ``Params`` are built once and every spec once."""
    p = Params.from_scenario(scenario)
    names = [s if isinstance(s, str) else s.name for s in policies]
    dup = sorted({s for s in names if names.count(s) > 1})
    if dup:
        raise PolicyError(f"policy listed more than once: {', '.join(dup)}")
    built = [make_policy(s, p) if isinstance(s, str) else s for s in policies]  # fail fast on a bad spec
    return {pol.name: run_closed_loop(p, pol, episodes, seed, progress) for pol in built}


SWEEP_ALIASES = {
    "L": "task.density_gcycles_per_mbit",
    "lambda": "task.rate",
    "E": "edge.count",
}


def sweep_points(scenario: Scenario, param: str, values: list) -> list[tuple[str, Scenario]]:
    """(label, scenario) of every value of ``param`` (dotted scenario path or an alias of
    ``SWEEP_ALIASES``, resolved here once); ``task.size_mbit`` given a number v means a fixed
    size [v, v] (seed 001 Table III). Raises ``ScenarioError`` on a value the scenario refuses."""
    path = SWEEP_ALIASES.get(param, param)
    fixed = lambda v: [v, v] if path == "task.size_mbit" and not isinstance(v, list) else v  # noqa: E731
    return [(str(v), scenario.with_overrides({path: fixed(v)})) for v in values]


def sweep(
    scenario: Scenario,
    param: str,
    values: list,
    policies: list[str],
    episodes: int = 20,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, dict[str, dict]]:
    """For each value of ``param`` (see ``sweep_points``), evaluate every policy.

    Returns {value: {policy: metrics}}.
    """
    out: dict[str, dict[str, dict]] = {}
    for label, sc in sweep_points(scenario, param, values):
        runs = evaluate(sc, policies, episodes, seed, progress)
        out[label] = {name: r.metrics for name, r in runs.items()}
    return out
