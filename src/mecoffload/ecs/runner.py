"""Run an imported EdgeCloudSim scenario's own sweep: every device count (min..max by step) x
iteration (seed) x orchestrator (simulation scenario x policy), plus any mecoffload policy.

All orchestrators of a run share one workload (tasks, device movements) per device count and
seed: common random numbers, so differences between columns are the orchestrators' own. The
whole sweep is one vectorised batch (:class:`~.engine.EcsSim`); with ``jobs > 1`` the
EdgeCloudSim orchestrators are split over processes (same results: environments never
interact). Seeded: the same seed gives the same numbers (EdgeCloudSim seeds from the clock).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import PolicyError
from ..tiers.evaluate import check_unique
from ..tiers.policies import make_tier_policy
from ..tiers.workload import Layout, generate, make_envs
from .engine import EcsSim, Mode
from .metrics import aggregate, check_accounting, env_figures
from .model import EcsScenario


@dataclass
class EcsResult:
    scenario: str
    devices: list[int]
    columns: list[str]
    figures: dict[str, dict[int, dict]]  # column -> devices -> figures
    accounting: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    seeds: int = 1
    seed: int = 0
    slot_s: float = 0.25

    @classmethod
    def from_json(cls, d: dict) -> "EcsResult":
        return cls(scenario=d["scenario"], devices=list(d["devices"]), columns=list(d["columns"]),
                   figures={c: {int(n): f for n, f in v.items()} for c, v in d["figures"].items()},
                   accounting=d.get("accounting", {}), timing=d.get("timing_s", {}), seeds=d.get("seeds", 1),
                   seed=d.get("seed", 0), slot_s=d.get("slot_s", 0.25))

    def to_json(self) -> dict:
        return {"scenario": self.scenario, "devices": self.devices, "columns": self.columns, "seeds": self.seeds,
                "seed": self.seed, "slot_s": self.slot_s,
                "figures": {c: {str(n): f for n, f in d.items()} for c, d in self.figures.items()},
                "accounting": self.accounting, "timing_s": self.timing}


def _policy_mode(spec: str, tier_sc) -> Mode:
    return Mode(label=spec, policy=make_tier_policy(spec, tier_sc))  # DEFER / REJECT: no VM (see engine)


def _run_group(sc: EcsScenario, wl, modes: list[Mode], seed: int, tier_sc) -> tuple[list[dict], dict, int]:
    sim = EcsSim(sc, wl, modes, seed=seed, tier_sc=tier_sc).run()
    acc = check_accounting(sim)
    return env_figures(sim), acc, sim.n_wenv


def _worker(args):
    sc, wl, specs, seed, tier_sc = args
    return _run_group(sc, wl, [Mode.ecs(s) for s in specs], seed, tier_sc)


def run_ecs(sc: EcsScenario, policies: list[str] | tuple[str, ...] = (), seeds: int | None = None, seed: int = 0,
            devices: list[int] | None = None, orchestrators: list[str] | None = None, jobs: int = 1,
            slot_s: float | None = None) -> EcsResult:
    """The EdgeCloudSim sweep of ``sc`` (its orchestrators unless ``orchestrators`` is given)
    plus the tier / mecoffload ``policies``; ``seeds`` iterations per device count."""
    if slot_s is not None:
        sc = sc.model_copy(update={"sim": sc.sim.model_copy(update={"slot_s": float(slot_s)})})
    counts = list(devices) if devices else sc.devices.counts()
    iters = int(seeds or sc.iterations)
    orch = list(sc.orchestrators() if orchestrators is None else orchestrators)
    check_unique(list(orch) + list(policies), "listed more than once")
    if not orch and not policies:
        raise PolicyError("nothing to run: the scenario has no supported orchestrator; give --policies")
    t_start = time.perf_counter()
    tier_sc = sc.to_tier_scenario(max(counts))
    lay = Layout.from_scenario(tier_sc)
    wl = generate(tier_sc, lay, make_envs(tier_sc, iters, seed, counts))
    t_wl = time.perf_counter()
    for o in orch:
        Mode.ecs(o)  # validate names before the long part
    ext = [_policy_mode(p, tier_sc) for p in policies]
    per_col: dict[str, list[dict]] = {}
    accounting: dict[str, dict] = {}
    groups = _split(orch, jobs)
    if len(groups) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        with ProcessPoolExecutor(max_workers=len(groups), mp_context=ctx) as ex:
            futs = [ex.submit(_worker, (sc, wl, g, seed, tier_sc)) for g in groups]
            # the tier policies run here meanwhile
            if ext:
                figs, acc, n_wenv = _run_group(sc, wl, ext, seed, tier_sc)
                _collect(per_col, accounting, [m.label for m in ext], figs, acc, n_wenv)
            for g, f in zip(groups, futs):
                figs, acc, n_wenv = f.result()
                _collect(per_col, accounting, g, figs, acc, n_wenv)
    else:
        modes = [Mode.ecs(o) for o in orch] + ext
        figs, acc, n_wenv = _run_group(sc, wl, modes, seed, tier_sc)
        _collect(per_col, accounting, [m.label for m in modes], figs, acc, n_wenv)
    columns = orch + list(policies)
    figures: dict[str, dict[int, dict]] = {}
    for col in columns:
        envs_of = per_col[col]
        figures[col] = {}
        for k, n in enumerate(counts):
            figures[col][int(n)] = aggregate(envs_of[k * iters:(k + 1) * iters])
    t_end = time.perf_counter()
    return EcsResult(scenario=sc.name, devices=[int(n) for n in counts], columns=columns, figures=figures,
                     accounting=accounting, seeds=iters, seed=seed, slot_s=float(sc.sim.slot_s),
                     timing={"workload": round(t_wl - t_start, 3), "simulation": round(t_end - t_wl, 3),
                             "total": round(t_end - t_start, 3)})


def _split(orch: list[str], jobs: int) -> list[list[str]]:
    """Orchestrators per process: the edge orchestrator's (all servers, heavier) apart."""
    jobs = max(1, min(int(jobs), os.cpu_count() or 1, len(orch)))
    if jobs == 1 or len(orch) < 2:
        return [orch] if orch else []
    heavy = [o for o in orch if o.startswith("TWO_TIER_WITH_EO")]
    light = [o for o in orch if not o.startswith("TWO_TIER_WITH_EO")]
    if not heavy or not light:
        half = (len(orch) + 1) // 2
        return [orch[:half], orch[half:]]
    return [light, heavy]


def _collect(per_col, accounting, labels, figs, acc, n_wenv) -> None:
    for m, label in enumerate(labels):
        per_col[label] = figs[m * n_wenv:(m + 1) * n_wenv]
    key = "+".join(labels)
    accounting[key] = acc


def reference_check(res: EcsResult, reference: dict, fields: tuple[str, ...]) -> dict:
    """Compare figures with reference numbers {devices: {SCENARIO: tuple}}: per scenario and
    field, the Pearson correlation over device counts and the mean absolute difference."""
    out: dict = {}
    for scn in {s for d in reference.values() for s in d}:
        col = next((c for c in res.columns if c.split("/")[0] == scn), None)
        if col is None:
            continue
        ns = [n for n in res.devices if n in reference and scn in reference[n]]
        if len(ns) < 2:
            continue
        out[scn] = {}
        for i, f in enumerate(fields):
            ours = np.array([res.figures[col][n][f] for n in ns])
            ref = np.array([reference[n][scn][i] for n in ns])
            corr = float(np.corrcoef(ours, ref)[0, 1]) if ours.std() > 0 and ref.std() > 0 else float("nan")
            out[scn][f] = {"corr": corr, "mean_abs_diff": float(np.mean(np.abs(ours - ref))),
                           "ours": ours.round(4).tolist(), "reference": ref.tolist()}
    return out
