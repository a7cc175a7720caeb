"""Simulator throughput: task decisions per second for the `oracle` policy on `comllm` at
B = 1, 64 and 4096 environments, and milliseconds per decision for `lacs`.

    python benchmarks/bench_sim.py [--slots N]

A "decision" is one task decided and simulated: observation, policy, cost bookkeeping,
queue update, and its share of the slot's queue service.
"""

from __future__ import annotations

import argparse
import time


from mecoffload.eval.evaluate import policy_seed
from mecoffload.policies.base import make_policy
from mecoffload.policies.oracle import oracle_costs
from mecoffload.scenario import load_scenario
from mecoffload.sim.dynamics import decide, draw_slot, observe, reset, serve
from mecoffload.sim.params import Params


def decisions_per_second(policy: str, batch: int, slots: int, seed: int = 0) -> tuple[float, int]:
    sc = load_scenario("comllm", {"sim.horizon_slots": slots})
    p = Params.from_scenario(sc)
    pol = make_policy(policy, p)
    state, exo = reset(p, batch, seed)
    pol.reset(batch)
    rng = policy_seed(seed)
    n = 0
    t0 = time.perf_counter()
    for _ in range(slots):
        arr = draw_slot(state, p, exo)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            a = pol.act(obs, rng)
            oracle_costs(obs, p)
            decide(state, obs, a, p)
        n += int(arr.valid.sum())
        serve(state, p)
    return n / (time.perf_counter() - t0), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slots", type=int, default=100, help="slots simulated per measurement")
    args = ap.parse_args()
    for b in (1, 64, 4096):
        rate, n = decisions_per_second("oracle", b, args.slots if b > 1 else 10 * args.slots)
        print(f"oracle  B={b:5d}  {rate:12,.0f} decisions/s  ({n} decisions)")
    rate, n = decisions_per_second("lacs", 64, args.slots)
    print(f"lacs    B=   64  {1e3 / rate:12.4f} ms/decision  ({rate:,.0f} decisions/s)")
    rate, n = decisions_per_second("lacs", 1, 10 * args.slots)
    print(f"lacs    B=    1  {1e3 / rate:12.4f} ms/decision")


if __name__ == "__main__":
    main()
