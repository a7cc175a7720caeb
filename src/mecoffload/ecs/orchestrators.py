"""EdgeCloudSim's orchestrators (:mod:`.rules`) as a tier policy of either three-tier engine.

:class:`EcsTierPolicy` (tier registry name ``ecs``, e.g. ``ecs:TWO_TIER_WITH_EO/NEXT_FIT``)
decides tier and VM together when the task arrives (the seed-002 engine has no separate VM
choice after the upload), row after row, with NEXT_FIT pointers kept per environment.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import PolicyError
from ..tiers.obs import REJECT
from .model import BASIC_POLICIES, EO_POLICIES
from .rules import (EDGE_UTIL_THRESHOLD_PCT, P_HYBRID, P_NET, P_UTIL, R_BEST, R_NEXT_DC, R_NEXT_EO, R_RANDOM_DC,
                    R_RANDOM_EO, R_WORST, SINGLE, WAN_BW_THRESHOLD_MBPS, edge_global, edge_rule, parse_orchestrator)

def wants_cloud(scn: int, pol: int, u: np.ndarray, p_cloud_pct: np.ndarray, wan_uplink_mbps: np.ndarray,
                edge_util_pct: np.ndarray) -> np.ndarray:
    """getDeviceToOffload for rows of one orchestrator: True = cloud."""
    if scn == SINGLE:
        return np.zeros(u.shape, bool)
    if pol < P_NET:
        return u * 100.0 < p_cloud_pct
    net = wan_uplink_mbps > WAN_BW_THRESHOLD_MBPS
    util = edge_util_pct > EDGE_UTIL_THRESHOLD_PCT
    return {P_NET: net, P_UTIL: util, P_HYBRID: net & util}[pol]


def selection_key(rule: np.ndarray, free: np.ndarray, vm_idx: np.ndarray, cyc_dc: np.ndarray | None,
                  cyc_eo: np.ndarray | None, drawn: np.ndarray | None) -> np.ndarray:
    """(n,V) key of each VM for each row: EdgeCloudSim's choice is the feasible VM with the
    lowest key. ``free`` = 100 - utilisation; ``cyc_*`` = cyclic distance after the NEXT_FIT
    pointer(s) (needed when such rules are present); ``drawn`` = the RANDOM_FIT VM of each row.

    FIRST_FIT: VM order; BEST_FIT: least free first (ties: first VM, EdgeCloudSim's strict <);
    WORST_FIT: most free first (strict >); NEXT_FIT: after the pointer; RANDOM_FIT: the drawn
    VM only; FIXED: any (the caller's VM list holds one VM)."""
    n, V = free.shape
    present = np.bincount(rule, minlength=8) > 0
    idx = vm_idx.astype(float) if vm_idx.ndim == 2 else vm_idx.astype(float)[None, :]
    vm2 = vm_idx if vm_idx.ndim == 2 else vm_idx[None, :]
    key = np.broadcast_to(idx, (n, V))
    big = 1e6
    if present[R_BEST]:
        key = np.where((rule == R_BEST)[:, None], np.round(free, 9) * big + idx, key)
    if present[R_WORST]:
        key = np.where((rule == R_WORST)[:, None], -np.round(free, 9) * big + idx, key)
    if present[R_NEXT_DC]:
        key = np.where((rule == R_NEXT_DC)[:, None], cyc_dc, key)
    if present[R_NEXT_EO]:
        key = np.where((rule == R_NEXT_EO)[:, None], cyc_eo, key)
    if present[R_RANDOM_DC] or present[R_RANDOM_EO]:
        rnd = (rule == R_RANDOM_DC) | (rule == R_RANDOM_EO)
        key = np.where(rnd[:, None], np.where(vm2 == drawn[:, None], 0.0, np.inf), key)
    return np.array(key, dtype=float)


class EcsTierPolicy:
    """An EdgeCloudSim orchestrator on the three-tier engine (``ecs:SCENARIO/POLICY``).

    Tier and VM are decided together when the task arrives (the tiers engine has no separate
    VM choice after the upload). NEXT_FIT pointers are kept per environment.
    """

    defers = False

    def __init__(self, sc, arg: str | None = None):
        if not arg:
            raise PolicyError("ecs needs SCENARIO/POLICY, e.g. ecs:TWO_TIER_WITH_EO/NEXT_FIT")
        self.scn, self.pol = parse_orchestrator(arg)
        self.rule = edge_rule(self.scn, self.pol)
        self.global_ = edge_global(self.scn, self.pol)
        self.p_cloud = np.array([a.prob_cloud_selection_pct for a in sc.apps], float)
        self.name = f"ecs:{arg}"
        self.reset(1)

    def reset(self, batch: int) -> None:
        self._batch = batch
        self.ptr_vm: np.ndarray | None = None
        self.ptr_dc = np.full(batch, -1, np.int64)

    def act(self, obs, rng: np.random.Generator) -> np.ndarray:
        lay = obs.lay
        n, V = len(obs), obs.n_vm
        if n == 0:
            return np.zeros(0, np.int64)
        N = lay.n_servers
        if self.ptr_vm is None or self.ptr_vm.shape[1] != N:
            self.ptr_vm = np.full((max(self._batch, int(obs.env.max()) + 1), N), -1, np.int64)
        if obs.env.max() >= self.ptr_vm.shape[0]:
            grow = int(obs.env.max()) + 1 - self.ptr_vm.shape[0]
            self.ptr_vm = np.vstack([self.ptr_vm, np.full((grow, N), -1, np.int64)])
            self.ptr_dc = np.concatenate([self.ptr_dc, np.full(grow, -1, np.int64)])
        vm_cloud = lay.vm_cloud
        has_cloud = bool(vm_cloud.any())
        wan_bw = obs.wan_uplink_mbps
        edge_util = obs.vm_util[:, ~vm_cloud].mean(1) if (~vm_cloud).any() else np.zeros(n)
        u = rng.random(n)
        cloud = wants_cloud(self.scn, self.pol, u, self.p_cloud[obs.app], wan_bw, edge_util) & has_cloud
        vm_dc = lay.vm_dc
        dc_size = np.bincount(vm_dc[~vm_cloud], minlength=N)
        pos = np.zeros(V, np.int64)
        for d in range(N):
            idx = np.flatnonzero(vm_dc == d)
            pos[idx] = np.arange(idx.size)
        out = np.full(n, REJECT, np.int64)
        vm_idx = np.arange(V)
        # rows one after the other (NEXT_FIT pointers and loads change with every choice)
        util = obs.vm_util.copy()
        for i in range(n):
            b = int(obs.env[i])
            free = 100.0 - util[i]
            feas = obs.vm_req[i] <= free + 1e-9
            if cloud[i]:
                allowed = vm_cloud
                rule = R_WORST
            else:
                allowed = ~vm_cloud & ((vm_dc == obs.local_dc[i]) if not self.global_ else True)
                rule = self.rule
            safe = np.where(vm_cloud, 0, vm_dc)
            cyc_dc = (pos - self.ptr_vm[b, safe] - 1) % np.maximum(dc_size[safe], 1)
            cyc_eo = ((safe - self.ptr_dc[b] - 1) % max(N, 1)) * (V + 1) + cyc_dc
            if rule == R_RANDOM_DC:
                cand = np.flatnonzero(allowed)
                drawn = cand[int(u[i] * cand.size) % cand.size]
            elif rule == R_RANDOM_EO:
                d = int(u[i] * N) % N
                cand = np.flatnonzero(vm_dc == d)
                drawn = cand[int((u[i] * N - d) * cand.size) % cand.size]
            else:
                drawn = -1
            key = selection_key(np.array([rule]), free[None, :], vm_idx, cyc_dc[None, :], cyc_eo[None, :],
                                np.array([drawn]))[0]
            key = np.where(allowed & feas, key, np.inf)
            v = int(np.argmin(key))
            if not np.isfinite(key[v]):
                continue
            out[i] = v
            util[obs.env == b, v] += obs.vm_req[i, v]
            if not vm_cloud[v] and rule in (R_NEXT_DC, R_NEXT_EO):
                self.ptr_vm[b, vm_dc[v]] = pos[v]
                if rule == R_NEXT_EO:
                    self.ptr_dc[b] = vm_dc[v]
        return out


def register_tier_policies() -> None:
    """Kept for callers of earlier releases: the tier registry declares ``ecs`` by name
    (:data:`mecoffload.tiers.policies.TIER_POLICIES`), nothing needs registering."""


__all__ = ["BASIC_POLICIES", "EO_POLICIES", "EcsTierPolicy", "parse_orchestrator", "register_tier_policies"]
