"""EdgeCloudSim semantics, vectorised over a batch of environments and over tasks.

A batch holds ``len(modes) x n_wenv`` environments: every mode (an EdgeCloudSim orchestrator
such as ``TWO_TIER/NEXT_FIT``, or a mecoffload tier policy) runs on every workload environment
(device count x seed; ``n_wenv`` of them) of a :class:`~mecoffload.tiers.workload.Workload`, so
all orchestrators see the same tasks and device movements (common random numbers) and a whole
EdgeCloudSim sweep (device counts x simulation scenarios x policies) is one batch. The world
(VMs, apps, workload, mobility) is the shared three-tier one (:mod:`mecoffload.tiers`,
``EcsScenario.to_tier_scenario``); what differs from the seed-002 engine is the semantics
below. Tier policies are called through :class:`~mecoffload.tiers.obs.TierPolicy` only.

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

Parts: :mod:`.network` (M/M/1 delays), :mod:`.mobility` (exact access points and device
counts), :mod:`.rules` (orchestrator codes), :mod:`.vmlists` and :mod:`.placement` (VM choice),
:mod:`.processing` (processor sharing), :mod:`.observe` (observations for tier policies).

Every task ends exactly once: completed or failed with a reason (``REASONS``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tiers.outcomes import (DONE, FAILED, FUTURE, PROCESSED, R_BW, R_MOBILITY, R_UNFINISHED, R_VM,  # noqa: F401
                               TaskRecord)
from ..tiers.workload import Layout, Workload
from .mobility import ApTimeline
from .model import EcsScenario
from .network import CLOUD_DOWN, CLOUD_UP, WLAN_DOWN, WLAN_UP, delay_table, mm1_parameters  # noqa: F401 (mm1_parameters re-exported)
from .observe import tier_obs
from .placement import VmPlacement
from .processing import VirtualTimeVms
from .rules import (EDGE_UTIL_THRESHOLD_PCT, P_HYBRID, P_NET, P_UTIL, R_FIXED, SINGLE, WAN_BW_THRESHOLD_MBPS,
                    edge_global, edge_rule, parse_orchestrator)
from .vmlists import VmLists

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


class EcsSim(VmPlacement, TaskRecord):
    """A batch of EdgeCloudSim runs. ``EcsSim(sc, workload, modes, seed).run()``; results in
    per-task arrays (``status``, ``reason``, ``tier``, times) and per-env VM load samples.
    ``tier_sc``: the scenario's three-tier world (default ``sc.to_tier_scenario()``)."""

    reasons = REASONS

    def __init__(self, sc: EcsScenario, wl: Workload, modes: list[Mode], seed: int = 0, tier_sc=None):
        self.sc, self.wl, self.modes = sc, wl, list(modes)
        self.dt = float(sc.sim.slot_s)
        self.horizon = float(sc.sim.simulation_time_s)
        self.tier_sc = tier_sc if tier_sc is not None else sc.to_tier_scenario()
        self.lay = Layout.from_scenario(self.tier_sc)
        self.lists = VmLists(self.lay)
        self.n_wenv = len(wl.envs)  # workload environments (device count x seed)
        n_modes = len(self.modes)
        self.B = n_modes * self.n_wenv
        self._app_tables()
        self._modes(n_modes)
        self._init_tasks(n_modes)
        self.mob = ApTimeline(wl, self.lists.n_servers, self.horizon + sc.sim.max_drain_s + 10.0)
        self.ap_sub = self._rep(self.mob.ap_at(wl.env, wl.device, wl.t_arr))
        self._init_draws(seed)
        self._init_state()
        self._lut = delay_table(sc, int(max(n for n, _ in wl.envs)))  # wlan up/down, wan up/down, cloud up/down
        self._tables()
        self._policy_rng = np.random.Generator(np.random.PCG64([seed, 0xEC6]))
        for pol_obj in self.ext_policies:
            if hasattr(pol_obj, "reset"):
                pol_obj.reset(self.B)
        self._stage1_static()

    def _app_tables(self) -> None:
        """Per app: VM utilisation needed on each VM (%, EdgeCloudSim's values as given), cloud
        selection probability (%), PEs, delay sensitivity."""
        apps = self.sc.active_apps()
        self.req_tab = np.array([[a.vm_util_cloud_pct if c else a.vm_util_edge_pct for c in self.lists.vm_cloud] for a in apps])
        self.p_cloud = np.array([a.prob_cloud_pct for a in apps])
        self.app_cores = self.lay.app_cores
        self.app_sens = self.lay.app_sens

    def _init_tasks(self, n_modes: int) -> None:
        """The workload's tasks, replicated per mode and sorted by arrival (env = mode·n_wenv + e)."""
        wl = self.wl
        T0 = wl.n_tasks
        order = np.argsort(np.tile(wl.t_arr, n_modes), kind="stable")

        def rep(a):
            return np.tile(a, n_modes)[order]

        self._rep = rep
        self.t_arr = rep(wl.t_arr)
        self.env = (np.repeat(np.arange(n_modes), T0) * self.n_wenv + np.tile(wl.env, n_modes))[order].astype(np.int64)
        self.env_w = self.env % self.n_wenv
        self.device = rep(wl.device).astype(np.int64)
        self.app = rep(wl.app).astype(np.int64)
        self.length = rep(wl.length_mi)
        self.up_kb = rep(wl.up_kb)
        self.down_kb = rep(wl.down_kb)
        self.n_tasks = self.t_arr.size

    def _init_draws(self, seed: int) -> None:
        """The orchestrators' random draws (cloud coin, RANDOM_FIT), per task, from a stream of
        each environment (devices, seed): an environment's results do not depend on its batch."""
        wl = self.wl
        u = np.empty((2, wl.n_tasks))
        for k, (n_d, env_seed) in enumerate(wl.envs):
            idx = np.flatnonzero(wl.env == k)
            rng = np.random.Generator(np.random.PCG64([seed, int(env_seed), int(n_d), 0xEC5]))
            u[:, idx] = rng.random((2, idx.size))
        self.u1, self.u2 = self._rep(u[0]), self._rep(u[1])

    def _init_state(self) -> None:
        """Per-task state, the VMs, NEXT_FIT pointers and the VM load samples."""
        T, B, vl = self.n_tasks, self.B, self.lists
        self._init_outcomes(T)
        self.fixed_vm = np.full(T, -1, np.int64)
        self.up_d = np.zeros(T)
        self.down_d = np.zeros(T)
        self.ap_ready = np.zeros(T, np.int64)
        self.pend = np.zeros(0, np.int64)
        self.pend_t = np.zeros(0)
        self.vms = VirtualTimeVms(vl.vm_cap, vl.vm_cores, B)
        self.ptr_vm = np.full((B, vl.n_servers), -1, np.int64)
        self.ptr_dc = np.full(B, -1, np.int64)
        self._scratch = np.full(max(B * vl.n_servers, B * vl.L), -1, np.int64)
        self.load_every = float(self.sc.sim.load_check_interval_s)
        self.next_sample = self.load_every
        self.load_edge = np.zeros(B)
        self.load_cloud = np.zeros(B)
        self.n_samples = 0
        self.edge_util_mean = np.zeros(B)
        self.k = 0
        self.passes = 0

    def _modes(self, n_modes: int) -> None:
        """Per mode: orchestrator codes (-1 for a tier policy) and its rules."""
        self.env_mode = np.repeat(np.arange(n_modes), self.n_wenv)
        scn, pol, ext = np.full(n_modes, -1), np.full(n_modes, -1), np.full(n_modes, -1)
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

    @property
    def has_cloud(self) -> bool:
        return self.lists.has_cloud

    def observe(self, ids: np.ndarray):
        """A :class:`~mecoffload.tiers.obs.TierObs` of tasks ``ids`` now (for tier policies)."""
        return tier_obs(self, ids)

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
        ap0 = self.mob.ap_at(wl.env, wl.device, wl.t_arr)
        n0 = self.mob.count_at(wl.env * self.lists.n_servers + ap0, wl.t_arr)
        ap_e0 = self.mob.ap_at(wl.env, wl.device, wl.t_arr + self._lut[WLAN_UP, n0])
        ap_c0 = self.mob.ap_at(wl.env, wl.device, wl.t_arr + np.where(np.isfinite(self._lut[CLOUD_UP, n0]), self._lut[CLOUD_UP, n0], 0.0))
        rep = self._rep
        n_at = rep(n0)[st]
        app = self.app[st]
        wup, cup = self._lut[WLAN_UP, n_at], self._lut[CLOUD_UP, n_at]
        cloud = self.m_random2[m[st]] & (self.u1[st] * 100.0 < self.p_cloud[app])
        net = pol[st] == P_NET
        if net.any():
            cloud[net] = np.where(np.isfinite(cup[net]), 1.0 / cup[net], 0.0) > WAN_BW_THRESHOLD_MBPS
        cloud &= self.lists.has_cloud
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
        d = self._lut[:, self.mob.count.reshape(self.n_wenv, self.lists.n_servers)]
        self.wlan_up, self.wlan_dn, self.wan_up, self.wan_dn, self.cloud_up, self.cloud_dn = d

    @property
    def t0(self) -> float:
        return self.k * self.dt

    def finished(self) -> bool:
        return (self.dyn_pos >= self.dyn.size and self.rq_pos >= self.rq.size and self.pend.size == 0
                and self.vms.n_running == 0)

    # ------------------------------------------------------------------ stage 1: creation

    def _arrive(self, ids: np.ndarray) -> None:
        """Creation of tasks whose tier depends on the state (UTILIZATION_BASED, HYBRID, tier
        policies): tier (and the policy's VM), upload delay, when the upload ends."""
        b, e, app, ap = self.env[ids], self.env_w[ids], self.app[ids], self.ap_sub[ids]
        m = self.env_mode[b]
        cloud = self.m_random2[m] & (self.u1[ids] * 100.0 < self.p_cloud[app])
        if self.any_eopol:
            pol = self.m_eopol[m]
            sel = pol >= 0
            if sel.any():
                up = self._lut[CLOUD_UP, self.mob.count_at(e[sel] * self.lists.n_servers + ap[sel], self.t_arr[ids[sel]])]
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
                a = np.asarray(policy.act(tier_obs(self, ids[sel]), self._policy_rng), dtype=np.int64)
                bad = (a < 0) | (a >= self.lists.n_vm)  # REJECT / DEFER: no VM (EdgeCloudSim has no waiting queue)
                if bad.any():
                    self.tier[ids[sel[bad]]] = EDGE
                    self._fail(ids[sel[bad]], R_VM, self.t_arr[ids[sel[bad]]])
                self.fixed_vm[ids[sel[~bad]]] = a[~bad]
                cloud[sel[~bad]] = self.lists.vm_cloud[a[~bad]]
            keep = self.status[ids] == FUTURE
            ids, e, ap, cloud = ids[keep], e[keep], ap[keep], cloud[keep]
        cloud &= self.lists.has_cloud
        n_at = self.mob.count_at(e * self.lists.n_servers + ap, self.t_arr[ids])
        up = np.where(cloud, self._lut[CLOUD_UP, n_at], self._lut[WLAN_UP, n_at])
        self.tier[ids] = cloud
        bad = ~np.isfinite(up)
        if bad.any():
            self._fail(ids[bad], R_BW, self.t_arr[ids[bad]])
            ids, up = ids[~bad], up[~bad]
        self.up_d[ids] = up
        tr = self.t_arr[ids] + up
        self.t_ready[ids] = tr
        self.ap_ready[ids] = self.mob.ap_at(self.env_w[ids], self.device[ids], tr)
        self.pend = np.concatenate([self.pend, ids])
        self.pend_t = np.concatenate([self.pend_t, tr])

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
        ap_now = self.mob.ap_at(e, dev, t_pe)
        n_at = self.mob.count_at(e * self.lists.n_servers + ap_now, t_pe)
        cloud = self.tier[task] == CLOUD
        dc = self.lists.vm_dc[self.vm[task]]
        lan = 2.0 * self.sc.network.lan_internal_delay_s
        down = np.where(cloud, self._lut[CLOUD_DOWN, n_at], self._lut[WLAN_DOWN, n_at] + np.where(dc != ap_now, lan, 0.0))
        bw = ~np.isfinite(down)
        t_fin = np.where(bw, t_pe, t_pe + down)
        mob = ~bw & (self.mob.ap_at(e, dev, t_fin) != self.ap_sub[task])
        ok = ~(bw | mob)
        self.down_d[task] = np.where(bw, 0.0, down)
        self._fail(task[bw], R_BW, t_pe[bw])
        self._fail(task[mob], R_MOBILITY, t_pe[mob])
        self.status[task[ok]] = DONE
        self.t_end[task[ok]] = t_fin[ok]

    # ------------------------------------------------------------------ epoch loop

    def step(self) -> None:
        """One step of Δt: creations (dynamic orchestrators), VM choice at upload end, service."""
        dt, t0 = self.dt, self.t0
        lo_end, t1 = t0 + dt / 2, t0 + dt
        if self.any_dyn:
            if self.mob.advance(t0):
                self._tables()
            if self.any_eopol or self.ext_policies:
                self.edge_util_mean = self.vms.util.reshape(self.B, self.lists.n_vm)[:, :self.lists.n_vm_edge].mean(1)
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
        for task, T in self.vms.serve(t1):
            self.t_pe[task] = np.maximum(T, self.t_ready[task])
            self.status[task] = PROCESSED
        self._sample_loads(t1)
        self.k += 1

    def _enter(self, g: np.ndarray, ids: np.ndarray, t0: float) -> None:
        app = self.app[ids]
        self.vms.enter(g, ids, self.app_cores[app], self.t_ready[ids], self.length[ids], self.req_tab[app, g % self.lists.n_vm], t0)

    def _sample_loads(self, t1: float) -> None:
        """EdgeCloudSim's VM load samples every ``load_check_interval_s`` before ``t1``."""
        V, Ve = self.lists.n_vm, self.lists.n_vm_edge
        while self.next_sample < t1 and self.next_sample < self.horizon:
            u = self.vms.util.reshape(self.B, V)
            if Ve:
                self.load_edge += u[:, :Ve].mean(1)
            if V > Ve:
                self.load_cloud += u[:, Ve:].mean(1)
            self.n_samples += 1
            self.next_sample += self.load_every

    def run(self) -> "EcsSim":
        """Steps until the simulation time, then until every task ended (at most ``max_drain_s``)."""
        n_h = int(np.ceil(self.horizon / self.dt - 1e-9))
        n_max = n_h + int(np.ceil(self.sc.sim.max_drain_s / self.dt))
        while self.k < n_max and (self.k < n_h or not self.finished()):
            self.step()
        if not self.finished():
            left = np.concatenate([self.pend, self.vms.p_task[:self.vms.n_running], self.rq[self.rq_pos:], self.dyn[self.dyn_pos:]])
            left = left[self.status[left] == FUTURE]
            self._fail(left, R_UNFINISHED, np.full(left.size, self.t0))
            self.pend = np.zeros(0, np.int64)
            self.vms.n_running = 0
        self._outcomes()
        return self
