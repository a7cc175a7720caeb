"""Run an imported EdgeCloudSim scenario's own sweep: every device count (min..max by step) x
iteration (seed) x orchestrator (simulation scenario x policy), plus any mecoffload policy.

All orchestrators of a run share one workload (tasks, device movements) per device count and
seed: common random numbers, so differences between columns are the orchestrators' own. The
sweep runs as **cells** through the batch runner (:mod:`mecoffload.eval.runner`): one cell per
EdgeCloudSim orchestrator, and one cell for all ``--policies`` together (they draw from one
policy stream, ``EcsSim._policy_rng``, so they stay in one batch). A cell is one vectorised
batch (:class:`~.engine.EcsSim`) over every (device count x seed) environment and regenerates
the shared workload from the seed. Environments never interact and the orchestrators' random
draws are per environment, so the numbers do not depend on how the columns are grouped, on the
runner's backend or on ``jobs`` (``tests/test_ecs_cli.py``). Seeded: the same seed gives the
same numbers (EdgeCloudSim seeds from the clock).

API::

    plan_ecs(sc, policies, seeds, seed, devices, orchestrators, slot_s) -> EcsPlan   # checks every name
    EcsPlan.cells() -> list[Cell];  EcsPlan.result(cell results, wall s) -> EcsResult
    ecs_cell(scenario, orchestrators, policies, counts, iters, seed, checkpoint_sha256) -> dict
    run_ecs(sc, policies, seeds, seed, devices, orchestrators, jobs, slot_s,
            runner=None, store=None, progress=None) -> EcsResult
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import PolicyError
from ..eval.runner import Cell, ProgressFn, Runner, check_unique
from ..eval.store import CellStore, check_fingerprint, fingerprint
from ..tiers.policies import make_tier_policy
from ..tiers.workload import Layout, generate, make_envs
from .engine import EcsSim, Mode
from .metrics import aggregate, check_accounting, env_figures
from .model import EcsScenario, validate_ecs_scenario

ECS_CELL = "mecoffload.ecs.runner:ecs_cell"


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


def ecs_cell(scenario: dict, orchestrators: list[str], policies: list[str], counts: list[int], iters: int, seed: int,
             checkpoint_sha256: list[str] | None = None) -> dict:
    """One cell: the given orchestrators and tier / mecoffload policies as one batch over every
    (device count x seed) environment; figures per column and device count, the accounting."""
    for spec, sha in zip(policies, checkpoint_sha256 or []):
        check_fingerprint(spec, sha)
    t0 = time.perf_counter()
    sc = validate_ecs_scenario(scenario)
    tier_sc = sc.to_tier_scenario(max(counts))
    wl = generate(tier_sc, Layout.from_scenario(tier_sc), make_envs(tier_sc, iters, seed, counts))
    t_wl = time.perf_counter()
    modes = [Mode.ecs(o) for o in orchestrators] + [Mode(label=p, policy=make_tier_policy(p, tier_sc)) for p in policies]
    sim = EcsSim(sc, wl, modes, seed=seed, tier_sc=tier_sc).run()  # DEFER / REJECT: no VM (see engine)
    acc = check_accounting(sim)
    figs, n_wenv = env_figures(sim), sim.n_wenv
    figures = {}
    for m, mode in enumerate(modes):
        envs_of = figs[m * n_wenv:(m + 1) * n_wenv]
        figures[mode.label] = {str(n): aggregate(envs_of[k * iters:(k + 1) * iters]) for k, n in enumerate(counts)}
    return {"figures": figures, "accounting": acc,
            "timing": {"workload": t_wl - t0, "simulation": time.perf_counter() - t_wl}}


@dataclass(frozen=True)
class EcsPlan:
    """A checked run-ecs sweep: what to run, as cells."""

    sc: EcsScenario
    counts: list[int]
    iters: int
    seed: int
    orchestrators: list[str]
    policies: list[str]

    @property
    def columns(self) -> list[str]:
        return self.orchestrators + self.policies

    def cells(self) -> list[Cell]:
        groups = [([o], []) for o in self.orchestrators] + ([([], self.policies)] if self.policies else [])
        dump = self.sc.model_dump()
        return [Cell(ECS_CELL, {"scenario": dump, "orchestrators": orch, "policies": pols, "counts": self.counts,
                                "iters": self.iters, "seed": self.seed,
                                "checkpoint_sha256": [fingerprint(p) for p in pols]},
                     label=f"{self.sc.name} {'+'.join(orch + pols)}")
                for orch, pols in groups]

    def result(self, results: list[dict], wall_s: float) -> EcsResult:
        """The sweep's :class:`EcsResult` from its cells' results (in the order of :meth:`cells`)."""
        figures: dict[str, dict[int, dict]] = {}
        accounting: dict[str, int] = {}
        timing = {"workload": 0.0, "simulation": 0.0}
        for res in results:
            for label, per_n in res["figures"].items():
                figures[label] = {int(n): f for n, f in per_n.items()}
            for k, v in res["accounting"].items():
                accounting[k] = accounting.get(k, 0) + v
            for k in timing:
                timing[k] += res["timing"][k]
        timing = {k: round(v, 3) for k, v in timing.items()} | {"total": round(wall_s, 3)}
        return EcsResult(scenario=self.sc.name, devices=list(self.counts), columns=self.columns,
                         figures={c: figures[c] for c in self.columns}, accounting={"+".join(self.columns): accounting},
                         seeds=self.iters, seed=self.seed, slot_s=float(self.sc.sim.slot_s), timing=timing)


def plan_ecs(sc: EcsScenario, policies: list[str] | tuple[str, ...] = (), seeds: int | None = None, seed: int = 0,
             devices: list[int] | None = None, orchestrators: list[str] | None = None,
             slot_s: float | None = None) -> EcsPlan:
    """Check a run-ecs sweep before any work: names known, none listed twice, something to run."""
    if slot_s is not None:
        sc = sc.model_copy(update={"sim": sc.sim.model_copy(update={"slot_s": float(slot_s)})})
    counts = [int(n) for n in (devices or sc.devices.counts())]
    orch = list(sc.orchestrators() if orchestrators is None else orchestrators)
    check_unique(orch + list(policies), "listed more than once")
    if not orch and not policies:
        raise PolicyError("nothing to run: the scenario has no supported orchestrator; give --policies")
    for o in orch:
        Mode.ecs(o)
    tier_sc = sc.to_tier_scenario(max(counts))
    for p in policies:
        make_tier_policy(p, tier_sc)
    return EcsPlan(sc, counts, int(seeds or sc.iterations), int(seed), orch, list(policies))


def run_ecs(sc: EcsScenario, policies: list[str] | tuple[str, ...] = (), seeds: int | None = None, seed: int = 0,
            devices: list[int] | None = None, orchestrators: list[str] | None = None, jobs: int = 1,
            slot_s: float | None = None, runner: Runner | None = None, store: CellStore | None = None,
            progress: ProgressFn | None = None) -> EcsResult:
    """The EdgeCloudSim sweep of ``sc`` (its orchestrators unless ``orchestrators`` is given)
    plus the tier / mecoffload ``policies``; ``seeds`` iterations per device count. The cells run
    on ``runner`` (default: ``jobs`` local processes); ``store`` keeps every finished cell."""
    t0 = time.perf_counter()
    plan = plan_ecs(sc, policies, seeds, seed, devices, orchestrators, slot_s)
    results = (runner or Runner(jobs=max(1, int(jobs)))).run(plan.cells(), store, progress)
    return plan.result(results, time.perf_counter() - t0)


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
