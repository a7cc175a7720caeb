"""Where every device is, and how many devices an access point has, at any instant (exact).

EdgeCloudSim looks the device's access point up at exact times (task creation, upload end,
download end) and its M/M/1 delays depend on the number of devices at the access point at that
instant. :class:`ApTimeline` answers both from the workload's mobility events (nomadic
mobility, :mod:`mecoffload.tiers.workload`) by binary search on sorted keys, vectorised over
queries. Workload environment ``e`` (a device count x seed) and access point ``a`` form the key
``e·N + a``; times in s.
"""

from __future__ import annotations

import numpy as np

from ..tiers.arrays import run_starts, search_right
from ..tiers.workload import Workload


class ApTimeline:
    """Mobility of the devices of every workload environment of ``wl`` (N access points);
    times must be below ``tspan`` (s)."""

    def __init__(self, wl: Workload, n_servers: int, tspan: float):
        N = self.n_servers = n_servers
        M = self.M = wl.init_ap.shape[1]
        self.tspan = tspan
        self.init_ap = wl.init_ap.astype(np.int64)
        gid = wl.move_env.astype(np.int64) * M + wl.move_dev
        mo = np.lexsort((wl.move_t, gid))
        self.m_gid = gid[mo]
        self.m_ap = wl.move_ap[mo].astype(np.int64)
        self.m_key = self.m_gid * tspan + wl.move_t[mo]
        prev_same = np.concatenate([[False], self.m_gid[1:] == self.m_gid[:-1]])
        from_ap = np.where(prev_same, np.concatenate([[0], self.m_ap[:-1]]), self.init_ap[wl.move_env[mo], wl.move_dev[mo]])
        to = np.argsort(wl.move_t[mo], kind="stable")  # time order, for the per-access-point counts
        self.mv_t = wl.move_t[mo][to]
        self.mv_from = (wl.move_env[mo] * N + from_ap)[to]
        self.mv_to = (wl.move_env[mo] * N + self.m_ap)[to]
        self.mv_pos = 0
        n_dev = np.array([n for n, _ in wl.envs])
        n_wenv = len(wl.envs)
        self.count = np.zeros(n_wenv * N, np.int64)
        """devices per (workload env, access point) now (advanced by :meth:`advance`)"""
        for e in range(n_wenv):
            self.count[e * N:(e + 1) * N] = np.bincount(self.init_ap[e, :n_dev[e]], minlength=N)
        self._count_series()

    def _count_series(self) -> None:
        """Device counts per (workload env, access point) after every move, for :meth:`count_at`."""
        self.count0 = self.count.copy()
        ck = np.concatenate([self.mv_from, self.mv_to])
        cd = np.concatenate([-np.ones(self.mv_t.size, np.int64), np.ones(self.mv_t.size, np.int64)])
        ct = np.concatenate([self.mv_t, self.mv_t])
        o = np.lexsort((ct, ck))
        ck, cd, ct = ck[o], cd[o], ct[o]
        _, seg = run_starts(ck)
        cs = np.cumsum(cd)
        self.c_k = ck
        self.c_key = ck * self.tspan + ct
        self.c_val = self.count0[ck] + cs - (cs[seg] - cd[seg])

    def ap_at(self, e: np.ndarray, dev: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Access point of device ``dev`` of workload env ``e`` at time ``t``."""
        if not self.m_gid.size:
            return self.init_ap[e, dev]
        gid = e * self.M + dev
        k = search_right(self.m_key, gid * self.tspan + t) - 1
        kk = np.maximum(k, 0)
        ok = (k >= 0) & (self.m_gid[kk] == gid)
        return np.where(ok, self.m_ap[kk], self.init_ap[e, dev])

    def count_at(self, k: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Devices at access point ``k`` (= workload env * N + access point) at time ``t``."""
        if not self.c_key.size:
            return self.count0[k]
        i = search_right(self.c_key, k * self.tspan + t) - 1
        ii = np.maximum(i, 0)
        return np.where((i >= 0) & (self.c_k[ii] == k), self.c_val[ii], self.count0[k])

    def advance(self, t0: float) -> bool:
        """Apply the moves up to ``t0`` to :attr:`count`; True if any happened."""
        hi = int(np.searchsorted(self.mv_t, t0, side="right"))
        if hi <= self.mv_pos:
            return False
        s = slice(self.mv_pos, hi)
        np.subtract.at(self.count, self.mv_from[s], 1)
        np.add.at(self.count, self.mv_to[s], 1)
        self.mv_pos = hi
        return True
