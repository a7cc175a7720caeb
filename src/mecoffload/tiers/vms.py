"""The VMs of a batch of environments under CloudSim's time-shared scheduler (seed 002 engine).

A VM with c cores of m MIPS gives each running task of p cores the rate p·c·m / max(Σp, c):
exact processor sharing with a per-core cap. Running tasks sit in fixed-width per-VM arrays
(row = env·V + v, column = slot) that grow when full; :meth:`PsVms.advance` moves them forward
in time event by event (completions in order of remaining work per core). Units: MI, MIPS, s, %.
"""

from __future__ import annotations

import numpy as np

from .arrays import grow_last


class PsVms:
    """Running tasks per VM row: remaining work per core ``jw`` (MI), cores ``jp``, utilisation
    ``ju`` (%), task id ``jid`` (-1 = free slot), and ``jn`` tasks per row."""

    def __init__(self, vm_cores: np.ndarray, vm_capacity: np.ndarray, width: int = 8):
        rows = vm_cores.size
        self.vm_cores, self.vm_capacity = vm_cores, vm_capacity
        self.jw = np.zeros((rows, width))
        self.jp = np.zeros((rows, width))
        self.ju = np.zeros((rows, width))
        self.jid = np.full((rows, width), -1, np.int64)
        self.jn = np.zeros(rows, np.int64)

    def ensure_width(self, need: int) -> None:
        q = self.jw.shape[1]
        if need > q:
            q2 = max(need, 2 * q)
            self.jw, self.jp, self.ju = grow_last(self.jw, q2, 0.0), grow_last(self.jp, q2, 0.0), grow_last(self.ju, q2, 0.0)
            self.jid = grow_last(self.jid, q2, -1)

    def add(self, rows: np.ndarray, tid: np.ndarray, length_mi: np.ndarray, cores: np.ndarray, util: np.ndarray) -> None:
        """Tasks ``tid`` (one per row, distinct rows) start running on VM rows ``rows``."""
        q = self.jn[rows]
        self.ensure_width(int(q.max()) + 1)
        self.jw[rows, q] = length_mi / cores
        self.jp[rows, q] = cores
        self.ju[rows, q] = util
        self.jid[rows, q] = tid
        self.jn[rows] = q + 1

    def advance(self, rows: np.ndarray, tau: np.ndarray, clock: np.ndarray, out: list) -> None:
        """Processor sharing on VM rows for ``tau`` seconds each from ``clock``; completions go to
        ``out`` as (task ids, end times).

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

    def remove_due(self, due_s: np.ndarray, t1: float) -> np.ndarray:
        """Take out every running task due by ``t1`` (``due_s`` indexed by task id); returns them."""
        rows = np.flatnonzero(self.jn)
        if rows.size == 0:
            return np.zeros(0, np.int64)
        w = int(self.jn[rows].max())
        occ = np.arange(w) < self.jn[rows][:, None]
        ids = self.jid[rows, :w]
        late = occ & (due_s[np.where(occ, ids, 0)] <= t1)
        hit = late.any(1)
        if not hit.any():
            return np.zeros(0, np.int64)
        rows, occ, late, ids = rows[hit], occ[hit], late[hit], ids[hit]
        gone = ids[late]
        keep = occ & ~late
        order = np.argsort(~keep, axis=1, kind="stable")
        for arr, fill in ((self.jw, 0.0), (self.jp, 0.0), (self.ju, 0.0), (self.jid, -1)):
            arr[rows, :w] = np.take_along_axis(np.where(keep, arr[rows, :w], fill), order, 1)
        self.jn[rows] = keep.sum(1)
        return gone

    def remaining_mi(self) -> np.ndarray:
        """(rows,) work left on each VM row, MI."""
        return (self.jw * self.jp).sum(-1)

    def load_sample(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows,) utilisation now (sum of the running tasks' %, capped at 100) and the fraction
        of the VM's cores busy."""
        occ = np.arange(self.jw.shape[1]) < self.jn[:, None]
        util = np.minimum(np.where(occ, self.ju, 0.0).sum(1), 100.0)
        busy = np.minimum(np.where(occ, self.jp, 0.0).sum(1), self.vm_cores) / self.vm_cores
        return util, busy

    def clear(self) -> None:
        self.jn[:] = 0
        self.jw[:], self.jp[:], self.ju[:], self.jid[:] = 0.0, 0.0, 0.0, -1
