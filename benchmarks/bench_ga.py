"""Speed of the genetic-algorithm baseline: milliseconds per slot at the default settings
(pop = 32, gens = 20, mut = 0.1, uniform crossover) with 20 environments, on ``comllm``
(objective: total estimated cost J) and ``loadbalance`` (objective: maximum server delay).

    python benchmarks/bench_ga.py [--slots N] [--envs B] [--policy ga:...]

"plan" is the time of ``plan_slot`` alone (the GA for all envs of one slot); "slot" is the
whole closed-loop slot: GA, per-task decisions, cost bookkeeping and queue service.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mecoffload.policies.base import make_policy
from mecoffload.scenario import load_scenario
from mecoffload.sim.cost import oracle_costs
from mecoffload.sim.dynamics import reset
from mecoffload.sim.params import Params
from mecoffload.sim.rollout import decisions, drive, policy_seed


def ms_per_slot(scenario: str, spec: str, batch: int, slots: int, seed: int = 0) -> tuple[float, float, float]:
    """(plan ms/slot, whole-slot ms/slot, mean arrivals per env per slot)."""
    p = Params.from_scenario(load_scenario(scenario, {"sim.horizon_slots": slots}))
    pol = make_policy(spec, p)
    state, exo = reset(p, batch, seed)
    pol.reset(batch)
    rng = policy_seed(seed)
    t_plan = 0.0
    n_tasks = 0

    def plan(arr) -> None:
        nonlocal t_plan, n_tasks
        t1 = time.perf_counter()
        pol.plan_slot(state, arr, rng)
        t_plan += time.perf_counter() - t1
        n_tasks += int(arr.valid.sum())

    def act(obs):
        a = pol.act(obs, rng)
        oracle_costs(obs, p)  # the evaluation's bookkeeping
        return a

    t0 = time.perf_counter()
    drive(decisions(state, exo, p, slots, on_arrivals=plan), act)
    total = time.perf_counter() - t0
    return 1e3 * t_plan / slots, 1e3 * total / slots, n_tasks / (slots * batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slots", type=int, default=100, help="slots timed per scenario")
    ap.add_argument("--envs", type=int, default=20, help="environments in the batch")
    ap.add_argument("--policy", default="ga", help="policy spec (default: ga at its defaults)")
    args = ap.parse_args()
    ms_per_slot("comllm", args.policy, args.envs, 3)  # warm-up (imports, first allocations)
    for scen in ("comllm", "loadbalance"):
        plan, slot, tasks = ms_per_slot(scen, args.policy, args.envs, args.slots)
        print(
            f"{args.policy:<8} {scen:<12} B={args.envs:4d}  {plan:8.2f} ms/slot GA plan  {slot:8.2f} ms/slot total"
            f"  ({tasks:.2f} tasks/env/slot, {args.slots} slots)"
        )


if __name__ == "__main__":
    np.seterr(all="raise")  # a NaN or overflow in the fitness would be a bug
    main()
