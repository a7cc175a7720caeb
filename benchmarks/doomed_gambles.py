"""How often a "doomed" task sent to an edge server still makes its deadline (an analysis, not a timing).

    python benchmarks/doomed_gambles.py [--episodes 100] [--seed 0]

A task is doomed when the queue model's estimate of the location a policy chose exceeds the deadline
τ (``sim.cost.obs_latency`` under ``cost.model=queue``). The queue oracle sends it to the least-bad
location anyway (usually a server: a gamble on the model's error); setnet-realized learnt its teacher's
rule (``oracle:uploads=compete,doomed=local``) and sends it to the device's CPU, where the estimate is
exact (FIFO), so there it is a certain drop that holds up no other device. For the queue oracle on
``comllm`` at several E and λ this prints the doomed tasks it sent to a server, binned by estimate / τ,
and how many of them completed; then every task setnet-realized dropped at E = 32 over the grid's 20
episodes, with the estimates of its options. Common random numbers (``reset(p, episodes, seed)``).
"""

from __future__ import annotations

import argparse

import numpy as np

from mecoffload.policies.base import make_policy
from mecoffload.sim.cost import obs_latency
from mecoffload.sim.dynamics import reset
from mecoffload.sim.params import Params
from mecoffload.sim.rollout import decisions, drive, policy_seed
from mecoffload.sim.scenario import load_scenario

BINS = ((1.0, 1.05), (1.05, 1.2), (1.2, np.inf))
POINTS = ((6, 0.3), (6, 0.4), (6, 0.5), (6, 0.6), (16, 0.3), (32, 0.3))
SETNET = "setnet:checkpoints/setnet-realized-comllm"


def trace(spec: str, E: int, lam: float, episodes: int, seed: int) -> tuple[dict, set, Params]:
    """Run ``spec`` like ``evaluate``; return {(env, task id): (action, estimates (E+1,) s)}, the
    completed (env, task id) and the Params."""
    p = Params.from_scenario(load_scenario("comllm", ["cost.model=queue", f"edge.count={E}", f"task.rate={lam}"]))
    pol = make_policy(spec, p)
    pol.reset(episodes)
    rng, (state, exo) = policy_seed(seed), reset(p, episodes, seed)
    decided: dict = {}
    count = np.zeros(episodes, np.int64)
    done: set = set()

    def act(obs):
        a = np.asarray(pol.act(obs, rng), np.int64)
        lat = obs_latency(obs, p)
        for i, env in enumerate(obs.env.tolist()):
            decided[(env, int(count[env]))] = (int(a[i]), lat[i])
            count[env] += 1
        return a

    def served(out) -> None:
        done.update(zip(out.lat_env.tolist(), out.task_id.tolist()))

    drive(decisions(state, exo, p, p.horizon, on_served=served), act)
    drive(decisions(state, exo, p, p.deadline_slots, arrivals=False, on_served=served), act)
    return decided, done, p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"queue oracle on comllm (cost.model=queue), {args.episodes} episodes, seed {args.seed}: doomed tasks "
          "sent to a server (estimate of the chosen server > τ), completed / sent, by estimate / τ\n")
    print("| E | λ | tasks | " + " | ".join(f"({lo:g}, {hi:g}]" for lo, hi in BINS) + " |")
    print("|---:|---:|---:|" + "---:|" * len(BINS))
    for E, lam in POINTS:
        decided, done, p = trace("oracle", E, lam, args.episodes, args.seed)
        ratio = np.array([lat[a] / p.deadline_s if 1 <= a <= p.n_servers else 0.0 for a, lat in decided.values()])
        ok = np.array([k in done for k in decided])
        cells = [f"{ok[m].sum()} / {m.sum()}" for m in ((ratio > lo) & (ratio <= hi) for lo, hi in BINS)]
        print(f"| {E} | {lam} | {len(decided)} | " + " | ".join(cells) + " |")
    decided, done, p = trace(SETNET, 32, 0.3, 20, args.seed)
    print(f"\n{SETNET} at E = 32, λ = 0.3, 20 episodes, seed {args.seed}: {len(decided)} tasks, dropped:")
    for (env, tid), (a, lat) in decided.items():
        if (env, tid) not in done:
            print(f"  episode {env} task {tid}: sent to {'local' if a == 0 else f'server {a}'} (estimate {lat[a]:.3f} s), "
                  f"local {lat[0]:.3f} s, best server {lat[1:].min():.3f} s (server {1 + int(lat[1:].argmin())}), "
                  f"τ = {p.deadline_s:g} s")


if __name__ == "__main__":
    main()
