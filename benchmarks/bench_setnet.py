"""setnet decision latency: µs per task decision at batch 1,024 (features + forward + argmax).

    python benchmarks/bench_setnet.py [--ckpt checkpoints/setnet-comllm] [--batch 1024]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mecoffload.policies.base import make_policy
from mecoffload.scenario import load_scenario
from mecoffload.sim.dynamics import draw_slot, observe, reset
from mecoffload.sim.params import Params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", default="checkpoints/setnet-comllm")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    for e in (6, 11):
        p = Params.from_scenario(load_scenario("comllm", {"edge.count": e}))
        state, exo = reset(p, 4 * args.batch, 0)
        arr = draw_slot(state, p, exo)
        obs = observe(state, arr, 0, p).take(np.arange(args.batch))
        pol = make_policy(f"setnet:{args.ckpt}", p)
        rng = np.random.default_rng(0)
        pol.act(obs, rng)  # warm-up
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            pol.act(obs, rng)
        us = (time.perf_counter() - t0) / (args.repeats * args.batch) * 1e6
        print(f"setnet  E={e:2d}  batch={args.batch}  threads={args.threads}  {us:8.2f} µs/decision")


if __name__ == "__main__":
    main()
