"""EdgeCloudSim semantics, vectorised over a batch of environments and over tasks.

A batch holds ``len(modes) x E`` environments: every mode (an EdgeCloudSim orchestrator such
as ``TWO_TIER/NEXT_FIT``, or a mecoffload tier policy) runs on every workload environment
(device count x seed) of a :class:`~mecoffload.tiers.workload.Workload`, so all orchestrators
see the same tasks and device movements (common random numbers) and a whole EdgeCloudSim sweep
(device counts x simulation scenarios x policies) is one batch.

Life of a task, as in EdgeCloudSim's DefaultMobileDeviceManager with the MM1Queue network
model (times in s):

1. created at ``t_arr`` at the device's access point ``ap_sub``; the orchestrator picks edge or
   cloud (getDeviceToOffload); upload delay = WLAN M/M/1 delay (edge) or WLAN + WAN (cloud);
   a failed upload (delay above ``fail_delay_s`` or unstable queue) fails the task
   (``bandwidth``);
2. at ``t_ready = t_arr + upload`` the orchestrator picks a VM (getVmToOffload) among the
   VMs whose utilisation + the task's requirement is <= 100 %, with the edge server of the
   access point the device is at *then* (SINGLE_TIER, TWO_TIER) or all edge servers
   (TWO_TIER_WITH_EO); none: the task fails (``vm_capacity``);
3. the VM runs it with CloudSim's time-shared scheduler: each PE of a task gets
   ``cores x MIPS / max(PEs in use, cores)`` MIPS and a task of L MI needs L MI per PE
   (exact processor sharing, event by event, with virtual finish times);
4. at the end of processing the result goes back: WLAN delay at the device's current access
   point (+ 2 x ``lan_internal_delay`` when the edge server is another access point's) or WLAN
   + WAN (cloud); a failed download fails the task (``bandwidth``); if the device is not at its
   original access point when the download ends, the task fails (``mobility``); else it is
   completed at ``t_end``.

Time advances in steps of ``sim.slot_s`` (default 0.25 s): tasks whose upload ends in
[t0 - Δ/2, t0 + Δ/2) are given a VM with the VM loads of time t0 (EdgeCloudSim: the loads of
the exact instant). Everything else is at exact times: arrivals, M/M/1 delays (device counts
at the instant), mobility, processor sharing, completions. What does not depend on the VM
loads (stage 1 of the coin and network orchestrators, downloads, mobility failures) is
computed for all tasks at once; the step loop only decides VMs and serves them.

The delay of an M/M/1 link at access point a with n_a devices there (all devices, active or
not, as EdgeCloudSim counts them) is ``1 / (mu - lambda n_a) + propagation``, with mu =
bandwidth / mean task size and lambda = 1 / mean inter-arrival, both computed from the
applications as EdgeCloudSim's MM1Queue computes them.

Every task ends exactly once: completed or failed with a reason (``REASONS``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..tiers.arrays import group_cumsum, run_cumsum, run_starts, search_right
from ..tiers.outcomes import DONE, FAILED, FUTURE, PROCESSED, R_BW, R_MOBILITY, R_UNFINISHED, R_VM
from .model import EcsScenario
from .orchestrators import (
    EDGE_UTIL_THRESHOLD_PCT, K_CONC, K_SINGLE, K_SPREAD, P_HYBRID, P_NET, P_UTIL, R_FIXED, R_NEXT_DC, R_NEXT_EO,
    R_RANDOM_DC, R_RANDOM_EO, R_WORST, RULE_KIND, SINGLE, WAN_BW_THRESHOLD_MBPS, edge_global, edge_rule,
    parse_orchestrator,
)

REASONS = ("vm_capacity", "bandwidth", "mobility", "unfinished")
"""the failure reasons of EdgeCloudSim's semantics (a subset of :data:`~mecoffload.tiers.outcomes.REASONS`)"""
PENDING = FUTURE
EDGE, CLOUD = 0, 1


@dataclass
class Mode:
    """One column of the comparison: an EdgeCloudSim orchestrator (``SCENARIO/POLICY``) or a
    tier policy object (``act(TierObs, rng)``, e.g. from ``make_tier_policy``)."""

    label: str
    orchestrator: str | None = None
    policy: object | None = None

    @classmethod
    def ecs(cls, spec: str) -> "Mode":
        parse_orchestrator(spec)
        return cls(label=spec, orchestrator=spec)


def mm1_parameters(sc: EcsScenario) -> dict:
    """EdgeCloudSim MM1Queue.initialize(): mean inter-arrival (WLAN, WAN) and mean task sizes.

    Reproduces EdgeCloudSim's arithmetic exactly, including its WAN mean, which accumulates the
    running WLAN sum (``WanPoissonMean += WlanPoissonMean * 100 / p_cloud * weight``) and is not
    divided by the number of applications."""
    wlan_mean = wan_mean = avg_in = avg_out = 0.0
    k = 0
    for a in sc.active_apps():
        w = a.usage_pct / 100.0
        wlan_mean += a.interarrival_s * w
        wan_mean += wlan_mean * (100.0 / a.prob_cloud_pct if a.prob_cloud_pct > 0 else np.inf) * w
        avg_in += a.upload_kb * w
        avg_out += a.download_kb * w
        k += 1
    return {"wlan_mean_s": wlan_mean / k, "wan_mean_s": wan_mean, "avg_in_kb": avg_in / k, "avg_out_kb": avg_out / k}



class EcsSim:
    """A batch of EdgeCloudSim runs. ``EcsSim(sc, workload, modes, seed).run()``; results in
    per-task arrays (``status``, ``reason``, ``tier``, times) and per-env VM load samples."""

    # selection keys (lower is chosen): BEST_FIT least free first, WORST_FIT most free first,
    # ties and FIRST_FIT by VM order (EdgeCloudSim's strict comparisons keep the first VM)
    RULE_FREE_COEF = np.array([0.0, 0.0, 0.0, 1e6, -1e6, 0.0, 0.0, 0.0])
    RULE_INDEX_KEY = np.array([True, False, False, True, True, False, False, True])

    def __init__(self, sc: EcsScenario, wl, modes: list[Mode], seed: int = 0, tier_sc=None):
        self.sc, self.wl, self.modes = sc, wl, list(modes)
        self.dt = float(sc.sim.slot_s)
        self.horizon = float(sc.sim.simulation_time_s)
        E = self.E = len(wl.envs)
        Mm = len(self.modes)
        B = self.B = Mm * E
        self._layout_arrays()
        N, V = self.N, self.V
        apps = sc.active_apps()
        self.req_tab = np.array([[a.vm_util_cloud_pct if c else a.vm_util_edge_pct for c in self.vm_cloud] for a in apps])
        self.p_cloud = np.array([a.prob_cloud_pct for a in apps])
        self.app_cores = np.array([a.required_cores for a in apps], float)
        self.app_sens = np.array([a.delay_sensitivity for a in apps])
        self._modes(Mm)
        self.tier_sc = tier_sc
        self._lay = None
        # ---------------------------------------------------------------- tasks (replicated per mode)
        T0 = wl.n_tasks
        order = np.argsort(np.tile(wl.t_arr, Mm), kind="stable")

        def rep(a):
            return np.tile(a, Mm)[order]

        self._rep = rep

        self.t_arr = rep(wl.t_arr)
        self.env = (np.repeat(np.arange(Mm), T0) * E + np.tile(wl.env, Mm))[order].astype(np.int64)
        self.env_w = self.env % E
        self.device = rep(wl.device).astype(np.int64)
        self.app = rep(wl.app).astype(np.int64)
        self.length = rep(wl.length_mi)
        self.up_kb = rep(wl.up_kb)
        self.down_kb = rep(wl.down_kb)
        self.n_tasks = T = self.t_arr.size
        # ---------------------------------------------------------------- mobility
        M = self.M = wl.init_ap.shape[1]
        self.init_ap = wl.init_ap.astype(np.int64)
        gid = wl.move_env.astype(np.int64) * M + wl.move_dev
        mo = np.lexsort((wl.move_t, gid))
        self.tspan = self.horizon + sc.sim.max_drain_s + 10.0
        self.m_gid = gid[mo]
        self.m_ap = wl.move_ap[mo].astype(np.int64)
        self.m_key = self.m_gid * self.tspan + wl.move_t[mo]
        prev_same = np.concatenate([[False], self.m_gid[1:] == self.m_gid[:-1]])
        from_ap = np.where(prev_same, np.concatenate([[0], self.m_ap[:-1]]), self.init_ap[wl.move_env[mo], wl.move_dev[mo]])
        to = np.argsort(wl.move_t[mo], kind="stable")  # time order, for the per-access-point counts
        self.mv_t = wl.move_t[mo][to]
        self.mv_from = (wl.move_env[mo] * N + from_ap)[to]
        self.mv_to = (wl.move_env[mo] * N + self.m_ap)[to]
        self.mv_pos = 0
        n_dev = np.array([n for n, _ in wl.envs])
        self.count = np.zeros(E * N, np.int64)
        for e in range(E):
            self.count[e * N:(e + 1) * N] = np.bincount(self.init_ap[e, :n_dev[e]], minlength=N)
        self.ap_sub = rep(self._ap_at(wl.env, wl.device, wl.t_arr))
        # device counts per (workload env, access point) at any instant (M/M/1 delays are exact)
        self.count0 = self.count.copy()
        ck = np.concatenate([self.mv_from, self.mv_to])
        cd = np.concatenate([-np.ones(self.mv_t.size, np.int64), np.ones(self.mv_t.size, np.int64)])
        ct = np.concatenate([self.mv_t, self.mv_t])
        o = np.lexsort((ct, ck))
        ck, cd, ct = ck[o], cd[o], ct[o]
        first = np.concatenate([[True], ck[1:] != ck[:-1]]) if ck.size else np.zeros(0, bool)
        cs = np.cumsum(cd)
        seg = np.maximum.accumulate(np.where(first, np.arange(ck.size), 0)) if ck.size else np.zeros(0, np.int64)
        self.c_k = ck
        self.c_key = ck * self.tspan + ct
        self.c_val = self.count0[ck] + cs - (cs[seg] - cd[seg])
        # the orchestrators' random draws (cloud coin, RANDOM_FIT), per task, from a stream of
        # each environment (devices, seed): an environment's results do not depend on its batch
        u = np.empty((2, T0))
        for k, (n_d, env_seed) in enumerate(wl.envs):
            idx = np.flatnonzero(wl.env == k)
            rng = np.random.Generator(np.random.PCG64([seed, int(env_seed), int(n_d), 0xEC5]))
            u[:, idx] = rng.random((2, idx.size))
        self.u1, self.u2 = rep(u[0]), rep(u[1])
        # ---------------------------------------------------------------- per-task state
        self.status = np.zeros(T, np.int8)
        self.reason = np.full(T, -1, np.int8)
        self.tier = np.full(T, -1, np.int8)
        self.vm = np.full(T, -1, np.int64)
        self.fixed_vm = np.full(T, -1, np.int64)
        self.t_ready = np.full(T, np.nan)
        self.t_pe = np.full(T, np.nan)
        self.t_end = np.full(T, np.nan)
        self.up_d = np.zeros(T)
        self.down_d = np.zeros(T)
        self.ap_ready = np.zeros(T, np.int64)
        self.pend = np.zeros(0, np.int64)
        self.pend_t = np.zeros(0)
        # ---------------------------------------------------------------- VM rows (env * V + v)
        Rn = self.Rn = B * V
        self.r_cap = np.tile(self.vm_cap, B)
        self.r_cores = np.tile(self.vm_cores, B)
        self.util = np.zeros(Rn)
        self.npes = np.zeros(Rn)
        self.cnt = np.zeros(Rn, np.int64)
        self.S_ref = np.zeros(Rn)  # virtual time (MI done per PE) at t_ref
        self.t_ref = np.zeros(Rn)
        self.rate = self.r_cap / self.r_cores  # MIPS per PE now
        self.sumFp = np.zeros(Rn)
        # running tasks: a dense, unsorted pool [0, n_running): VM row, virtual finish F, task, PEs, utilisation
        self.p_row = np.zeros(0, np.int64)
        self.p_F = np.zeros(0)
        self.p_task = np.zeros(0, np.int64)
        self.p_pes = np.zeros(0)
        self.p_util = np.zeros(0)
        self.n_running = 0
        # NEXT_FIT pointers
        self.ptr_vm = np.full((B, N), -1, np.int64)
        self.ptr_dc = np.full(B, -1, np.int64)
        # network (per workload env x access point)
        p = self.mm1 = mm1_parameters(sc)
        net = sc.network
        bps = np.array([net.wlan_mbps, net.wlan_mbps, net.wan_mbps, net.wan_mbps]) * 1e6 / 8.0
        size = np.array([p["avg_in_kb"], p["avg_out_kb"], p["avg_in_kb"], p["avg_out_kb"]]) * 1000.0
        self._mu = np.where(size > 0, bps / np.where(size > 0, size, 1.0), np.inf)[:, None, None]
        means = np.array([p["wlan_mean_s"], p["wlan_mean_s"], p["wan_mean_s"], p["wan_mean_s"]])
        ok = np.isfinite(means) & (means > 0)
        self._lam = np.where(ok, 1.0 / np.where(ok, means, 1.0), 0.0)[:, None, None]
        self._prop = np.array([0.0, 0.0, net.wan_propagation_s, net.wan_propagation_s])[:, None, None]
        # delays depend on the device count only: a table for every count, ``1 / (mu - lambda n)
        # + propagation``, inf where the transfer fails (unstable queue or slower than fail_delay_s)
        nmax = int(max(n for n, _ in wl.envs))
        cnt = np.arange(nmax + 1, dtype=float)[None, None, :]
        gap = self._mu - self._lam * cnt
        with np.errstate(divide="ignore"):
            d = np.where(gap > 0, 1.0 / np.where(gap > 0, gap, 1.0), np.inf) + self._prop
        d = np.where(d <= net.fail_delay_s, d, np.inf)[:, 0, :]
        self._lut = np.concatenate([d, d[0:1] + d[2:3], d[1:2] + d[3:4]])  # wlan up/down, wan up/down, cloud up/down
        self.count = self.count.astype(np.int64)
        self._scratch = np.full(max(B * N, B * self.L), -1, np.int64)
        self._tables()
        # VM load samples
        self.load_every = float(sc.sim.load_check_interval_s)
        self.next_sample = self.load_every
        self.load_edge = np.zeros(B)
        self.load_cloud = np.zeros(B)
        self.n_samples = 0
        self.edge_util_mean = np.zeros(B)
        self.k = 0
        self.rounds = 0
        self.passes = 0
        self._policy_rng = np.random.Generator(np.random.PCG64([seed, 0xEC6]))
        for pol_obj in self.ext_policies:
            if hasattr(pol_obj, "reset"):
                pol_obj.reset(B)
        self._stage1_static()

    def _layout_arrays(self) -> None:
        sc = self.sc
        vm_dc, cores, mips = [], [], []
        for d, e in enumerate(sc.edge):
            for h in e.hosts:
                for v in h.vms:
                    vm_dc.append(d), cores.append(v.cores), mips.append(v.mips)
        N = self.N = len(sc.edge)
        self.Ve = len(vm_dc)
        for _ in range(sc.cloud.n_vms):
            vm_dc.append(N), cores.append(sc.cloud.cores), mips.append(sc.cloud.mips)
        V = self.V = len(vm_dc)
        self.vm_dc = np.array(vm_dc, np.int64)
        self.vm_cloud = self.vm_dc == N
        self.has_cloud = bool(self.vm_cloud.any())
        self.vm_cores = np.array(cores, float)
        self.vm_cap = self.vm_cores * np.array(mips, float)
        self.dc_size = np.bincount(self.vm_dc[~self.vm_cloud], minlength=N)
        self.dc_first = np.concatenate([[0], np.cumsum(self.dc_size)[:-1]]).astype(np.int64)
        self.vm_pos = np.arange(V) - np.where(self.vm_cloud, self.Ve, self.dc_first[np.minimum(self.vm_dc, N - 1)])
        self.vm_dc_safe = np.where(self.vm_cloud, 0, self.vm_dc)
        self.dc_size_vm = np.maximum(self.dc_size[self.vm_dc_safe], 1)
        # decision lists: N per-datacenter lists, all edge VMs, the cloud VMs, then one per VM (a fixed choice)
        L = self.L = N + 2 + V
        lists = [np.flatnonzero(self.vm_dc == d) for d in range(N)]
        lists += [np.flatnonzero(~self.vm_cloud), np.flatnonzero(self.vm_cloud)] + [np.array([v]) for v in range(V)]
        W = max(len(x) for x in lists)
        self.list_vms = np.full((L, max(W, 1)), -1, np.int64)
        for i, x in enumerate(lists):
            self.list_vms[i, :len(x)] = x
        self.list_len = np.array([len(x) for x in lists])
        self.edge_block_start = self.dc_first.copy()  # columns of the all-edge list, one block per server
        self.edge_block = self.vm_dc[:self.Ve]
        self._edge_pos = self.vm_pos[:self.Ve]
        self._edge_size = self.dc_size_vm[:self.Ve]
        # NEXT_FIT cyclic distances: _cyc_lut[size, pointer + 1, position], _host_lut[pointer + 1, server]
        S = int(self.dc_size.max(initial=1))
        sz, pt, ps = np.meshgrid(np.arange(S + 1), np.arange(-1, S), np.arange(max(S, W)), indexing="ij")
        self._cyc_lut = np.where(sz > 0, (ps - pt - 1) % np.maximum(sz, 1), 0).astype(float)
        hp, hd = np.meshgrid(np.arange(-1, N), np.arange(N), indexing="ij")
        self._host_lut = ((hd - hp - 1) % max(N, 1)).astype(float)

    def _modes(self, Mm: int) -> None:
        E = self.E
        self.env_mode = np.repeat(np.arange(Mm), E)
        scn, pol, ext = np.full(Mm, -1), np.full(Mm, -1), np.full(Mm, -1)
        self.ext_policies = []
        for m, mode in enumerate(self.modes):
            if mode.orchestrator:
                scn[m], pol[m] = parse_orchestrator(mode.orchestrator)
            else:
                ext[m] = len(self.ext_policies)
                self.ext_policies.append(mode.policy)
        self.m_scn, self.m_pol, self.m_ext = scn, pol, ext
        self.m_rule = np.array([edge_rule(s, p) if s >= 0 else R_FIXED for s, p in zip(scn, pol)])
        self.m_global = np.array([edge_global(s, p) if s >= 0 else False for s, p in zip(scn, pol)])
        self.m_random2 = (scn > SINGLE) & (pol >= 0) & (pol < P_NET)
        self.m_eopol = np.where((scn > SINGLE) & (pol >= P_NET), pol, -1)
        self.any_eopol = bool((self.m_eopol >= 0).any())

    # ------------------------------------------------------------------ helpers

    def _ap_at(self, e: np.ndarray, dev: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Access point of device ``dev`` of workload env ``e`` at time ``t`` (exact)."""
        if not self.m_gid.size:
            return self.init_ap[e, dev]
        gid = e * self.M + dev
        k = search_right(self.m_key, gid * self.tspan + t) - 1
        kk = np.maximum(k, 0)
        ok = (k >= 0) & (self.m_gid[kk] == gid)
        return np.where(ok, self.m_ap[kk], self.init_ap[e, dev])

    def _count_at(self, k: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Devices at access point ``k`` (= workload env * N + access point) at time ``t``."""
        if not self.c_key.size:
            return self.count0[k]
        i = search_right(self.c_key, k * self.tspan + t) - 1
        ii = np.maximum(i, 0)
        return np.where((i >= 0) & (self.c_k[ii] == k), self.c_val[ii], self.count0[k])

    def _stage1_static(self) -> None:
        """Creation of every task whose orchestrator decides edge/cloud from exogenous data
        only (SINGLE_TIER, TWO_TIER*: a coin; NETWORK_BASED: the WAN probe), all at once:
        tier, upload delay (device count at the creation instant), bandwidth failures, the
        instant the upload ends and where the device is then. The others (UTILIZATION_BASED,
        HYBRID: the edge load; tier policies) are created step by step."""
        m = self.env_mode[self.env]
        pol = self.m_eopol[m]
        dyn = (self.m_ext[m] >= 0) | np.isin(pol, (P_UTIL, P_HYBRID))
        st = np.flatnonzero(~dyn)
        self.dyn = np.flatnonzero(dyn)
        self.dyn_t = self.t_arr[self.dyn]
        self.dyn_pos = 0
        self.any_dyn = bool(self.dyn.size)
        # lookups on the workload (the same for every mode), then replicated
        wl = self.wl
        ap0 = self._ap_at(wl.env, wl.device, wl.t_arr)
        n0 = self._count_at(wl.env * self.N + ap0, wl.t_arr)
        ap_e0 = self._ap_at(wl.env, wl.device, wl.t_arr + self._lut[0, n0])
        ap_c0 = self._ap_at(wl.env, wl.device, wl.t_arr + np.where(np.isfinite(self._lut[4, n0]), self._lut[4, n0], 0.0))
        rep = self._rep
        n_at = rep(n0)[st]
        app = self.app[st]
        wup, cup = self._lut[0, n_at], self._lut[4, n_at]
        cloud = self.m_random2[m[st]] & (self.u1[st] * 100.0 < self.p_cloud[app])
        net = pol[st] == P_NET
        if net.any():
            cloud[net] = np.where(np.isfinite(cup[net]), 1.0 / cup[net], 0.0) > WAN_BW_THRESHOLD_MBPS
        cloud &= self.has_cloud
        self.tier[st] = cloud
        up = np.where(cloud, cup, wup)
        bad = ~np.isfinite(up)
        if bad.any():
            self._fail(st[bad], R_BW, self.t_arr[st[bad]])
        keep = ~bad
        st, up = st[keep], up[keep]
        self.up_d[st] = up
        self.t_ready[st] = self.t_arr[st] + up
        self.ap_ready[st] = np.where(cloud[keep], rep(ap_c0)[st], rep(ap_e0)[st])
        self.rq = st[np.argsort(self.t_ready[st], kind="stable")]
        self.rq_t = self.t_ready[self.rq]
        self.rq_pos = 0

    def _tables(self) -> None:
        """M/M/1 delays per (workload env, access point) for the current device counts."""
        d = self._lut[:, self.count.reshape(self.E, self.N)]
        self.wlan_up, self.wlan_dn, self.wan_up, self.wan_dn, self.cloud_up, self.cloud_dn = d

    def _fail(self, ids: np.ndarray, reason: int, t: np.ndarray) -> None:
        self.status[ids] = FAILED
        self.reason[ids] = reason
        self.t_end[ids] = t

    @property
    def t0(self) -> float:
        return self.k * self.dt

    def finished(self) -> bool:
        return (self.dyn_pos >= self.dyn.size and self.rq_pos >= self.rq.size and self.pend.size == 0
                and self.n_running == 0)

    # ------------------------------------------------------------------ stage 1: creation

    def _arrive(self, ids: np.ndarray) -> None:
        b, e, app, ap = self.env[ids], self.env_w[ids], self.app[ids], self.ap_sub[ids]
        m = self.env_mode[b]
        cloud = self.m_random2[m] & (self.u1[ids] * 100.0 < self.p_cloud[app])
        if self.any_eopol:
            pol = self.m_eopol[m]
            sel = pol >= 0
            if sel.any():
                up = self._lut[4, self._count_at(e[sel] * self.N + ap[sel], self.t_arr[ids[sel]])]
                wan_bw = np.where(np.isfinite(up), 1.0 / up, 0.0)  # EdgeCloudSim's probe: 1 Mbit / delay
                net = wan_bw > WAN_BW_THRESHOLD_MBPS
                hot = self.edge_util_mean[b[sel]] > EDGE_UTIL_THRESHOLD_PCT
                ps = pol[sel]
                cloud[sel] = np.where(ps == P_NET, net, np.where(ps == P_UTIL, hot, net & hot))
        ext = self.m_ext[m]
        if self.ext_policies and (ext >= 0).any():
            for k, policy in enumerate(self.ext_policies):
                sel = np.flatnonzero(ext == k)
                if sel.size == 0:
                    continue
                a = np.asarray(policy.act(self.observe(ids[sel]), self._policy_rng), dtype=np.int64)
                bad = (a < 0) | (a >= self.V)  # REJECT / DEFER: no VM (EdgeCloudSim has no waiting queue)
                if bad.any():
                    self.tier[ids[sel[bad]]] = EDGE
                    self._fail(ids[sel[bad]], R_VM, self.t_arr[ids[sel[bad]]])
                self.fixed_vm[ids[sel[~bad]]] = a[~bad]
                cloud[sel[~bad]] = self.vm_cloud[a[~bad]]
            keep = self.status[ids] == PENDING
            ids, e, ap, cloud = ids[keep], e[keep], ap[keep], cloud[keep]
        cloud &= self.has_cloud
        n_at = self._count_at(e * self.N + ap, self.t_arr[ids])
        up = np.where(cloud, self._lut[4, n_at], self._lut[0, n_at])
        self.tier[ids] = cloud
        bad = ~np.isfinite(up)
        if bad.any():
            self._fail(ids[bad], R_BW, self.t_arr[ids[bad]])
            ids, up = ids[~bad], up[~bad]
        self.up_d[ids] = up
        tr = self.t_arr[ids] + up
        self.t_ready[ids] = tr
        self.ap_ready[ids] = self._ap_at(self.env_w[ids], self.device[ids], tr)
        self.pend = np.concatenate([self.pend, ids])
        self.pend_t = np.concatenate([self.pend_t, tr])

    # ------------------------------------------------------------------ stage 2: VM choice

    def _decide(self, ids: np.ndarray, entries: list) -> None:
        """getVmToOffload for tasks whose upload ends now, in time order.

        Tasks choosing from the same VM list of one environment are decided as one after the
        other: with NEXT_FIT and WORST_FIT the j-th task of the group takes the j-th VM of the
        order (with the edge orchestrator's NEXT_FIT, the next server; past the last VM the
        order wraps around), with FIRST_FIT and BEST_FIT the tasks are decided one per pass,
        RANDOM_FIT draws are independent. An exact admission check per VM (cumulative, in time
        order) follows; a task that lost a race is decided again in the next pass, on the
        updated loads. A task with no VM that can take it fails (``vm_capacity``)."""
        ids = ids[np.argsort(self.t_ready[ids], kind="stable")]
        N = self.N
        b = self.env[ids]
        m = self.env_mode[b]
        cloud = self.tier[ids] == CLOUD
        ap_now = self.ap_ready[ids]  # EdgeCloudSim looks the device up when the upload ends
        fixed = self.fixed_vm[ids]
        is_fixed = fixed >= 0
        list_id = np.where(is_fixed, N + 2 + fixed, np.where(cloud, N + 1, np.where(self.m_global[m], N, ap_now)))
        self._decide_lists(ids, b, list_id, is_fixed, cloud, m, entries)

    def _decide_lists(self, ids, b, list_id, is_fixed, cloud, m, entries) -> None:
        V, N = self.V, self.N
        rule = np.where(is_fixed, R_FIXED, np.where(cloud, R_WORST, self.m_rule[m]))
        gk = b * self.L + list_id
        o = np.argsort(gk, kind="stable")  # groups (environment x VM list) contiguous, time order inside
        ids, b, list_id, rule, gk = ids[o], b[o], list_id[o], rule[o], gk[o]
        n = ids.size
        kind = RULE_KIND[rule]
        # static per batch: candidate VMs (list columns), requirements, key parts
        W = int(self.list_len[list_id].max())
        cs = self.list_vms[list_id, :W]
        valid = cs >= 0
        cs = np.where(valid, cs, 0)
        rows = b[:, None] * V + cs
        req = self.req_tab[self.app[ids][:, None], cs]
        static = np.where(self.RULE_INDEX_KEY[rule][:, None], cs, 0).astype(float)
        coef = self.RULE_FREE_COEF[rule][:, None]
        rnd = (rule == R_RANDOM_DC) | (rule == R_RANDOM_EO)
        if rnd.any():
            u = self.u2[ids]
            eo = rule == R_RANDOM_EO
            d = np.where(eo, np.minimum((u * N).astype(np.int64), N - 1), np.minimum(list_id, N - 1))
            frac = np.where(eo, u * N - np.floor(u * N), u)
            drawn = self.dc_first[d] + np.minimum((frac * self.dc_size[d]).astype(np.int64), self.dc_size[d] - 1)
            static = np.where(rnd[:, None] & (cs != drawn[:, None]), np.inf, static)
        nxt_dc, nxt_eo = rule == R_NEXT_DC, rule == R_NEXT_EO
        nxt = nxt_dc | nxt_eo
        any_dc, any_eo = bool(nxt_dc.any()), bool(nxt_eo.any())
        wide_eo = nxt_eo & (W == self.Ve)
        todo = np.arange(n)
        while todo.size:
            self.passes += 1
            g_t = gk[todo]
            first = np.empty(todo.size, bool)
            first[0] = True
            np.not_equal(g_t[1:], g_t[:-1], out=first[1:])
            pos_t = np.arange(todo.size)
            start = np.maximum.accumulate(np.where(first, pos_t, 0))
            rank = pos_t - start
            sel = (kind[todo] != K_CONC) | (rank == 0)
            if sel.all():
                r, j, rest, st = todo, rank, todo[:0], start
            else:
                r, j, rest = todo[sel], rank[sel], todo[~sel]
                g_r = gk[r]
                f2 = np.concatenate([[True], g_r[1:] != g_r[:-1]])
                st = np.maximum.accumulate(np.where(f2, np.arange(r.size), 0))
            nr_ = r.size
            ar = np.arange(nr_)
            free = 100.0 - self.util[rows[r]]
            feas = valid[r] & (req[r] <= free + 1e-9)
            anyf = feas.any(1)
            key = static[r] + coef[r] * free
            if any_dc or any_eo:
                br = b[r]
                if any_dc:
                    sd = nxt_dc[r]
                    if sd.any():
                        li = list_id[r[sd]]
                        key[sd] = self._cyc_lut[self.dc_size[li], self.ptr_vm[br[sd], li] + 1, :W]
                if any_eo:
                    se = wide_eo[r]
                    if se.any():
                        be = br[se]
                        ptr = self.ptr_vm[be][:, self.edge_block]
                        cyc = (self._edge_pos[None, :] - ptr - 1) % self._edge_size[None, :]
                        host = self._host_lut[self.ptr_dc[be] + 1][:, self.edge_block]
                        key[se] = host * (V + 1) + cyc
            key = np.where(feas, key, np.inf)
            col = np.argmin(key, axis=1)
            # the j-th task of a NEXT_FIT / WORST_FIT group (counting those that can be placed at
            # all) takes the j-th VM of its order (the edge orchestrator's NEXT_FIT: the first VM
            # of the j-th server); past the last one the order wraps around
            spread = kind[r] == K_SPREAD
            jj = np.where(spread, j, 0)
            if jj.max(initial=0) > 0:
                ok = spread & anyf
                if not ok[spread].all():
                    cs_ = np.cumsum(ok)
                    jj = np.where(ok, cs_ - 1 - (cs_[st] - ok[st]), 0)
                sub = np.flatnonzero(jj > 0)
                if sub.size:
                    ks = key[sub]
                    we = wide_eo[r[sub]]
                    if we.any():
                        ke = ks[we]
                        hmin = np.minimum.reduceat(ke, self.edge_block_start, axis=1)
                        ks[we] = np.where(np.isfinite(ke) & (ke == hmin[:, self.edge_block]), ke, np.inf)
                    nf = np.maximum(np.isfinite(ks).sum(1), 1)
                    col[sub] = np.argsort(ks, axis=1)[np.arange(sub.size), jj[sub] % nf]
            has = np.isfinite(key[ar, col])
            single = kind[r] == K_SINGLE
            rej = ~anyf | (single & ~has)
            retry = ~rej & ~has
            c = np.flatnonzero(has)
            if c.size:
                rc = r[c]
                cc = col[c]
                vc = cs[rc, cc]
                g = b[rc] * V + vc
                rq = req[rc, cc]
                gs = np.sort(g)
                if (gs[1:] == gs[:-1]).any():  # several tasks chose one VM: admit them in time order while they fit
                    adm = group_cumsum(g, rq) <= free[c, cc] + 1e-9
                    over = c[~adm]
                    rej[over[single[over]]] = True
                    retry[over[~single[over]]] = True
                    rc, vc, g, rq = rc[adm], vc[adm], g[adm], rq[adm]
                if rc.size:
                    np.add.at(self.util, g, rq)
                    io = ids[rc]
                    self.vm[io] = vc
                    entries.append((g, io))
                    upd = nxt[rc] & ~self.vm_cloud[vc]
                    if upd.any():
                        ru, vu = rc[upd], vc[upd]
                        bu, du = b[ru], self.vm_dc[vu]
                        last = self._last(bu * N + du, ru)
                        self.ptr_vm[bu[last], du[last]] = self.vm_pos[vu[last]]
                        eo = nxt_eo[ru]
                        if eo.any():
                            last = self._last(bu[eo], ru[eo])
                            self.ptr_dc[bu[eo][last]] = du[eo][last]
            if rej.any():
                bad = ids[r[rej]]
                self._fail(bad, R_VM, self.t_ready[bad])
            todo = np.sort(np.concatenate([r[retry], rest])) if rest.size else r[retry]

    def _last(self, key: np.ndarray, order: np.ndarray) -> np.ndarray:
        """Mask of the rows holding, per key, the largest ``order`` (the last decision)."""
        scratch = self._scratch
        scratch[key] = -1
        np.maximum.at(scratch, key, order)
        return scratch[key] == order

    # ------------------------------------------------------------------ processing

    def _pool_arrays(self) -> tuple:
        return self.p_row, self.p_F, self.p_task, self.p_pes, self.p_util

    def _enter(self, g: np.ndarray, ids: np.ndarray, t0: float) -> None:
        """Tasks ``ids`` enter VM rows ``g`` at their t_ready (within half a step of t0): each
        gets the virtual finish time F = S(t_ready) + L of processor sharing."""
        # (rows can repeat: the right-hand sides use the old values, so repeats are harmless)
        self.S_ref[g] = self.S_ref[g] + self.rate[g] * (t0 - self.t_ref[g])
        self.t_ref[g] = t0
        p = self.app_cores[self.app[ids]]
        np.add.at(self.npes, g, p)
        np.add.at(self.cnt, g, 1)
        self.rate[g] = self.r_cap[g] / np.maximum(self.npes[g], self.r_cores[g])
        S = self.S_ref[g]
        F = np.maximum(S + self.rate[g] * (self.t_ready[ids] - t0) + self.length[ids], S)
        np.add.at(self.sumFp, g, F * p)
        n, k = self.n_running, ids.size
        if n + k > self.p_row.size:  # grow the pool (tasks in [0, n) are running)
            cap = max(2 * self.p_row.size, n + k, 1024)
            self.p_row, self.p_F, self.p_task, self.p_pes, self.p_util = (
                np.concatenate([a, np.zeros(cap - a.size, a.dtype)]) for a in self._pool_arrays())
        s = slice(n, n + k)
        self.p_row[s], self.p_F[s], self.p_task[s], self.p_pes[s] = g, F, ids, p
        self.p_util[s] = self.req_tab[self.app[ids], g % self.V]
        self.n_running = n + k

    def _serve(self, t1: float) -> list:
        """Completions before t1 (exact processor sharing); returns [(task ids, t_pe)].

        A task completes when its VM's virtual time S reaches its F. Candidates are the tasks
        with F <= S(t1) at the current rate; on one VM they complete in F order and each one
        speeds the others up (rate = capacity / max(PEs, cores)), so their times follow from
        a cumulative sum per VM; new candidates can appear after that, hence the loop."""
        done = []
        while self.n_running:
            n = self.n_running
            S1 = self.S_ref + self.rate * (t1 - self.t_ref)
            cand = np.flatnonzero(self.p_F[:n] <= S1[self.p_row[:n]])
            if cand.size == 0:
                break
            self.rounds += 1
            row, F = self.p_row[cand], self.p_F[cand]
            o = np.lexsort((F, row))
            cand, row, F = cand[o], row[o], F[o]
            pes = self.p_pes[cand]
            first = np.empty(cand.size, bool)
            first[0] = True
            np.not_equal(row[1:], row[:-1], out=first[1:])
            seg = np.flatnonzero(first)
            seg_id = np.cumsum(first) - 1
            cp = np.cumsum(pes)
            before = cp - pes - (cp[seg] - pes[seg])[seg_id]  # PEs of this VM's candidates completing earlier
            rate = self.r_cap[row] / np.maximum(self.npes[row] - before, self.r_cores[row])
            prevF = np.where(first, self.S_ref[row], np.concatenate([[0.0], F[:-1]]))
            dT = (F - prevF) / rate
            T = self.t_ref[row] + dT
            pos = np.arange(cand.size) - seg[seg_id]
            for k in range(1, int(pos.max(initial=0)) + 1):  # completion times, VM by VM (exact per VM)
                i = np.flatnonzero(pos == k)
                T[i] = T[i - 1] + dT[i]
            done.append((self.p_task[cand], T))
            last = np.concatenate([seg[1:] - 1, [cand.size - 1]])
            rl = row[last]
            self.S_ref[rl] = F[last]
            self.t_ref[rl] = T[last]
            np.subtract.at(self.npes, row, pes)
            np.subtract.at(self.util, row, self.p_util[cand])
            np.subtract.at(self.sumFp, row, F * pes)
            np.subtract.at(self.cnt, row, 1)
            self.rate[rl] = self.r_cap[rl] / np.maximum(self.npes[rl], self.r_cores[rl])
            empty = rl[self.cnt[rl] == 0]
            if empty.size:  # no rounding drift on idle VMs
                self.util[empty] = 0.0
                self.npes[empty] = 0.0
                self.sumFp[empty] = 0.0
                self.rate[empty] = self.r_cap[empty] / self.r_cores[empty]
            # keep the pool dense: the last running tasks move into the freed slots
            m = n - cand.size
            holes = cand[cand < m]
            if holes.size:
                keep = np.ones(n - m, bool)
                keep[cand[cand >= m] - m] = False
                movers = np.flatnonzero(keep) + m
                for arr in self._pool_arrays():
                    arr[holes] = arr[movers]
            self.n_running = m
        return done

    # ------------------------------------------------------------------ results

    def _outcomes(self) -> None:
        """Downloads and mobility of every processed task (exogenous given the end of processing,
        so computed once, vectorised, after the run): the delay at the access point the device is
        at when processing ends (device count then), a bandwidth failure if it fails, a mobility
        failure if the device is not at its original access point when the download ends."""
        task = np.flatnonzero(self.status == PROCESSED)
        if task.size == 0:
            return
        t_pe = self.t_pe[task]
        e, dev = self.env_w[task], self.device[task]
        ap_now = self._ap_at(e, dev, t_pe)
        n_at = self._count_at(e * self.N + ap_now, t_pe)
        cloud = self.tier[task] == CLOUD
        dc = self.vm_dc[self.vm[task]]
        lan = 2.0 * self.sc.network.lan_internal_delay_s
        down = np.where(cloud, self._lut[5, n_at], self._lut[1, n_at] + np.where(dc != ap_now, lan, 0.0))
        bw = ~np.isfinite(down)
        t_fin = np.where(bw, t_pe, t_pe + down)
        mob = ~bw & (self._ap_at(e, dev, t_fin) != self.ap_sub[task])
        ok = ~(bw | mob)
        self.down_d[task] = np.where(bw, 0.0, down)
        self._fail(task[bw], R_BW, t_pe[bw])
        self._fail(task[mob], R_MOBILITY, t_pe[mob])
        self.status[task[ok]] = DONE
        self.t_end[task[ok]] = t_fin[ok]

    # ------------------------------------------------------------------ observation for tier policies

    def layout(self):
        if self._lay is None:
            from ..tiers.workload import Layout

            if self.tier_sc is None:
                self.tier_sc = self.sc.to_tier_scenario()
            self._lay = Layout.from_scenario(self.tier_sc)
        return self._lay

    def observe(self, ids: np.ndarray):
        """A :class:`~mecoffload.tiers.dynamics.TierObs` of tasks ``ids`` now (for tier policies)."""
        from ..tiers.dynamics import TierObs

        V, N = self.V, self.N
        lay = self.layout()
        b, e, app = self.env[ids], self.env_w[ids], self.app[ids]
        ap = self.ap_sub[ids]
        n = ids.size
        rows = b[:, None] * V + np.arange(V)[None, :]
        util = self.util[rows]
        req = self.req_tab[app]
        p = self.app_cores[app]
        t0 = self.t0
        S = self.S_ref[rows] + self.rate[rows] * (t0 - self.t_ref[rows])
        backlog = np.maximum(self.sumFp[rows] - S * self.npes[rows], 0.0)
        rate_if = self.r_cap[rows] / np.maximum(self.npes[rows] + p[:, None], self.r_cores[rows])
        D = N + (1 if self.has_cloud else 0)
        lan = 2.0 * self.sc.network.lan_internal_delay_s
        local = np.arange(N)[None, :] == ap[:, None]
        up = np.repeat(self.wlan_up[e, ap][:, None], D, 1)
        dn = np.where(local, self.wlan_dn[e, ap][:, None], self.wlan_dn[e, ap][:, None] + lan)
        if self.has_cloud:
            up[:, N] = self.cloud_up[e, ap]
            dn = np.concatenate([dn, self.cloud_dn[e, ap][:, None]], 1)
        mbit = (self.up_kb[ids] * 8e-3)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            bw = np.where(np.isfinite(up) & (up > 0), mbit / up, 0.0)
        dc_of = np.eye(D)[self.vm_dc]
        dc_util = (util @ dc_of) / np.maximum(dc_of.sum(0), 1)[None, :]
        probe = self.cloud_up[e, ap] if self.has_cloud else np.full(n, np.inf)
        kw = dict(
            env=b, task=ids, device=self.device[ids], app=app, length_mi=self.length[ids], up_kb=self.up_kb[ids],
            down_kb=self.down_kb[ids], sens=self.app_sens[app],
            slack_s=np.full(n, np.inf), wait_s=np.zeros(n), cores=p, mem_mb=np.zeros(n), local_dc=ap,
            vm_util=util, vm_req=req, vm_feasible=(req <= 100.0 - util + 1e-9) & (p[:, None] <= self.r_cores[rows]),
            vm_jobs=self.cnt[rows].astype(float), vm_backlog_mi=backlog, proc_est=self.length[ids][:, None] / rate_if,
            up_est=up, down_est=dn, uplink_mbps=bw, dc_util=dc_util, man_delay_s=np.full(n, lan),
            wan_uplink_mbps=np.where(np.isfinite(probe), 1.0 / probe, 0.0), t_now=t0, cpu_max=100.0, lay=lay,
        )
        names = {f.name for f in fields(TierObs)}
        return TierObs(**{k: v for k, v in kw.items() if k in names})

    # ------------------------------------------------------------------ epoch loop

    def step(self) -> None:
        dt, t0 = self.dt, self.t0
        lo_end, t1 = t0 + dt / 2, t0 + dt
        if self.any_dyn:
            hi = int(np.searchsorted(self.mv_t, t0, side="right"))
            if hi > self.mv_pos:
                s = slice(self.mv_pos, hi)
                np.subtract.at(self.count, self.mv_from[s], 1)
                np.add.at(self.count, self.mv_to[s], 1)
                self.mv_pos = hi
                self._tables()
            if self.any_eopol or self.ext_policies:
                self.edge_util_mean = self.util.reshape(self.B, self.V)[:, :self.Ve].mean(1)
            if self.dyn_pos < self.dyn.size:
                a1 = int(np.searchsorted(self.dyn_t, lo_end, side="left"))
                if a1 > self.dyn_pos:
                    self._arrive(self.dyn[self.dyn_pos:a1])
                    self.dyn_pos = a1
        ready = None
        if self.rq_pos < self.rq.size:
            a1 = int(np.searchsorted(self.rq_t, lo_end, side="left"))
            if a1 > self.rq_pos:
                ready = self.rq[self.rq_pos:a1]
                self.rq_pos = a1
        if self.pend.size:
            rdy = self.pend_t < lo_end
            if rdy.any():
                more = self.pend[rdy]
                self.pend, self.pend_t = self.pend[~rdy], self.pend_t[~rdy]
                ready = more if ready is None else np.concatenate([ready, more])
        if ready is not None and ready.size:
            entries: list = []
            self._decide(ready, entries)
            if entries:
                self._enter(np.concatenate([x[0] for x in entries]), np.concatenate([x[1] for x in entries]), t0)
        for task, T in self._serve(t1):
            self.t_pe[task] = np.maximum(T, self.t_ready[task])
            self.status[task] = PROCESSED
        while self.next_sample < t1 and self.next_sample < self.horizon:
            u = self.util.reshape(self.B, self.V)
            if self.Ve:
                self.load_edge += u[:, :self.Ve].mean(1)
            if self.V > self.Ve:
                self.load_cloud += u[:, self.Ve:].mean(1)
            self.n_samples += 1
            self.next_sample += self.load_every
        self.k += 1

    def run(self) -> "EcsSim":
        n_h = int(np.ceil(self.horizon / self.dt - 1e-9))
        n_max = n_h + int(np.ceil(self.sc.sim.max_drain_s / self.dt))
        while self.k < n_max and (self.k < n_h or not self.finished()):
            self.step()
        if not self.finished():
            left = np.concatenate([self.pend, self.p_task[:self.n_running], self.rq[self.rq_pos:], self.dyn[self.dyn_pos:]])
            left = left[self.status[left] == PENDING]
            self._fail(left, R_UNFINISHED, np.full(left.size, self.t0))
            self.pend = np.zeros(0, np.int64)
            self.n_running = 0
        self._outcomes()
        return self
