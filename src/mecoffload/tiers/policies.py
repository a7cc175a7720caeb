"""Tier policies: ``act(obs: TierObs, rng) -> (n,) VM index`` (or ``DEFER`` / ``REJECT``).

Registry: ``make_tier_policy(spec, scenario)``. Native policies are listed by
``tier_policies()``; any other name, or ``mec:NAME``, is a policy of the main registry
(``mecoffload.policies``) run through :mod:`.adapter` with every datacenter as a server
(e.g. ``oracle``, ``lacs``, ``mec:random``, ``mec:least-loaded``).

VM choice inside a tier (all policies): the feasible VM with the best score; when several
tasks of one environment pick from the same set in one pass, the k-th of them takes the
k-th best VM (round robin over the ranking), which is what choosing one after the other with
updated loads does for tasks of similar size. The engine's exact admission settles the rest.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..policies.base import PolicyError
from .config import TierScenario
from ..sim.arrays import group_rank
from .dynamics import DEFER, REJECT, TierObs
from .fuzzy import ALMUTAIRI, FLORES, SONMEZ_CLOUD, SONMEZ_EDGE

_TIER_REGISTRY: dict[str, tuple[Callable[[TierScenario, str | None], object], str]] = {}


def register_tier(name: str, help: str):
    def deco(factory):
        _TIER_REGISTRY[name] = (factory, help)
        return factory

    return deco


def tier_policies() -> dict[str, str]:
    """name -> description of the native tier policies (dl-tier included)."""
    from . import dlnet  # noqa: F401  (registers dl-tier; torch is imported only when it trains)

    return {k: v[1] for k, v in sorted(_TIER_REGISTRY.items())}


def make_tier_policy(spec: str, sc: TierScenario):
    """``name`` or ``name:arg`` of a native tier policy, else a main-registry policy via the adapter."""
    tier_policies()
    name, _, arg = spec.partition(":")
    if name == "mec":
        from .adapter import ObsPolicyAdapter

        if not arg:
            raise PolicyError("mec:NAME needs a policy of `mecoffload policies`, e.g. mec:least-loaded")
        pol = ObsPolicyAdapter(arg, sc)
    elif name in _TIER_REGISTRY:
        pol = _TIER_REGISTRY[name][0](sc, arg or None)
    else:
        from ..policies.base import available

        if name not in available():
            allowed = sorted(set(_TIER_REGISTRY) | set(available()))
            raise PolicyError(f"unknown tier policy '{name}' (allowed: {', '.join(allowed)}, or mec:NAME)")
        from .adapter import ObsPolicyAdapter

        pol = ObsPolicyAdapter(spec, sc)
    pol.name = spec
    return pol


# --------------------------------------------------------------------------- helpers


def pick(obs: TierObs, score: np.ndarray, allowed: np.ndarray, group: np.ndarray | None = None,
         drop: np.ndarray | None = None, max_slots: int = 8) -> np.ndarray:
    """Best feasible allowed VM by ``score`` (higher is better); ``REJECT`` where none is feasible.

    Rows of one environment choosing from the same ``group`` in one pass are served as if one
    after the other: VM v offers floor(free_v / required) slots and its j-th slot is worth
    score_v - j·drop_v; the k-th row (in task order) takes the k-th best slot. ``drop`` is the
    fall of the score per task placed: the required utilisation for least-loaded (water
    filling), 0 for a static score (fill the best VM first).
    """
    n = len(obs)
    ok = allowed & obs.vm_feasible
    n_ok = ok.sum(1)
    best = np.argmax(np.where(ok, score, -np.inf), axis=1)
    if n == 0:
        return np.zeros(0, np.int64)
    if group is None:
        group = np.zeros(n, np.int64)
    key = np.where(n_ok > 0, obs.env * (int(group.max(initial=0)) + 1) + group, -1)
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    rank = group_rank(key)
    if rank[n_ok > 0].max(initial=0) == 0:
        return np.where(n_ok > 0, best, REJECT)
    J = max_slots
    # slots of a VM: how many of the group's smallest tasks it can still take
    srt = np.argsort(inv, kind="stable")
    starts = np.searchsorted(inv[srt], np.arange(len(first)))
    req = np.maximum(np.minimum.reduceat(np.where(ok, obs.vm_req, np.inf)[srt], starts, axis=0), 1e-9)
    slots = np.clip(np.floor((obs.cpu_max - obs.vm_util[first]) / req + 1e-9), 0, J)  # (G,V)
    ok_g = np.logical_or.reduceat(ok[srt], starts, axis=0)
    d = np.zeros_like(req) if drop is None else drop[first]
    j = np.arange(J)
    val = score[first][:, :, None] - j[None, None, :] * d[:, :, None]  # (G,V,J)
    valid = ok_g[:, :, None] & (j[None, None, :] < slots[:, :, None])
    flat = np.where(valid, val, -np.inf).reshape(len(first), -1)
    order = np.argsort(-flat, axis=1, kind="stable")
    count = valid.reshape(len(first), -1).sum(1)
    c = count[inv]
    slot = order[inv, np.where(c > 0, rank % np.maximum(c, 1), 0)]
    v = slot // J
    own = ok[np.arange(n), v] & (c > 0)
    return np.where(n_ok > 0, np.where(own, v, best), REJECT)


def least_loaded(obs: TierObs, allowed: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """EdgeCloudSim's least-loaded VM: most free capacity (100 - utilisation), ties by index."""
    return pick(obs, -obs.vm_util - 1e-9 * np.arange(obs.n_vm), allowed, group, drop=obs.vm_req)


def mean_edge_util(obs: TierObs) -> np.ndarray:
    """(n,) mean utilisation (%) over all edge VMs of the row's environment."""
    edge = ~obs.lay.vm_cloud
    return obs.vm_util[:, edge].mean(1) if edge.any() else np.full(len(obs), 100.0)


class _Base:
    name = ""
    defers = False

    def __init__(self, sc: TierScenario, arg: str | None = None):
        self.sc = sc

    def reset(self, batch: int) -> None:
        pass


# --------------------------------------------------------------------------- baselines


@register_tier("random", "a uniformly random VM of any tier; fails if it cannot take the task (EdgeCloudSim RANDOM_FIT over all VMs)")
class TierRandom(_Base):
    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, obs.n_vm, len(obs))


@register_tier("utilization-based", "edge unless the mean edge VM utilisation exceeds 80% (then cloud); least-loaded VM (EdgeCloudSim UTILIZATION_BASED)")
class UtilizationBased(_Base):
    threshold = 80.0

    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        cloud = (mean_edge_util(obs) > self.threshold) & obs.lay.vm_cloud.any()
        allowed = np.where(cloud[:, None], obs.lay.vm_cloud[None, :], ~obs.lay.vm_cloud[None, :])
        return least_loaded(obs, allowed, cloud.astype(np.int64))


@register_tier("flores", "fuzzy edge/cloud choice of Flores et al. (EdgeCloudSim FUZZY_COMPETITOR) that ignores resource use; flores:util feeds it the edge CPU availability")
class Flores(_Base):
    def __init__(self, sc: TierScenario, arg: str | None = None):
        super().__init__(sc)
        if arg not in (None, "util"):
            raise PolicyError(f"flores argument '{arg}': only 'util' is allowed")
        self.use_util = arg == "util"

    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        cpu = 100.0 - mean_edge_util(obs) if self.use_util else np.full(len(obs), 100.0)
        data = np.minimum(obs.up_kb + obs.down_kb, 2500.0) / 2500.0
        cloud = (FLORES(cpu, data, obs.wan_uplink_mbps, obs.sens) > 50) & obs.lay.vm_cloud.any()
        allowed = np.where(cloud[:, None], obs.lay.vm_cloud[None, :], ~obs.lay.vm_cloud[None, :])
        return least_loaded(obs, allowed, cloud.astype(np.int64))


@register_tier("sonmez", "two-stage fuzzy workload orchestrator of Sonmez et al. (nearest/remote edge, then edge/cloud; EdgeCloudSim FUZZY_BASED)")
class Sonmez(_Base):
    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        lay = obs.lay
        n, N = len(obs), lay.n_edge
        r = np.arange(n)
        edge_util = obs.dc_util[:, :N]
        nearest = edge_util[r, obs.local_dc]
        remote = np.where(np.arange(N)[None, :] == obs.local_dc[:, None], np.inf, edge_util)
        best_remote = remote.argmin(1)
        best_remote_util = np.where(np.isfinite(remote.min(1)), remote.min(1), 100.0)
        go_remote = (SONMEZ_EDGE(nearest, best_remote_util, obs.man_delay_s) > 50) & (N > 1)
        host = np.where(go_remote, best_remote, obs.local_dc)
        host_util = np.where(go_remote, best_remote_util, nearest)
        cloud = (SONMEZ_CLOUD(host_util, obs.length_mi, obs.wan_uplink_mbps, obs.sens) > 50) & lay.vm_cloud.any()
        target = np.where(cloud, lay.n_dc - 1, host)
        allowed = lay.vm_dc[None, :] == target[:, None]
        return least_loaded(obs, allowed, target)


@register_tier("almutairi", "fuzzy tier choice from VM utilisation, task length, network demand and delay sensitivity (Almutairi & Aldossary); next tier if full")
class Almutairi(_Base):
    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        lay = obs.lay
        r = np.arange(len(obs))
        local_util = obs.dc_util[r, obs.local_dc]
        s = ALMUTAIRI.strengths(local_util, obs.length_mi, obs.up_kb + obs.down_kb, obs.sens)  # (n, 3)
        # remote edge = the least utilised other edge datacenter
        N = lay.n_edge
        remote = np.where(np.arange(N)[None, :] == obs.local_dc[:, None], np.inf, obs.dc_util[:, :N])
        best_remote = remote.argmin(1) if N > 1 else obs.local_dc
        dc_of_tier = np.stack([obs.local_dc, best_remote, np.full(len(obs), lay.n_dc - 1)], 1)
        has = np.array([True, N > 1, bool(lay.vm_cloud.any())])
        s = np.where(has[None, :], s, -1.0)
        prefs = np.argsort(-(s + 1e-6 * np.array([2, 1, 0])[None, :]), axis=1, kind="stable")  # ties: local first
        out = np.full(len(obs), REJECT)
        for j in range(3):  # preferred tier first, next tier if it has no feasible VM
            todo = out == REJECT
            if not todo.any():
                break
            t = prefs[:, j]
            dc = dc_of_tier[r, t]
            allowed = (lay.vm_dc[None, :] == dc[:, None]) & (s[r, t] >= 0)[:, None]
            cand = least_loaded(obs, allowed, dc)
            out = np.where(todo, cand, out)
        return out


@register_tier("least-utilized", "the least utilised feasible VM of any tier (a tier-blind load balancer)")
class LeastUtilized(_Base):
    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        return least_loaded(obs, np.ones((len(obs), obs.n_vm), bool))


@register_tier("min-service", "greedy: the feasible VM with the least estimated service time (upload + PS processing + download); defers when none meets the deadline")
class MinService(_Base):
    defers = True

    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        est = obs.est_service()
        meets = est <= obs.slack_s[:, None]
        a = pick(obs, -est, meets)
        return np.where(a == REJECT, DEFER, a)
