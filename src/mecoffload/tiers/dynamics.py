"""Three-tier engine, vectorised over a batch of B environments and over tasks.

Semantics (time in s, work in MI, data in KB, bandwidth in Mbps):

* **Epochs.** Decisions happen every Δt (``sim.slot_s``): at epoch start t0 the orchestrator
  decides every task arriving in [t0, t0 + Δt) plus the deferred ones, from the system state
  at t0 (EdgeCloudSim refreshes VM loads every ``vm_load_check_interval``, 0.1 s). A task is
  dispatched at max(arrival, t0) and uploaded from then on; execution is continuous in time.
* **Sequential decisions, vectorised.** A batch is decided in passes. In each pass the policy
  acts on every pending task at once (one row per task, :class:`~.obs.TierObs`, through the
  :class:`~.obs.TierPolicy` protocol: the engine imports no policy); admissions are then
  applied in task order, exactly, per VM: a VM accepts a task if its utilisation plus the
  task's required utilisation is <= ``admission.cpu_max_pct`` (C3) and its memory suffices
  (C4). A task whose VM was already infeasible in the state the policy saw fails
  (``vm_capacity``, EdgeCloudSim semantics); one that lost a race to an earlier task of the
  same pass is decided again in the next pass, which sees the updated state. A policy may
  return ``DEFER`` (overflow queue, Algorithm 1 of seed 002: decided again next epoch) or
  ``REJECT`` (fails ``vm_capacity``).
* **Network.** Upload delay is fixed at dispatch, download delay at the end of processing,
  from the link state then (:class:`~.network.LinkState`). A transfer over its link's ``fail_delay_s``
  fails (``bandwidth``).
* **VMs.** CloudSim's time-shared scheduler: a VM with c cores of m MIPS gives each running
  task of p cores the rate p·c·m / max(Σp, c): exact processor sharing with a per-core cap,
  computed event by event inside the epoch (tasks enter the moment their upload ends;
  :class:`~.vms.PsVms`).
* **Failures.** ``vm_capacity`` (rejected, infeasible VM, deferred past
  ``overflow.max_wait_s`` / its deadline, or deferred into a full overflow queue of
  ``overflow.max_tasks``), ``bandwidth``, ``deadline`` (result not back by
  arrival + deadline_s; with ``abort_on_deadline`` a running task is aborted at the end of
  the epoch in which its deadline passes), ``mobility`` (the device left the access point of
  an edge task before the result came back), ``unfinished`` (still running after
  ``sim.max_drain_s``; 0 in practice). Every task ends exactly once: completed or failed.

No per-task Python objects: tasks live in flat arrays, running tasks in fixed-width per-VM
arrays that grow when full. Task states and failure reasons: :mod:`.outcomes`.
"""

from __future__ import annotations

import numpy as np

from ..sim.arrays import group_rank
from .arrays import group_cumsum, scatter_add
from .config import TierScenario
from .network import KB_TO_MBIT, LinkLayout, LinkState
from .obs import DEFER, REJECT, TierObs, checked_actions  # noqa: F401 (DEFER, REJECT re-exported)
from .outcomes import (DONE, FAILED, FUTURE, OVERFLOW, R_BW, R_DEADLINE, R_MOBILITY, R_UNFINISHED, R_VM, REASONS,  # noqa: F401
                       RUNNING, TIERS, UPLOAD, TaskRecord)
from .vms import PsVms
from .workload import Layout, Workload, generate, make_envs

MAX_PASSES = 16
"""decision passes per epoch at most (a pass re-decides the tasks that lost an admission race)"""


class TierSim(TaskRecord):
    """State of B environments of one tier scenario plus the transition functions.

    ``TierSim(sc, envs)`` with envs a list of (devices, seed) (see ``make_envs``) draws the
    workload (or reuses ``workload``); ``step`` runs one epoch with a policy; ``run`` runs to
    the end (horizon + drain).
    """

    reasons = REASONS
    """failure reasons this engine produces (all of :data:`~.outcomes.REASONS`)"""

    def __init__(self, sc: TierScenario, envs: list[tuple[int, int]] | None = None, workload: Workload | None = None,
                 layout: Layout | None = None):
        self.sc = sc
        self.lay = lay = layout or Layout.from_scenario(sc)
        if workload is None:
            workload = generate(sc, lay, envs if envs is not None else make_envs(sc, 1, 0))
        self.wl = workload
        self.envs = list(workload.envs)
        self.B = len(self.envs)
        self.dt = sc.sim.slot_s
        self.k = 0
        self.next_task = 0
        self._init_tasks(workload.n_tasks)
        self._init_vms(self.B, lay.n_vm)
        self.net = LinkState(LinkLayout.from_scenario(sc), lay, [sd for _, sd in self.envs], self.dt)
        onehot = np.eye(lay.n_dc)[lay.vm_dc]
        self._vm_to_dc = onehot / np.maximum(onehot.sum(0), 1)[None, :]  # (V,D) mean over a datacenter's VMs
        self.dev_ap = workload.init_ap.copy()  # access point of every device now (mobility)
        self.move_pos = 0
        self.util_sum = np.zeros(self.B * lay.n_vm)  # utilisation samples (epochs with warmup <= t0 < horizon)
        self.busy_sum = np.zeros(self.B * lay.n_vm)
        self.n_samples = 0
        self.passes = 0
        self.decisions = 0

    def _init_tasks(self, T: int) -> None:
        """Per-task arrays (times in s; ``vm`` is the VM row env·V + v, ``t_disp`` the dispatch)."""
        self._init_outcomes(T)
        self.dc = np.full(T, -1, np.int64)
        self.ap_sub = np.full(T, -1, np.int64)
        self.t_disp = np.full(T, np.nan)
        self.net_up = np.zeros(T)
        self.net_down = np.zeros(T)
        self.req_u = np.zeros(T)
        self.cores = self.lay.app_cores[self.wl.app]
        self.mem = self.lay.app_mem[self.wl.app]
        self.up_ids = np.zeros(0, np.int64)  # uploading
        self.ov_ids = np.zeros(0, np.int64)  # overflow queue (deferred)

    def _init_vms(self, B: int, V: int) -> None:
        """Per VM row (env·V + v): capacity, reservations, assigned work, running tasks."""
        lay = self.lay
        self.vm_cores = np.tile(lay.vm_cores, B)
        self.vm_capacity = np.tile(lay.vm_capacity, B)
        self.vm_ram = np.tile(lay.vm_ram, B)
        self.util_res = np.zeros(B * V)
        self.mem_res = np.zeros(B * V)
        self.assigned = np.zeros(B * V)
        self.pes_assigned = np.zeros(B * V)
        self.len_pending = np.zeros(B * V)
        self.vms = PsVms(self.vm_cores, self.vm_capacity)

    # ------------------------------------------------------------------ helpers

    @property
    def t0(self) -> float:
        return self.k * self.dt

    def finished(self) -> bool:
        return (self.next_task >= self.wl.n_tasks and self.ov_ids.size == 0 and self.up_ids.size == 0
                and not self.vms.jn.any())

    def in_flight(self) -> int:
        return int(np.isin(self.status, (OVERFLOW, UPLOAD, RUNNING)).sum())

    # ------------------------------------------------------------------ observation

    def observe(self, ids: np.ndarray) -> TierObs:
        """Observation rows for tasks ``ids`` at the current epoch."""
        wl, lay, B, net = self.wl, self.lay, self.B, self.net
        V = lay.n_vm
        t0 = self.t0
        env, dev, app = wl.env[ids], wl.device[ids], wl.app[ids]
        ap = self.dev_ap[env, dev]
        length, up, down = wl.length_mi[ids], wl.up_kb[ids], wl.down_kb[ids]
        slack = wl.due_s[ids] - t0
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
        backlog = self.len_pending[rows] + self.vms.remaining_mi()[rows]
        net.tables()
        inv, prop, mx = net.tab_inv[env, ap], net.tab_prop[env, ap], net.tab_max[env, ap]
        up_m, dn_m = (up * KB_TO_MBIT)[:, None], (down * KB_TO_MBIT)[:, None]
        up_s = np.where(up_m > mx, np.inf, up_m * inv + prop)
        dn_s = np.where(dn_m > mx, np.inf, dn_m * inv + prop)
        dc_util = self.util_res.reshape(B, V) @ self._vm_to_dc
        return TierObs(
            env=env, task=ids, device=dev, app=app, length_mi=length, up_kb=up, down_kb=down,
            sens=lay.app_sens[app], slack_s=slack, wait_s=np.maximum(t0 - wl.t_arr[ids], 0.0),
            cores=cores, mem_mb=mem, local_dc=ap,
            vm_util=util, vm_req=req, vm_feasible=feas, vm_jobs=self.assigned[rows], vm_backlog_mi=backlog,
            proc_est=proc, up_est=up_s, down_est=dn_s, uplink_mbps=net.tab_bott[env, ap], dc_util=dc_util[env],
            man_delay_s=net.tab_man[env, ap], wan_uplink_mbps=net.tab_wan[env, ap], t_now=t0, cpu_max=cpu_max, lay=lay,
        )

    # ------------------------------------------------------------------ failures / releases

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
        """Tasks ``ids`` are admitted on VM rows ``g`` (needing ``ru`` %): dispatch and upload."""
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
        total, failed = self.net.start(self.net.route_up[env, ap, dc], wl.up_kb[ids], t_disp)
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

    def _pending(self, policy) -> np.ndarray:
        """The tasks to decide this epoch in decision order: the deferred ones still waiting
        (the others fail ``vm_capacity``) and the new arrivals of [t0, t0 + Δt)."""
        wl, t0, t1 = self.wl, self.t0, self.t0 + self.dt
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
            return pending
        key = getattr(policy, "sort_key", None)
        sens = self.lay.app_sens[wl.app[pending]]
        order = np.lexsort((wl.t_arr[pending], key(sens))) if key else np.argsort(wl.t_arr[pending], kind="stable")
        return pending[order]

    def _decide_pass(self, policy, rng: np.random.Generator, remaining: np.ndarray, deferred: list) -> tuple[np.ndarray, bool]:
        """One pass: the policy acts on ``remaining``; feasible choices are admitted per VM in
        decision order (C3, C4). Returns (tasks that lost a race, whether any was admitted)."""
        wl, t0, V = self.wl, self.t0, self.lay.n_vm
        cpu_max = self.sc.admission.cpu_max_pct
        obs = self.observe(remaining)
        a = checked_actions(policy, policy.act(obs, rng), remaining.size, V)
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
            return np.zeros(0, np.int64), False
        ids = remaining[ok]
        g = obs.env[ok] * V + av[ok]
        ru = obs.vm_req[ok, av[ok]]
        # an upload that fails in the current link state never holds the VM
        hold = np.isfinite(obs.up_est[ok, self.lay.vm_dc[av[ok]]])
        cu = group_cumsum(g, ru * hold)
        cm = group_cumsum(g, self.mem[ids] * hold)
        admit = ~hold | ((self.util_res[g] + cu <= cpu_max + 1e-9) & (self.mem_res[g] + cm <= self.vm_ram[g] + 1e-9))
        self._place(ids[admit], g[admit], ru[admit])
        return ids[~admit], bool(admit.any())

    def _decide(self, policy, rng: np.random.Generator) -> None:
        wl, t0 = self.wl, self.t0
        remaining = seq = self._pending(policy)
        if seq.size == 0:
            return
        self.status[remaining] = OVERFLOW
        self.decisions += remaining.size
        deferred: list = []
        for _ in range(MAX_PASSES):
            self.passes += 1
            remaining, admitted = self._decide_pass(policy, rng, remaining, deferred)
            if remaining.size == 0 or not admitted:
                break
        if remaining.size:
            if getattr(policy, "defers", False):
                deferred.append(remaining)
            else:
                self._fail(remaining, R_VM, np.maximum(wl.t_arr[remaining], t0))
        if deferred:
            self._defer(np.concatenate(deferred), seq)

    def _defer(self, ov: np.ndarray, seq: np.ndarray) -> None:
        """Deferred tasks join the overflow queue; per environment the first
        ``overflow.max_tasks`` in decision order ``seq`` are kept, the others fail."""
        t0, wl = self.t0, self.wl
        srt = np.argsort(seq)
        ov = ov[np.argsort(srt[np.searchsorted(seq[srt], ov)], kind="stable")]
        rank = group_rank(wl.env[ov])
        over = rank >= self.sc.overflow.max_tasks
        if over.any():
            self._fail(ov[over], R_VM, np.maximum(wl.t_arr[ov[over]], t0))
        self.ov_ids = ov[~over]
        self.status[self.ov_ids] = OVERFLOW

    # ------------------------------------------------------------------ service

    def _uploaded(self, t1: float):
        """Tasks whose upload ends before ``t1`` start running: (VM rows ``ug``, their entry
        times ``at`` and task ids ``aid``, one column per arrival rank on the row)."""
        wl = self.wl
        tr = self.t_ready[self.up_ids]
        sel = tr < t1
        ent = self.up_ids[sel]
        self.up_ids = self.up_ids[~sel]
        if ent.size == 0:
            return np.zeros(0, np.int64), np.zeros((0, 0)), np.zeros((0, 0), np.int64)
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
        return ug, at, aid

    def _serve(self) -> None:
        """Processor sharing over the epoch; uploaded tasks enter the moment their upload ends."""
        wl, t0, t1 = self.wl, self.t0, self.t0 + self.dt
        ug, at, aid = self._uploaded(t1)
        A = at.shape[1]
        completions: list = []
        rows = np.union1d(np.flatnonzero(self.vms.jn), ug)
        if rows.size:
            pos = np.searchsorted(rows, ug)
            clock = np.full(rows.size, t0)
            for j in range(A + 1):
                target = np.full(rows.size, t1)
                if j < A:
                    target[pos] = np.minimum(at[:, j], t1)
                self.vms.advance(rows, target - clock, clock, completions)
                clock = np.maximum(clock, target)
                if j < A:
                    has = np.isfinite(at[:, j])
                    tid = aid[has, j]
                    self.vms.add(ug[has], tid, wl.length_mi[tid], self.cores[tid], self.req_u[tid])
        if completions:
            done = np.concatenate([c[0] for c in completions])
            t_pe = np.concatenate([c[1] for c in completions])
            self._finish(done, t_pe)
        if self.sc.admission.abort_on_deadline:
            gone = self.vms.remove_due(wl.due_s, t1)
            if gone.size:
                self._release(gone, running=True)
                self._fail(gone, R_DEADLINE, wl.due_s[gone])

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
        total, failed = self.net.start(self.net.route_dn[env, ap_ret, dc], wl.down_kb[ids], t_pe)
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

    # ------------------------------------------------------------------ epoch

    def _epoch_start(self) -> None:
        """Mobility events up to t0, then this epoch's link state."""
        t0 = self.t0
        wl = self.wl
        hi = int(np.searchsorted(wl.move_t, t0, side="right"))
        if hi > self.move_pos:
            s = slice(self.move_pos, hi)
            self.dev_ap[wl.move_env[s], wl.move_dev[s]] = wl.move_ap[s]
            self.move_pos = hi
        self.net.epoch_start(t0)

    def _epoch_end(self) -> None:
        self.net.epoch_end()
        t0 = self.t0
        if self.sc.sim.warmup_s <= t0 < self.sc.sim.horizon_s:
            util, busy = self.vms.load_sample()
            self.util_sum += util
            self.busy_sum += busy
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
            self.vms.clear()
        return self
