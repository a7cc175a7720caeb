"""DNN-split tasks on the engine's state: the stages of an action and the work heading to each server.

Array functions only (no state of their own); ``sim.dynamics`` calls them. Units: s, bit, cycles.
"""

from __future__ import annotations

import numpy as np

from .params import Params


def dnn_stages(obs, action: np.ndarray, p: Params) -> tuple[np.ndarray, ...]:
    """For a ``dynamics.Obs``: (k, e, device cycles, upload bits, edge cycles) of each row's DNN action
    ``(v * K + k) * E + e``; a ValueError for an action outside ``0..V*K*E-1``, a split deeper than the
    task's network or a variant it may not run (missing, or below its minimum top-1)."""
    t = p.dnn
    a = np.asarray(action, np.int64)
    if a.size and (a.min() < 0 or a.max() >= t.n_actions):
        raise ValueError(f"decide: a DNN action must be (v * K + k) * E + e in 0..{t.n_actions - 1}")
    j, e = t.column_of(a)
    k = j % t.n_splits
    net = np.asarray(obs.net, np.int64)
    if a.size and (k > t.n_layers[net]).any():
        raise ValueError("decide: split k deeper than the task's network (k <= its number of layers)")
    if a.size and not t.allowed[net, j // t.n_splits].all():
        raise ValueError(f"decide: a model variant the task's network does not have within dnn.max_top1_loss = "
                         f"{t.max_top1_loss:g} points of its fp32 top-1")
    return (k, e, t.dev_s[net, j] * p.f_loc, t.up_bits[net, j], t.srv_s[net, j, e] * obs.f_edge[np.arange(len(a)), e])


def dnn_pending(s) -> tuple[np.ndarray, np.ndarray]:
    """For a ``dynamics.SimState`` s: (B,E) edge cycles and count of the tasks heading to each server (chained local stages and
    uploads; not yet in service)."""
    B, E = s.eq_n.shape
    cyc, cnt = np.zeros((B, E)), np.zeros((B, E))
    for dest, work, n, on in ((s.uq_dest, s.uq_ecyc, s.uq_n, None), (s.lq_dest, s.lq_ecyc, s.lq_n, s.lq_up)):
        live = np.arange(dest.shape[-1]) < n[..., None]
        if on is not None:
            live &= on > 0
        b = np.broadcast_to(np.arange(B)[:, None, None], dest.shape)[live]
        np.add.at(cyc, (b, dest[live]), work[live])
        np.add.at(cnt, (b, dest[live]), 1.0)
    return cyc, cnt
