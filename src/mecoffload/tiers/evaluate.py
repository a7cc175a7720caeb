"""Evaluate tier policies with common random numbers: every policy runs on the same workload
(tasks, device movements) and the same link-capacity draws. A run is one batch of
environments (devices, seed): several seeds, and for sweeps several device counts at once."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .config import TierScenario
from ..core.errors import PolicyError
from .dynamics import TierSim
from .metrics import check_accounting, summarize, summarize_by_devices
from .policies import make_tier_policy
from .workload import Layout, generate, make_envs


def check_unique(names: list[str], what: str = "policy listed more than once") -> None:
    """A :class:`PolicyError` naming the policies (or orchestrators) listed twice."""
    dup = sorted({s for s in names if names.count(s) > 1})
    if dup:
        raise PolicyError(f"{what}: {', '.join(dup)}")


def policy_rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([seed, 0x71E5]))


def run_tier_policy(sc: TierScenario, policy, seeds: int = 1, seed: int = 0, workload=None,
                    progress: Callable[[int], None] | None = None, devices: list[int] | None = None
                    ) -> tuple[dict, TierSim]:
    """Run one policy (spec or object) on ``seeds`` seeds (x ``devices`` counts, default the
    scenario's) in one batch; returns (metrics over all environments, finished sim)."""
    pol = make_tier_policy(policy, sc) if isinstance(policy, str) else policy
    lay = Layout.from_scenario(sc)
    if workload is None:
        workload = generate(sc, lay, make_envs(sc, seeds, seed, devices))
    sim = TierSim(sc, workload=workload, layout=lay)
    pol.reset(sim.B)
    sim.run(pol, policy_rng(seed), progress)
    check_accounting(sim)
    return summarize(sim), sim


def evaluate_tiers(sc: TierScenario, policies: list[str], seeds: int = 3, seed: int = 0,
                   progress: Callable[[int], None] | None = None) -> dict[str, dict]:
    """{policy: metrics} for every policy on identical inputs."""
    check_unique(policies)
    built = [make_tier_policy(s, sc) for s in policies]
    lay = Layout.from_scenario(sc)
    wl = generate(sc, lay, make_envs(sc, seeds, seed))
    return {p.name: run_tier_policy(sc, p, seeds, seed, workload=wl, progress=progress)[0] for p in built}


def sweep_devices(sc: TierScenario, policies: list[str], devices: list[int], seeds: int = 3, seed: int = 0,
                  progress: Callable[[int], None] | None = None,
                  timings: dict | None = None) -> dict[int, dict[str, dict]]:
    """{devices: {policy: metrics}}: every device count x seed is one environment of a single
    batch per policy (all policies on identical inputs)."""
    built = [make_tier_policy(s, sc) for s in policies]
    lay = Layout.from_scenario(sc)
    wl = generate(sc, lay, make_envs(sc, seeds, seed, devices))
    out: dict[int, dict[str, dict]] = {n: {} for n in devices}
    for p in built:
        t = time.perf_counter()
        _, sim = run_tier_policy(sc, p, seeds, seed, workload=wl, progress=progress)
        for n, m in summarize_by_devices(sim).items():
            out[n][p.name] = m
        if timings is not None:
            timings[p.name] = time.perf_counter() - t
    return out
