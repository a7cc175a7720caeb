"""VM choice inside a tier, shared by the tier policies (and dl-tier, the adapter).

The feasible VM with the best score; when several tasks of one environment pick from the
same set in one pass, the k-th of them takes the k-th best VM (round robin over the ranking),
which is what choosing one after the other with updated loads does for tasks of similar size.
The engine's exact admission settles the rest. Utilisation in %.
"""

from __future__ import annotations

import numpy as np

from ..sim.arrays import group_rank
from .obs import REJECT, TierObs


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
