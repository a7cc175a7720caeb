"""Queue-service speed: decisions per second of the `oracle` policy on `comllm` under
`sim.service = "continuous"` and `"slotted"`, at B = 64 and 4096 environments, and the time
of `serve` alone per slot.

    python benchmarks/bench_service.py [--slots N] [--threads T] [--repeat R]

Decisions are counted as in benchmarks/bench_sim.py (observation, policy, cost bookkeeping,
queue update and the share of the slot's service); each figure is the best of R runs (median in
brackets): this shared VM's speed drifts between runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mecoffload.policies.base import make_policy
from mecoffload.scenario import load_scenario
from mecoffload.sim.cost import oracle_costs
from mecoffload.sim.dynamics import decide, draw_slot, observe, reset, serve, set_threads
from mecoffload.sim.params import Params


def run(service: str, batch: int, slots: int, seed: int = 0) -> tuple[float, float]:
    """(decisions/s, ms of ``serve`` per slot) for one measurement."""
    p = Params.from_scenario(load_scenario("comllm", {"sim.horizon_slots": slots, "sim.service": service}))
    pol = make_policy("oracle", p)
    state, exo = reset(p, batch, seed)
    pol.reset(batch)
    rng = np.random.default_rng(seed)
    n, t_serve = 0, 0.0
    t0 = time.perf_counter()
    for _ in range(slots):
        arr = draw_slot(state, p, exo)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            a = pol.act(obs, rng)
            oracle_costs(obs, p)
            decide(state, obs, a, p)
            n += len(obs)
        t1 = time.perf_counter()
        serve(state, p)
        t_serve += time.perf_counter() - t1
    return n / (time.perf_counter() - t0), 1e3 * t_serve / slots


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slots", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    set_threads(args.threads)
    for service in ("continuous", "slotted"):
        run(service, 8, 2)  # compile / load the kernels before timing
    print(f"threads {args.threads}, {args.slots} slots, best of {args.repeat} (median)")
    for b in (64, 4096):
        for service in ("continuous", "slotted"):
            runs = sorted(run(service, b, args.slots) for _ in range(args.repeat))
            best, med = runs[-1], runs[len(runs) // 2]
            serve_ms = min(r[1] for r in runs)
            print(f"B={b:5d} {service:10s} {best[0]:12,.0f} decisions/s ({med[0]:,.0f})   serve {serve_ms:8.3f} ms/slot")


if __name__ == "__main__":
    main()
