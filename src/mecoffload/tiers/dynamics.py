"""Three-tier engine, vectorised over a batch of B environments and over tasks.

Semantics (time in s, work in MI, data in KB, bandwidth in Mbps):

* **Epochs.** Decisions happen every Δt (``sim.slot_s``): at epoch start t0 the orchestrator
  decides every task arriving in [t0, t0 + Δt) plus the deferred ones, from the system state
  at t0 (EdgeCloudSim refreshes VM loads every ``vm_load_check_interval``, 0.1 s). A task is
  dispatched at max(arrival, t0) and uploaded from then on; execution is continuous in time.
* **Sequential decisions, vectorised.** A batch is decided in passes. In each pass the policy
  acts on every pending task at once (one row per task, :class:`TierObs`); admissions are then
  applied in task order, exactly, per VM: a VM accepts a task if its utilisation plus the
  task's required utilisation is <= ``admission.cpu_max_pct`` (C3) and its memory suffices
  (C4). A task whose VM was already infeasible in the state the policy saw fails
  (``vm_capacity``, EdgeCloudSim semantics); one that lost a race to an earlier task of the
  same pass is decided again in the next pass, which sees the updated state. A policy may
  return ``DEFER`` (overflow queue, Algorithm 1 of seed 002: decided again next epoch) or
  ``REJECT`` (fails ``vm_capacity``).
* **Network.** Upload delay is fixed at dispatch, download delay at the end of processing,
  from the link state then (:mod:`.network`). A transfer over its link's ``fail_delay_s``
  fails (``bandwidth``).
* **VMs.** CloudSim's time-shared scheduler: a VM with c cores of m MIPS gives each running
  task of p cores the rate p·c·m / max(Σp, c): exact processor sharing with a per-core cap,
  computed event by event inside the epoch (tasks enter the moment their upload ends).
* **Failures.** ``vm_capacity`` (rejected, infeasible VM, deferred past
  ``overflow.max_wait_s`` / its deadline, or deferred into a full overflow queue of
  ``overflow.max_tasks``), ``bandwidth``, ``deadline`` (result not back by
  arrival + deadline_s; with ``abort_on_deadline`` a running task is aborted at the end of
  the epoch in which its deadline passes), ``mobility`` (the device left the access point of
  an edge task before the result came back), ``unfinished`` (still running after
  ``sim.max_drain_s``; 0 in practice). Every task ends exactly once: completed or failed.

No per-task Python objects: tasks live in flat arrays, running tasks in fixed-width per-VM
arrays that grow when full.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..sim.arrays import group_rank

from .arrays import group_cumsum, grow_last, scatter_add
from .config import TierScenario
from .network import KB_TO_MBIT, MAN, WAN, WLAN, LinkLayout, hop_delay
from .outcomes import (DONE, FAILED, FUTURE, OVERFLOW, R_BW, R_DEADLINE, R_MOBILITY, R_UNFINISHED, R_VM, REASONS,  # noqa: F401
                       RUNNING, TIERS, UPLOAD)
from .workload import Layout, Workload, env_rngs, generate, make_envs

DEFER, REJECT = -1, -2
MAX_PASSES = 16


@dataclass
class TierObs:
    """What a tier policy sees: one row per pending task (rows of several envs may mix).

    Per-VM columns are the VMs of the row's environment, numbered as in :class:`Layout`;
    per-datacenter columns are edge datacenters 0..N-1 then the cloud.
    """

    env: np.ndarray  # (n,)
    task: np.ndarray  # (n,) task id
    device: np.ndarray  # (n,)
    app: np.ndarray  # (n,)
    length_mi: np.ndarray  # (n,) L, MI
    up_kb: np.ndarray  # (n,) D_up, KB
    down_kb: np.ndarray  # (n,) D_down, KB
    sens: np.ndarray  # (n,) delay sensitivity T_s
    slack_s: np.ndarray  # (n,) time left until the task is due (arrival + deadline_s), s (inf = none)
    wait_s: np.ndarray  # (n,) time waited since arrival (deferred tasks), s
    cores: np.ndarray  # (n,) required cores
    mem_mb: np.ndarray  # (n,)
    local_dc: np.ndarray  # (n,) the device's access point = its local edge datacenter
    vm_util: np.ndarray  # (n,V) VM utilisation (%), incl. reservations
    vm_req: np.ndarray  # (n,V) utilisation (%) this task needs on each VM
    vm_feasible: np.ndarray  # (n,V) bool: C3 and C4 hold and enough cores
    vm_jobs: np.ndarray  # (n,V) tasks assigned (uploading or running)
    vm_backlog_mi: np.ndarray  # (n,V) remaining work assigned to the VM, MI
    proc_est: np.ndarray  # (n,V) processing time if placed now (PS share), s
    up_est: np.ndarray  # (n,D) upload delay to each datacenter now, s (inf: would fail)
    down_est: np.ndarray  # (n,D) download delay from each datacenter now, s
    uplink_mbps: np.ndarray  # (n,D) bottleneck per-transfer bandwidth towards each datacenter, Mbps
    dc_util: np.ndarray  # (n,D) mean utilisation of the datacenter's VMs (%)
    man_delay_s: np.ndarray  # (n,) MAN delay of a 1 Mbit transfer (incl. propagation), s
    wan_uplink_mbps: np.ndarray  # (n,) WAN per-transfer bandwidth now (EdgeCloudSim's 1 Mbit probe), Mbps
    t_now: float
    cpu_max: float  # admission threshold CPU_max (%)
    lay: Layout

    def __len__(self) -> int:
        return self.env.shape[0]

    @property
    def n_vm(self) -> int:
        return self.vm_util.shape[1]

    @property
    def tier_dc(self) -> np.ndarray:
        """(n,D) tier of every datacenter for this row: 0 local edge, 1 remote edge, 2 cloud."""
        d = np.arange(self.lay.n_dc)
        t = np.where(self.lay.dc_cloud[d][None, :], 2, np.where(d[None, :] == self.local_dc[:, None], 0, 1))
        return t

    @property
    def tier_vm(self) -> np.ndarray:
        """(n,V) tier of every VM for this row."""
        return self.tier_dc[:, self.lay.vm_dc]

    def est_service(self) -> np.ndarray:
        """(n,V) estimated service time if placed on each VM now: upload + processing + download, s."""
        d = self.lay.vm_dc
        return self.up_est[:, d] + self.proc_est + self.down_est[:, d]

    def take(self, idx: np.ndarray) -> "TierObs":
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = v[idx] if isinstance(v, np.ndarray) else v
        return TierObs(**kw)



class TierSim:
    """State of B environments of one tier scenario plus the transition functions.

    ``TierSim(sc, envs)`` with envs a list of (devices, seed) (see ``make_envs``) draws the
    workload (or reuses ``workload``); ``step`` runs one epoch with a policy; ``run`` runs to
    the end (horizon + drain).
    """

    def __init__(self, sc: TierScenario, envs: list[tuple[int, int]] | None = None, workload: Workload | None = None,
                 layout: Layout | None = None):
        self.sc = sc
        self.lay = layout or Layout.from_scenario(sc)
        self.links = LinkLayout.from_scenario(sc)
        if workload is None:
            workload = generate(sc, self.lay, envs if envs is not None else make_envs(sc, 1, 0))
        self.wl = workload
        self.envs = list(workload.envs)
        self.B = batch = len(self.envs)
        wl, lay, B = self.wl, self.lay, batch
        T, V, L = wl.n_tasks, lay.n_vm, self.links.n_links
        self.dt = sc.sim.slot_s
        self.k = 0
        self.next_task = 0
        # per task
        self.status = np.zeros(T, np.int8)
        self.reason = np.full(T, -1, np.int8)
        self.vm = np.full(T, -1, np.int64)  # env-global VM row env*V + v
        self.dc = np.full(T, -1, np.int64)
        self.tier = np.full(T, -1, np.int8)
        self.ap_sub = np.full(T, -1, np.int64)
        self.t_disp = np.full(T, np.nan)
        self.t_ready = np.full(T, np.nan)
        self.t_pe = np.full(T, np.nan)
        self.t_end = np.full(T, np.nan)
        self.net_up = np.zeros(T)
        self.net_down = np.zeros(T)
        self.req_u = np.zeros(T)
        self.cores = lay.app_cores[wl.app]
        self.mem = lay.app_mem[wl.app]
        # per VM row (env*V + v)
        self.vm_cores = np.tile(lay.vm_cores, B)
        self.vm_capacity = np.tile(lay.vm_capacity, B)
        self.vm_ram = np.tile(lay.vm_ram, B)
        self.util_res = np.zeros(B * V)
        self.mem_res = np.zeros(B * V)
        self.assigned = np.zeros(B * V)
        self.pes_assigned = np.zeros(B * V)
        self.len_pending = np.zeros(B * V)
        Q = 8
        self.jw = np.zeros((B * V, Q))  # remaining work per core, MI
        self.jp = np.zeros((B * V, Q))  # cores
        self.ju = np.zeros((B * V, Q))  # utilisation %
        self.jid = np.full((B * V, Q), -1, np.int64)
        self.jn = np.zeros(B * V, np.int64)
        # lists
        self.up_ids = np.zeros(0, np.int64)
        self.ov_ids = np.zeros(0, np.int64)
        # links (env*L + l)
        self.link_model = np.tile(self.links.model_codes(), B)
        self.link_prop = np.tile(self.links.array("propagation_s"), B)
        self.link_fail = np.tile(self.links.array("fail_delay_s"), B)
        lo, hi = self.links.lo_hi()
        self.link_lo, self.link_hi = np.tile(lo, B), np.tile(hi, B)
        self.link_alpha = np.tile(np.minimum(self.dt / self.links.array("mm1_window_s"), 1.0), B)
        self.cap = (self.link_lo + self.link_hi) / 2
        self.n_act = np.zeros(B * L)
        self.load_kbps = np.zeros(B * L)  # mm1: recent offered load, KB/s
        self.kb_sum = np.zeros(B * L)  # KB started on each link in this epoch
        self.tr_link = np.zeros(0, np.int64)
        self.tr_end = np.zeros(0)
        self._tab_dirty = True
        self._link_rng = [env_rngs(sd)[2] for _, sd in self.envs]
        self._link_block = np.zeros((B, 0, L))
        self._link_pos = 0
        onehot = np.eye(lay.n_dc)[lay.vm_dc]
        self._vm_to_dc = onehot / np.maximum(onehot.sum(0), 1)[None, :]  # (V,D) mean over a datacenter's VMs
        # mobility
        self.dev_ap = wl.init_ap.copy()
        self.move_pos = 0
        N, D = lay.n_edge, lay.n_dc
        self.route_up = self._route(np.arange(B)[:, None, None], np.arange(N)[None, :, None], np.arange(D)[None, None, :], True)
        self.route_dn = self.route_up[..., ::-1].copy()
        self.eff = self.cap.copy()
        # utilisation samples (epochs with warmup <= t0 < horizon)
        self.util_sum = np.zeros(B * V)
        self.busy_sum = np.zeros(B * V)
        self.n_samples = 0
        self.passes = 0
        self.decisions = 0

    # ------------------------------------------------------------------ helpers

    @property
    def t0(self) -> float:
        return self.k * self.dt

    def finished(self) -> bool:
        return (self.next_task >= self.wl.n_tasks and self.ov_ids.size == 0 and self.up_ids.size == 0
                and not self.jn.any())

    def in_flight(self) -> int:
        return int(np.isin(self.status, (OVERFLOW, UPLOAD, RUNNING)).sum())

    def _draw_links(self) -> None:
        """This epoch's capacities: U[lo, hi] per link instance, from each env's own stream."""
        L = self.links.n_links
        if self._link_pos >= self._link_block.shape[1]:
            self._link_block = np.stack([r.random((256, L)) for r in self._link_rng])
            self._link_pos = 0
        u = self._link_block[:, self._link_pos, :].reshape(-1)
        self._link_pos += 1
        self.cap = self.link_lo + u * (self.link_hi - self.link_lo)

    def _route(self, env: np.ndarray, ap: np.ndarray, dc: np.ndarray, upload: bool) -> np.ndarray:
        """(..., 2) global link ids of the hops between access point ``ap`` and datacenter ``dc``
        in transfer order (-1 = no hop)."""
        L = self.links.n_links
        lay, lk = self.lay, self.links
        cloud = lay.dc_cloud[dc]
        local = (dc == ap) & ~cloud
        wl = env * L + lk.link_of(WLAN, ap)
        other = np.where(cloud, env * L + lk.link_of(WAN, ap), env * L + lk.link_of(MAN, ap))
        first_wlan = np.where(cloud & ~lk.cloud_via_wlan, -1, wl)
        h_a = np.where(local, wl, first_wlan)  # device side hop
        h_b = np.where(local, -1, other)  # backbone hop
        if upload:
            return np.stack([h_a, h_b], -1)
        return np.stack([h_b, h_a], -1)

    def _start_transfers(self, hops: np.ndarray, size_kb: np.ndarray, t_start: np.ndarray):
        """Register transfers (m, 2 hops in order) starting at t_start; returns (total s incl.
        propagation, failed). On a shared link the transfers of this call see each other."""
        self._net_tables()
        valid = hops >= 0
        h = np.where(valid, hops, 0)
        model = self.link_model[h]
        eff = self.eff[h]
        shared = valid & (model == 1)
        if shared.any():
            key = np.where(shared, hops, -1)
            rank = np.zeros(hops.shape)
            for j in range(hops.shape[1]):
                rank[:, j] = np.where(shared[:, j], group_rank(key[:, j]), 0)
            eff = np.where(shared, self.cap[h] / (self.n_act[h] + rank + 1.0), eff)
        mbit = (size_kb * KB_TO_MBIT)[:, None]
        with np.errstate(divide="ignore"):
            d = np.where(eff > 0, mbit / np.maximum(eff, 1e-300), np.inf)
        failed = (valid & ((d > self.link_fail[h]) | ~np.isfinite(d))).any(1)
        per = np.where(valid, d + self.link_prop[h], 0.0)
        total = per.sum(1)
        reg = shared & ~failed[:, None]
        if reg.any():
            ends = t_start[:, None] + np.cumsum(per, 1)
            self.tr_link = np.concatenate([self.tr_link, hops[reg]])
            self.tr_end = np.concatenate([self.tr_end, ends[reg]])
            scatter_add(self.n_act, hops[reg], 1.0)
            self._tab_dirty = True
        mm1 = valid & (model == 2)
        if mm1.any():
            scatter_add(self.kb_sum, hops[mm1], np.broadcast_to(size_kb[:, None], hops.shape)[mm1])
        return total, failed

    def _net_tables(self) -> None:
        """Per (env, access point, datacenter) route constants of the current link state:
        seconds per Mbit, propagation, largest transfer (Mbit) that does not fail, bottleneck Mbps."""
        if not self._tab_dirty:
            return
        B, N, L = self.B, self.lay.n_edge, self.links.n_links
        _, eff = hop_delay(self.link_model, self.cap, self.n_act, self.load_kbps, 1.0)
        self.eff = eff
        hops = self.route_up
        valid = hops >= 0
        h = np.where(valid, hops, 0)
        e = eff[h]
        with np.errstate(divide="ignore"):
            inv = np.where(valid, 1.0 / np.maximum(e, 1e-300), 0.0)
        self.tab_inv = np.where(np.isfinite(inv) & (inv < 1e299), inv, np.inf).sum(-1)
        self.tab_prop = np.where(valid, self.link_prop[h], 0.0).sum(-1)
        self.tab_max = np.where(valid, self.link_fail[h] * e, np.inf).min(-1)
        self.tab_bott = np.where(valid, e, np.inf).min(-1)
        env = np.arange(B)[:, None] * L
        man = env + self.links.link_of(MAN, np.arange(N))[None, :]
        wan = env + self.links.link_of(WAN, np.arange(N))[None, :]
        self.tab_man = 1.0 / np.maximum(eff[man], 1e-300) + self.link_prop[man]
        self.tab_wan = eff[wan]
        self._tab_dirty = False

    # ------------------------------------------------------------------ observation

    def observe(self, ids: np.ndarray) -> TierObs:
        """Observation rows for tasks ``ids`` at the current epoch."""
        wl, lay, B = self.wl, self.lay, self.B
        V = lay.n_vm
        t0 = self.t0
        env, dev, app = wl.env[ids], wl.device[ids], wl.app[ids]
        ap = self.dev_ap[env, dev]
        length, up, down = wl.length_mi[ids], wl.up_kb[ids], wl.down_kb[ids]
        dl = wl.due_s[ids] - t0
        deadline = lay.app_deadline_s[app]
        rows = env[:, None] * V + np.arange(V)[None, :]
        util = self.util_res[rows]
        req = lay.required_util(app, length, np.where(np.isfinite(deadline), deadline, 1.0))
        cores = self.cores[ids]
        mem = self.mem[ids]
        cpu_max = self.sc.admission.cpu_max_pct
        feas = ((util + req <= cpu_max + 1e-9) & (self.mem_res[rows] + mem[:, None] <= self.vm_ram[rows] + 1e-9)
                & (cores[:, None] <= self.vm_cores[rows]))
        pes = self.pes_assigned[rows]
        rate = self.vm_capacity[rows] / np.maximum(pes + cores[:, None], self.vm_cores[rows])  # per core, MIPS
        proc = length[:, None] / (cores[:, None] * rate)
        backlog = self.len_pending[rows] + (self.jw * self.jp).sum(-1)[rows]
        self._net_tables()
        inv, prop, mx = self.tab_inv[env, ap], self.tab_prop[env, ap], self.tab_max[env, ap]
        up_m, dn_m = (up * KB_TO_MBIT)[:, None], (down * KB_TO_MBIT)[:, None]
        up_s = np.where(up_m > mx, np.inf, up_m * inv + prop)
        dn_s = np.where(dn_m > mx, np.inf, dn_m * inv + prop)
        dc_util = self.util_res.reshape(B, V) @ self._vm_to_dc
        return TierObs(
            env=env, task=ids, device=dev, app=app, length_mi=length, up_kb=up, down_kb=down,
            sens=lay.app_sens[app], slack_s=dl, wait_s=np.maximum(t0 - wl.t_arr[ids], 0.0),
            cores=cores, mem_mb=mem, local_dc=ap,
            vm_util=util, vm_req=req, vm_feasible=feas, vm_jobs=self.assigned[rows], vm_backlog_mi=backlog,
            proc_est=proc, up_est=up_s, down_est=dn_s, uplink_mbps=self.tab_bott[env, ap], dc_util=dc_util[env],
            man_delay_s=self.tab_man[env, ap], wan_uplink_mbps=self.tab_wan[env, ap], t_now=t0, cpu_max=cpu_max, lay=lay,
        )

    # ------------------------------------------------------------------ failures / releases

    def _fail(self, ids: np.ndarray, reason: int, t: np.ndarray | float) -> None:
        self.status[ids] = FAILED
        self.reason[ids] = reason
        self.t_end[ids] = t

    def _release(self, ids: np.ndarray, running: bool) -> None:
        """Give back what tasks ``ids`` held on their VMs (they leave the system)."""
        if ids.size == 0:
            return
        g = self.vm[ids]
        if running or self.sc.admission.reserve_on_assign:
            scatter_add(self.util_res, g, -(self.req_u[ids]))
            scatter_add(self.mem_res, g, -(self.mem[ids]))
        scatter_add(self.assigned, g, -(1.0))
        scatter_add(self.pes_assigned, g, -(self.cores[ids]))
        if not running:
            scatter_add(self.len_pending, g, -(self.wl.length_mi[ids]))

    # ------------------------------------------------------------------ decisions

    def _place(self, ids: np.ndarray, g: np.ndarray, ru: np.ndarray) -> None:
        wl, lay = self.wl, self.lay
        V = lay.n_vm
        env, v = g // V, g % V
        dc = lay.vm_dc[v]
        ap = self.dev_ap[env, wl.device[ids]]
        tier = np.where(lay.dc_cloud[dc], 2, np.where(dc == ap, 0, 1))
        self.status[ids] = UPLOAD
        self.vm[ids], self.dc[ids], self.tier[ids], self.ap_sub[ids] = g, dc, tier, ap
        self.req_u[ids] = ru
        t_disp = np.maximum(wl.t_arr[ids], self.t0)
        self.t_disp[ids] = t_disp
        if self.sc.admission.reserve_on_assign:
            scatter_add(self.util_res, g, ru)
            scatter_add(self.mem_res, g, self.mem[ids])
        scatter_add(self.assigned, g, 1.0)
        scatter_add(self.pes_assigned, g, self.cores[ids])
        scatter_add(self.len_pending, g, wl.length_mi[ids])
        total, failed = self._start_transfers(self.route_up[env, ap, dc], wl.up_kb[ids], t_disp)
        self.net_up[ids] = np.where(failed, 0.0, total)
        t_ready = t_disp + total
        self.t_ready[ids] = t_ready
        late = ~failed & (t_ready >= wl.due_s[ids]) & self.sc.admission.abort_on_deadline
        if failed.any():
            bad = ids[failed]
            self._release(bad, running=False)
            self._fail(bad, R_BW, t_disp[failed])
        if late.any():
            bad = ids[late]
            self._release(bad, running=False)
            self._fail(bad, R_DEADLINE, wl.due_s[bad])
        keep = ~(failed | late)
        self.up_ids = np.concatenate([self.up_ids, ids[keep]])

    def _decide(self, policy, rng: np.random.Generator) -> None:
        wl, t0, t1 = self.wl, self.t0, self.t0 + self.dt
        # deferred tasks that waited too long fail (capacity)
        if self.ov_ids.size:
            ov = self.ov_ids
            limit = np.minimum(wl.due_s[ov], wl.t_arr[ov] + self.sc.overflow.max_wait_s)
            exp = limit <= t0
            if exp.any():
                self._fail(ov[exp], R_VM, limit[exp])
            self.ov_ids = ov[~exp]
        hi = int(np.searchsorted(wl.t_arr, t1, side="left")) if t0 < self.sc.sim.horizon_s else self.next_task
        new = np.arange(self.next_task, max(hi, self.next_task))
        self.next_task = max(hi, self.next_task)
        pending = np.concatenate([self.ov_ids, new])
        self.ov_ids = np.zeros(0, np.int64)
        if pending.size == 0:
            return
        key = getattr(policy, "sort_key", None)
        order = np.lexsort((wl.t_arr[pending], key(self, pending))) if key else np.argsort(wl.t_arr[pending], kind="stable")
        remaining = seq = pending[order]
        self.status[remaining] = OVERFLOW
        self.decisions += remaining.size
        V = self.lay.n_vm
        deferred = []
        cpu_max = self.sc.admission.cpu_max_pct
        for _ in range(MAX_PASSES):
            self.passes += 1
            obs = self.observe(remaining)
            a = np.asarray(policy.act(obs, rng), dtype=np.int64)
            if a.shape != remaining.shape or (a.size and (a.min() < REJECT or a.max() >= V)):
                from ..policies.base import PolicyError

                raise PolicyError(f"tier policy '{getattr(policy, 'name', policy)}' returned invalid actions "
                                  f"(need shape {remaining.shape}, values in -2..{V - 1})")
            rows = np.arange(a.size)
            chosen = a >= 0
            av = np.where(chosen, a, 0)
            feas = chosen & obs.vm_feasible[rows, av]
            bad = (chosen & ~feas) | (a == REJECT)
            if bad.any():
                self._fail(remaining[bad], R_VM, np.maximum(wl.t_arr[remaining[bad]], t0))
            if (a == DEFER).any():
                deferred.append(remaining[a == DEFER])
            ok = np.flatnonzero(feas)
            if ok.size == 0:
                remaining = np.zeros(0, np.int64)
                break
            ids = remaining[ok]
            g = obs.env[ok] * V + av[ok]
            ru = obs.vm_req[ok, av[ok]]
            # an upload that fails in the current link state never holds the VM
            hold = np.isfinite(obs.up_est[ok, self.lay.vm_dc[av[ok]]])
            cu = group_cumsum(g, ru * hold)
            cm = group_cumsum(g, self.mem[ids] * hold)
            admit = ~hold | ((self.util_res[g] + cu <= cpu_max + 1e-9) & (self.mem_res[g] + cm <= self.vm_ram[g] + 1e-9))
            self._place(ids[admit], g[admit], ru[admit])
            remaining = ids[~admit]
            if remaining.size == 0 or not admit.any():
                break
        if remaining.size:
            if getattr(policy, "defers", False):
                deferred.append(remaining)
            else:
                self._fail(remaining, R_VM, np.maximum(wl.t_arr[remaining], t0))
        if deferred:
            ov = np.concatenate(deferred)
            cap = self.sc.overflow.max_tasks
            # bounded queue: per environment keep the first max_tasks in decision order
            srt = np.argsort(seq)
            ov = ov[np.argsort(srt[np.searchsorted(seq[srt], ov)], kind="stable")]
            rank = group_rank(wl.env[ov])
            over = rank >= cap
            if over.any():
                self._fail(ov[over], R_VM, np.maximum(wl.t_arr[ov[over]], t0))
            self.ov_ids = ov[~over]
            self.status[self.ov_ids] = OVERFLOW

    # ------------------------------------------------------------------ service

    def _ensure_width(self, need: int) -> None:
        q = self.jw.shape[1]
        if need > q:
            q2 = max(need, 2 * q)
            self.jw, self.jp, self.ju = grow_last(self.jw, q2, 0.0), grow_last(self.jp, q2, 0.0), grow_last(self.ju, q2, 0.0)
            self.jid = grow_last(self.jid, q2, -1)

    def _advance(self, rows: np.ndarray, tau: np.ndarray, clock: np.ndarray, out: list) -> None:
        """Processor sharing on VM rows for ``tau`` seconds each; completions go to ``out``.

        Jobs sorted by remaining work per core w_1 <= ... <= w_n finish in that order; while
        jobs k..n run, each core of each job progresses at C / max(Σ_{j>=k} p_j, c) MIPS.
        """
        n = self.jn[rows]
        busy = (n > 0) & (tau > 0)
        if not busy.all():
            rows, n, tau, clock = rows[busy], n[busy], tau[busy], clock[busy]
        if rows.size == 0:
            return
        w = int(n.max())
        cols = np.arange(w)
        occ = cols < n[:, None]
        r2 = np.arange(rows.size)[:, None]
        JW, JP, JU, JI = self.jw[rows, :w], self.jp[rows, :w], self.ju[rows, :w], self.jid[rows, :w]
        key = np.where(occ, JW, np.inf)
        order = np.argsort(key, axis=1, kind="stable")
        ws = key[r2, order]
        ps = np.where(occ, JP, 0.0)[r2, order]
        suffix = np.cumsum(ps[:, ::-1], 1)[:, ::-1]
        rate = self.vm_capacity[rows][:, None] / np.maximum(suffix, self.vm_cores[rows][:, None])  # per core, MIPS
        wsf = np.where(occ, ws, 0.0)
        prev = np.empty_like(wsf)
        prev[:, 0] = 0.0
        prev[:, 1:] = wsf[:, :-1]
        T = np.cumsum(np.where(occ, (wsf - prev) / rate, 0.0), 1)
        done = occ & (T <= tau[:, None] * (1 + 1e-12) + 1e-12)
        kd = done.sum(1)
        r = r2[:, 0]
        last = np.maximum(kd - 1, 0)
        t_last = np.where(kd > 0, T[r, last], 0.0)
        w_last = np.where(kd > 0, wsf[r, last], 0.0)
        prog = w_last + np.maximum(tau - t_last, 0.0) * rate[r, np.minimum(kd, w - 1)]
        src = order[r2, np.minimum(cols + kd[:, None], w - 1)]  # survivors, sorted, shifted left
        keep = cols < (n - kd)[:, None]
        if kd.any():
            ri, qi = np.nonzero(done)
            out.append((JI[ri, order[ri, qi]], clock[ri] + T[ri, qi]))
        self.jw[rows, :w] = np.where(keep, np.maximum(JW[r2, src] - prog[:, None], 1e-12), 0.0)
        self.jp[rows, :w] = np.where(keep, JP[r2, src], 0.0)
        self.ju[rows, :w] = np.where(keep, JU[r2, src], 0.0)
        self.jid[rows, :w] = np.where(keep, JI[r2, src], -1)
        self.jn[rows] = n - kd

    def _serve(self) -> None:
        wl, t0, t1 = self.wl, self.t0, self.t0 + self.dt
        # tasks whose upload ends in this epoch enter their VM at that moment
        tr = self.t_ready[self.up_ids]
        sel = tr < t1
        ent = self.up_ids[sel]
        self.up_ids = self.up_ids[~sel]
        completions: list = []
        if ent.size:
            g = self.vm[ent]
            o = np.lexsort((self.t_ready[ent], g))
            ent, g = ent[o], g[o]
            self.status[ent] = RUNNING
            scatter_add(self.len_pending, g, -(wl.length_mi[ent]))
            if not self.sc.admission.reserve_on_assign:
                scatter_add(self.util_res, g, self.req_u[ent])
                scatter_add(self.mem_res, g, self.mem[ent])
            rank = group_rank(g)
            ug, inv = np.unique(g, return_inverse=True)
            A = int(rank.max()) + 1
            at = np.full((ug.size, A), np.inf)
            at[inv, rank] = self.t_ready[ent]
            aid = np.full((ug.size, A), -1, np.int64)
            aid[inv, rank] = ent
        else:
            ug = np.zeros(0, np.int64)
            A = 0
        rows = np.union1d(np.flatnonzero(self.jn), ug)
        if rows.size:
            pos = np.searchsorted(rows, ug)
            clock = np.full(rows.size, t0)
            for j in range(A + 1):
                target = np.full(rows.size, t1)
                if j < A:
                    target[pos] = np.minimum(at[:, j], t1)
                self._advance(rows, target - clock, clock, completions)
                clock = np.maximum(clock, target)
                if j < A:
                    has = np.isfinite(at[:, j])
                    rr, tid = ug[has], aid[has, j]
                    q = self.jn[rr]
                    self._ensure_width(int(q.max()) + 1)
                    self.jw[rr, q] = wl.length_mi[tid] / self.cores[tid]
                    self.jp[rr, q] = self.cores[tid]
                    self.ju[rr, q] = self.req_u[tid]
                    self.jid[rr, q] = tid
                    self.jn[rr] = q + 1
        if completions:
            done = np.concatenate([c[0] for c in completions])
            t_pe = np.concatenate([c[1] for c in completions])
            self._finish(done, t_pe)
        if self.sc.admission.abort_on_deadline:
            self._abort_late(t1)

    def _finish(self, ids: np.ndarray, t_pe: np.ndarray) -> None:
        """Processing ended at t_pe: free the VM, send the result back, decide the outcome."""
        wl, lay = self.wl, self.lay
        self.t_pe[ids] = t_pe
        self._release(ids, running=True)
        env = wl.env[ids]
        ap_now = self.dev_ap[env, wl.device[ids]]
        dc = self.dc[ids]
        edge = ~lay.dc_cloud[dc]
        moved = edge & (ap_now != self.ap_sub[ids])
        # the result returns through the access point it was sent from (edge) or the current one (cloud)
        ap_ret = np.where(edge, self.ap_sub[ids], ap_now)
        total, failed = self._start_transfers(self.route_dn[env, ap_ret, dc], wl.down_kb[ids], t_pe)
        self.net_down[ids] = np.where(failed, 0.0, total)
        t_done = t_pe + total
        late = ~failed & ~moved & (t_done > wl.due_s[ids])
        ok = ~(failed | moved | late)
        self.status[ids[ok]] = DONE
        self.t_end[ids[ok]] = t_done[ok]
        if moved.any():
            self._fail(ids[moved], R_MOBILITY, t_pe[moved])
        bw = failed & ~moved
        if bw.any():
            self._fail(ids[bw], R_BW, t_pe[bw])
        if late.any():
            self._fail(ids[late], R_DEADLINE, wl.due_s[ids[late]])

    def _abort_late(self, t1: float) -> None:
        rows = np.flatnonzero(self.jn)
        if rows.size == 0:
            return
        w = int(self.jn[rows].max())
        occ = np.arange(w) < self.jn[rows][:, None]
        ids = self.jid[rows, :w]
        late = occ & (self.wl.due_s[np.where(occ, ids, 0)] <= t1)
        hit = late.any(1)
        if not hit.any():
            return
        rows, occ, late, ids = rows[hit], occ[hit], late[hit], ids[hit]
        gone = ids[late]
        keep = occ & ~late
        order = np.argsort(~keep, axis=1, kind="stable")
        for arr, fill in ((self.jw, 0.0), (self.jp, 0.0), (self.ju, 0.0), (self.jid, -1)):
            arr[rows, :w] = np.take_along_axis(np.where(keep, arr[rows, :w], fill), order, 1)
        self.jn[rows] = keep.sum(1)
        self._release(gone, running=True)
        self._fail(gone, R_DEADLINE, self.wl.due_s[gone])

    # ------------------------------------------------------------------ epoch

    def _epoch_start(self) -> None:
        t0 = self.t0
        wl = self.wl
        # mobility events up to t0
        hi = int(np.searchsorted(wl.move_t, t0, side="right"))
        if hi > self.move_pos:
            s = slice(self.move_pos, hi)
            self.dev_ap[wl.move_env[s], wl.move_dev[s]] = wl.move_ap[s]
            self.move_pos = hi
        self._draw_links()
        if self.tr_end.size:
            live = self.tr_end > t0
            self.tr_link, self.tr_end = self.tr_link[live], self.tr_end[live]
        self.n_act = np.bincount(self.tr_link, minlength=self.cap.size).astype(float)
        self._tab_dirty = True

    def _epoch_end(self) -> None:
        # mm1: offered load per link, exponentially weighted over ``mm1_window_s``
        self.load_kbps += self.link_alpha * (self.kb_sum / self.dt - self.load_kbps)
        self.kb_sum[:] = 0.0
        t0 = self.t0
        if self.sc.sim.warmup_s <= t0 < self.sc.sim.horizon_s:
            occ = np.arange(self.jw.shape[1]) < self.jn[:, None]
            self.util_sum += np.minimum(np.where(occ, self.ju, 0.0).sum(1), 100.0)
            self.busy_sum += np.minimum(np.where(occ, self.jp, 0.0).sum(1), self.vm_cores) / self.vm_cores
            self.n_samples += 1
        self.k += 1

    def step(self, policy, rng: np.random.Generator) -> None:
        """One epoch: mobility and link state, decisions, VM service, deadline aborts."""
        self._epoch_start()
        self._decide(policy, rng)
        self._serve()
        self._epoch_end()

    def run(self, policy, rng: np.random.Generator, progress=None) -> "TierSim":
        """Run to the end: epochs until the horizon, then drain until every task ended."""
        n_h = int(np.ceil(self.sc.sim.horizon_s / self.dt - 1e-9))
        n_max = n_h + int(np.ceil(self.sc.sim.max_drain_s / self.dt))
        while self.k < n_max and (self.k < n_h or not self.finished()):
            self.step(policy, rng)
            if progress and self.k % 100 == 0:
                progress(100)
        if not self.finished():  # cut at the drain limit: count what is left
            self._release(np.flatnonzero(self.status == RUNNING), running=True)
            self._release(np.flatnonzero(self.status == UPLOAD), running=False)
            left = np.flatnonzero(np.isin(self.status, (OVERFLOW, UPLOAD, RUNNING)))
            self._fail(left, R_UNFINISHED, self.t0)
            self.ov_ids = self.up_ids = np.zeros(0, np.int64)
            self.jn[:] = 0
            self.jw[:], self.jp[:], self.ju[:], self.jid[:] = 0.0, 0.0, 0.0, -1
        return self
