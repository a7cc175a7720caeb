"""Evaluate tier policies with common random numbers: every policy runs on the same workload
(tasks, device movements) and the same link-capacity draws. A run is one batch of
environments (devices, seed): several seeds, and for sweeps several device counts at once.

``tier-eval`` runs through the batch runner (:mod:`mecoffload.eval.runner`): one **cell** is one
policy on every (device count x seed) environment of the sweep, in one batch. The cell cannot be
split further by device count: a policy's own random stream (``policy_rng(seed)``) is drawn
across the whole batch, so ``random``, ``lacs``, ``dl-tier``, ... decide differently in a smaller
batch. A cell regenerates the workload from the seed; it is the same for every policy.

API::

    run_tier_policy(sc, policy, seeds, seed, workload=None, progress=None, devices=None) -> (metrics, sim)
    evaluate_tiers(sc, policies, seeds, seed, progress=None) -> {policy: metrics}
    tier_cell(scenario, policy, devices, seeds, seed, checkpoint_sha256="") -> {"devices": {n: metrics}, "wall_s"}
    tier_cells(sc, policies, devices, seeds, seed) -> list[Cell]                  # one per policy
    sweep_devices(sc, policies, devices, seeds, seed, progress=None, timings=None,
                  runner=None, store=None, cell_progress=None) -> {devices: {policy: metrics}}

``sweep_devices``' ``progress(n)`` counts simulated slots and runs the cells here, one after
another; ``cell_progress(done, total)`` counts cells on any ``runner`` (local processes, Ray).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ..eval.runner import Cell, ProgressFn, Runner, check_unique
from ..eval.store import CellStore, check_fingerprint, fingerprint, normalise
from .config import TierScenario, validate_tier_scenario
from .dynamics import TierSim
from .metrics import check_accounting, summarize, summarize_by_devices
from .policies import make_tier_policy
from .workload import Layout, generate, make_envs

TIER_CELL = "mecoffload.tiers.evaluate:tier_cell"

__all__ = ["TIER_CELL", "check_unique", "evaluate_tiers", "policy_rng", "run_tier_policy", "sweep_devices",
           "tier_cell", "tier_cells"]


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


def tier_cell(scenario: dict, policy: str, devices: list[int], seeds: int, seed: int, checkpoint_sha256: str = "",
              progress: Callable[[int], None] | None = None) -> dict:
    """One cell: ``policy`` on every (device count x seed) environment in one batch;
    ``{"devices": {str(n): metrics}, "wall_s": seconds}``."""
    check_fingerprint(policy, checkpoint_sha256)
    t0 = time.perf_counter()
    _, sim = run_tier_policy(validate_tier_scenario(scenario), policy, seeds, seed, progress=progress,
                             devices=list(devices))
    by_n = {str(n): m for n, m in summarize_by_devices(sim).items()}
    return {"devices": by_n, "wall_s": time.perf_counter() - t0}


def tier_cells(sc: TierScenario, policies: list[str], devices: list[int], seeds: int, seed: int) -> list[Cell]:
    dump = sc.model_dump()
    return [Cell(TIER_CELL, {"scenario": dump, "policy": spec, "devices": [int(n) for n in devices], "seeds": int(seeds),
                             "seed": int(seed), "checkpoint_sha256": fingerprint(spec)}, label=f"{sc.name} {spec}")
            for spec in policies]


def sweep_devices(sc: TierScenario, policies: list[str], devices: list[int], seeds: int = 3, seed: int = 0,
                  progress: Callable[[int], None] | None = None, timings: dict | None = None,
                  runner: Runner | None = None, store: CellStore | None = None,
                  cell_progress: ProgressFn | None = None) -> dict[int, dict[str, dict]]:
    """{devices: {policy: metrics}}: every device count x seed is one environment of a single
    batch per policy (all policies on identical inputs); one cell per policy (see the module
    docstring). Every policy spec is checked before any cell runs."""
    check_unique(policies)
    for spec in policies:
        make_tier_policy(spec, sc)
    cells = tier_cells(sc, policies, devices, seeds, seed)
    if progress is not None and runner is None and store is None:  # a slot counter: the cells run here
        results = [normalise(tier_cell(**c.inputs, progress=progress)) for c in cells]
    else:
        results = (runner or Runner()).run(cells, store, cell_progress)
    out: dict[int, dict[str, dict]] = {int(n): {} for n in devices}
    for spec, res in zip(policies, results):
        for n, m in res["devices"].items():
            out[int(n)][spec] = m
        if timings is not None:
            timings[spec] = res["wall_s"]
    return out
