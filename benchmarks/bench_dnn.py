"""Load-aware DNN partitioner speed (issue 16 target: <= 10 ms per slot).

    python benchmarks/bench_dnn.py [--devices 1000] [--servers 8] [--repeat 20] [--variants fp32,int8,pruned]

One slot of 1,000 devices, each with one inference (Bernoulli arrivals, probability 1) of one of five
networks (AlexNet 21, ResNet-18 16, ResNet-50 24, MobileNetV2 23, ViT-B/16 17 split points: 20.2 on
average) on 8 servers, decided by ``dnn-oracle``'s slot plan: every task's (k, e) over all splits and
servers, sequentially (each decision sees the previous ones), after 5 warm-up slots so the queues are
not empty. Prints the best and median time of ``plan_slot`` over the repeats (the state is not
changed by planning, so every repeat does the same work). ``--variants`` adds the compressed models to the
action (``dnn.variants``, minimum top-1 ``--max-top1-loss`` points below fp32): every task's (v, k, e).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mecoffload.policies.base import make_policy
from mecoffload.sim.dynamics import decide, draw_slot, observe, reset, serve
from mecoffload.sim.params import Params
from mecoffload.sim.scenario import load_scenario

NETWORKS = ["alexnet", "resnet18", "resnet50", "mobilenet_v2", "vit_b_16"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--servers", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--variants", default="fp32", help="comma-separated dnn.variants (fp32, int8, pruned)")
    ap.add_argument("--max-top1-loss", type=float, default=1.0)
    a = ap.parse_args()
    sc = load_scenario("dnn-wifi", {"users.count": a.devices, "edge.count": a.servers, "task.arrival": "bernoulli",
                                    "task.rate": 1.0, "dnn.networks": NETWORKS,
                                    "dnn.servers": (["titanx", "t4", "xeon", "xeon"] * a.servers)[: a.servers],
                                    "dnn.variants": a.variants.split(","), "dnn.max_top1_loss": a.max_top1_loss})
    p = Params.from_scenario(sc)
    pol = make_policy("dnn-oracle", p)
    pol.reset(1)
    rng = np.random.default_rng(0)
    state, exo = reset(p, 1, 0)
    for _ in range(5):  # warm-up: queues filled by the oracle itself
        arr = draw_slot(state, p, exo)
        pol.plan_slot(state, arr, rng)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            decide(state, obs, pol.act(obs, rng), p)
        serve(state, p)
    arr = draw_slot(state, p, exo)
    times = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        plan = pol.plan_slot(state, arr, rng)
        times.append(time.perf_counter() - t0)
    n = int(arr.valid.sum())
    v, k, _ = p.dnn.decode(plan[arr.valid])
    print(f"dnn-oracle slot plan: {n} tasks x {p.dnn.n_variants} variants x {p.dnn.n_splits} splits (max) x "
          f"{p.n_servers} servers: "
          f"best {1e3 * min(times):.2f} ms, median {1e3 * float(np.median(times)):.2f} ms (target <= 10 ms); "
          f"{100 * np.mean(k == 0):.0f} % full offload, {100 * np.mean(k == p.dnn.n_layers[arr.net[arr.valid]]):.0f} % "
          f"all-local, {100 * np.mean(v > 0):.0f} % compressed")


if __name__ == "__main__":
    main()
