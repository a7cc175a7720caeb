"""The VMs of a batch of EdgeCloudSim runs: CloudSim's time-shared scheduler with virtual times.

Each PE of a task on a VM with c cores of total capacity C (MIPS) gets C / max(PEs in use, c)
MIPS, and a task of L MI needs L MI per PE. Every VM row (env·V + v) keeps a virtual time S
(MI done per PE since the start), advancing at the current per-PE rate; a task entering at S
finishes when S reaches its virtual finish F = S + L: exact processor sharing, event by event.
Running tasks sit in one dense, unsorted pool. Units: MI, MIPS, s, % (utilisation).
"""

from __future__ import annotations

import numpy as np

from ..tiers.arrays import run_cumsum, run_starts


class VirtualTimeVms:
    """Per VM row: CPU utilisation ``util`` (sum of the running tasks' requirements, %), PEs in
    use ``npes``, running tasks ``cnt``, virtual time ``S_ref`` at ``t_ref``, per-PE ``rate``,
    Σ F·PEs ``sumFp``; the pool of running tasks (row, F, task, PEs, utilisation)."""

    def __init__(self, vm_cap: np.ndarray, vm_cores: np.ndarray, batch: int):
        rows = batch * vm_cap.size
        self.r_cap = np.tile(vm_cap, batch)
        self.r_cores = np.tile(vm_cores, batch)
        self.util = np.zeros(rows)
        self.npes = np.zeros(rows)
        self.cnt = np.zeros(rows, np.int64)
        self.S_ref = np.zeros(rows)  # virtual time (MI done per PE) at t_ref
        self.t_ref = np.zeros(rows)
        self.rate = self.r_cap / self.r_cores  # MIPS per PE now
        self.sumFp = np.zeros(rows)
        self.p_row = np.zeros(0, np.int64)
        self.p_F = np.zeros(0)
        self.p_task = np.zeros(0, np.int64)
        self.p_pes = np.zeros(0)
        self.p_util = np.zeros(0)
        self.n_running = 0
        self.rounds = 0

    def _pool_arrays(self) -> tuple:
        return self.p_row, self.p_F, self.p_task, self.p_pes, self.p_util

    def enter(self, g: np.ndarray, ids: np.ndarray, pes: np.ndarray, t_ready: np.ndarray, length_mi: np.ndarray,
              util: np.ndarray, t0: float) -> None:
        """Tasks ``ids`` (``pes`` PEs, ``length_mi``, needing ``util`` %) enter VM rows ``g`` at
        ``t_ready`` (within half a step of t0): each gets the virtual finish time F = S(t_ready) + L."""
        # (rows can repeat: the right-hand sides use the old values, so repeats are harmless)
        self.S_ref[g] = self.S_ref[g] + self.rate[g] * (t0 - self.t_ref[g])
        self.t_ref[g] = t0
        np.add.at(self.npes, g, pes)
        np.add.at(self.cnt, g, 1)
        self.rate[g] = self.r_cap[g] / np.maximum(self.npes[g], self.r_cores[g])
        S = self.S_ref[g]
        F = np.maximum(S + self.rate[g] * (t_ready - t0) + length_mi, S)
        np.add.at(self.sumFp, g, F * pes)
        n, k = self.n_running, ids.size
        if n + k > self.p_row.size:  # grow the pool (tasks in [0, n) are running)
            cap = max(2 * self.p_row.size, n + k, 1024)
            self.p_row, self.p_F, self.p_task, self.p_pes, self.p_util = (
                np.concatenate([a, np.zeros(cap - a.size, a.dtype)]) for a in self._pool_arrays())
        s = slice(n, n + k)
        self.p_row[s], self.p_F[s], self.p_task[s], self.p_pes[s] = g, F, ids, pes
        self.p_util[s] = util
        self.n_running = n + k

    def serve(self, t1: float) -> list:
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
            T = self._completion_times(row, F, self.p_pes[cand])
            done.append((self.p_task[cand], T))
            self._complete(cand, row, F, T, n)
        return done

    def _completion_times(self, row: np.ndarray, F: np.ndarray, pes: np.ndarray) -> np.ndarray:
        """End times of candidates sorted by (row, F), VM by VM (exact per VM)."""
        first, start = run_starts(row)
        seg = np.flatnonzero(first)
        seg_id = np.cumsum(first) - 1
        cp = np.cumsum(pes)
        before = cp - pes - (cp[seg] - pes[seg])[seg_id]  # PEs of this VM's candidates completing earlier
        rate = self.r_cap[row] / np.maximum(self.npes[row] - before, self.r_cores[row])
        prevF = np.where(first, self.S_ref[row], np.concatenate([[0.0], F[:-1]]))
        dT = (F - prevF) / rate
        return run_cumsum(np.where(first, self.t_ref[row] + dT, dT), start)

    def _complete(self, cand: np.ndarray, row: np.ndarray, F: np.ndarray, T: np.ndarray, n: int) -> None:
        """Candidates (pool slots ``cand`` on rows ``row``, sorted) leave at T; VM state follows."""
        pes = self.p_pes[cand]
        first, _ = run_starts(row)
        seg = np.flatnonzero(first)
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

    def virtual_backlog(self, rows: np.ndarray, t0: float) -> np.ndarray:
        """Work left on VM rows at t0 (Σ over running tasks of (F - S)·PEs, MI)."""
        S = self.S_ref[rows] + self.rate[rows] * (t0 - self.t_ref[rows])
        return np.maximum(self.sumFp[rows] - S * self.npes[rows], 0.0)
