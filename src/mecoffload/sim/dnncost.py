"""Decision-time estimates of DNN-split tasks (``Params.dnn``, docs/dnn.md), vectorised / compiled.

For a task of network ``net`` and action ``(v, k, e)`` — column ``j = v * K + k`` of the tables
(``dnn.tasks``: device part ``dev_s[j]``, upload ``up_bits[j]``, edge part ``srv_s[j, e]``; variant v
only where the network has it within its minimum top-1, ``DnnTables.allowed``):

- **alone** (``alone_latency``, Neurosurgeon's view): ``dev_s + up_bits / R_e + srv_s`` at this slot's
  rate R_e, ignoring every queue.
- **queue-aware** (``queue_latency`` and the compiled ``plan_rows``), what ``kernels.serve_envs`` does
  to the task, term by term as ``sim.cost.queue_costs``: the local stage ends at
  ``L = T^{wait,loc} + dev_s`` (the device's own FIFO); a chained task's upload joins the device's
  uplink FIFO at a slot boundary (``L + Δt/2`` on average) after what is queued there (``W^up``), so it
  starts at ``max(L + Δt/2, W^up)`` (full offload: at ``W^up``) and lasts ``up_bits / R̄_e`` (mean
  rate); the edge part joins server e half a slot later on average, ``S_e``, and shares F_e by
  processor sharing with the n_e competitors — the tasks in service **and** the DNN tasks already
  heading to e (local stage or upload, ``Obs.n_pending``), taken as equal remaining works
  ``w̄ = W_e / n_e`` that are served ``F_e·S_e / n_e`` each until the task arrives; then the task's
  work w and the ``n'_e`` competitors with work left share F_e: ``T^c = (w + n'_e·min(w̄', w)) / F_e``.
  Latency ``S_e + T^c``; all-local (``k = n``): ``L``.

``plan_rows`` is the sequential (load-aware) oracle: rows of one group (an env) are decided in
order, each seeing the previous ones (its local stage, upload and edge work added to the group's
state). Units: s, bit, Hz, cycles.
"""

from __future__ import annotations

import numpy as np

from .dynamics import Obs
from .kernels import njit
from .params import Params


def alone_latency(obs: Obs, p: Params) -> np.ndarray:
    """(n, V*K, E) latency (s) of every (column j = v * K + k, server e) for each row's task alone at this
    slot's rate (reshape to (n, V, K, E) for the variant axis); inf for invalid columns."""
    t = p.dnn
    net = np.asarray(obs.net, np.int64)
    up = t.up_bits[net][:, :, None] / obs.rate[:, None, :]
    return t.dev_s[net][:, :, None] + up + t.srv_s[net]


def energy(obs: Obs, p: Params) -> np.ndarray:
    """(n, V*K) device energy (J) of every column j = v * K + k of each row's task; inf where invalid."""
    return p.dnn.energy_j[np.asarray(obs.net, np.int64)]


def _obs_groups(obs: Obs) -> tuple:
    """Per-row group state of an observation (each row its own group of one user)."""
    n = len(obs)
    return (np.arange(n), np.zeros(n, np.int64), np.asarray(obs.net, np.int64), obs.local_wait_s[:, None].copy(),
            obs.uplink_wait_s[:, None].copy(), obs.mean_rate[:, None, :], obs.f_edge,
            (obs.n_in_service + obs.n_pending).astype(np.float64), obs.backlog_cycles + obs.pending_cycles)


def queue_latency(obs: Obs, p: Params) -> np.ndarray:
    """(n, V*K, E) queue-aware latency (s) of every (column j = v * K + k, e) for each row (rows
    independent; reshape to (n, V, K, E) for the variant axis); inf for invalid columns."""
    t = p.dnn
    g, u, net, lw, uw, rate, f, n_c, w_c = _obs_groups(obs)
    out = np.empty((len(obs), t.n_columns, t.n_servers))
    _fill_rows(g, u, net, lw, uw, rate, f, n_c, w_c, t.dev_s, t.up_bits, t.srv_s, t.n_layers, t.allowed, p.slot_s, out)
    return out


def queue_oracle(obs: Obs, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """(actions ``(v * K + k) * E + e``, their estimated latency s) minimising the queue-aware estimate, rows
    independent."""
    t = p.dnn
    return plan_rows(*_obs_groups(obs), t.dev_s, t.up_bits, t.srv_s, t.n_layers, t.allowed, p.slot_s, False)


@njit(inline="always")
def latency_of(k, e, nl, lw, uw, rate, f, n_c, w_c, dev_s, up_bits, srv_s, dt):
    """Queue-aware latency (s) of split k at server e (module doc); scalar arguments of one row."""
    local = lw + dev_s if k > 0 else 0.0
    if k == nl:
        return local
    go = max(local + 0.5 * dt, uw) if k > 0 else uw
    start = go + up_bits / rate + 0.5 * dt
    w = srv_s * f
    left = 0.0
    if n_c > 0:
        left = max(w_c / n_c - f * start / n_c, 0.0)
    n_left = n_c if left > 0 else 0.0
    return start + (w + n_left * min(left, w)) / f


@njit
def _fill_rows(grp, usr, net, lw, uw, rate, f, n_c, w_c, dev_s, up_bits, srv_s, n_layers, allowed, dt, out):
    """out[i, j, e] = queue-aware latency of row i (its group's state, no updates); inf for invalid columns
    j = v * K + k (k beyond the network, variant v not allowed for it)."""
    J, E = dev_s.shape[1], srv_s.shape[2]
    K = J // allowed.shape[1]
    for i in range(grp.size):
        g, u, m = grp[i], usr[i], net[i]
        nl = n_layers[m]
        for j in range(J):
            k = j % K
            for e in range(E):
                if k > nl or not allowed[m, j // K]:
                    out[i, j, e] = np.inf
                else:
                    out[i, j, e] = latency_of(k, e, nl, lw[g, u], uw[g, u], rate[g, u, e], f[g, e], n_c[g, e], w_c[g, e],
                                            dev_s[m, j], up_bits[m, j], srv_s[m, j, e], dt)


@njit
def plan_rows(grp, usr, net, lw, uw, rate, f, n_c, w_c, dev_s, up_bits, srv_s, n_layers, allowed, dt, sequential):
    """Per row i (group ``grp[i]``, user ``usr[i]`` within it, network ``net[i]``) the action
    ``(v * K + k) * E + e`` of least queue-aware latency over its allowed variants (``allowed`` (N, V)),
    and that latency (s). Group state: local wait lw (G,U) s, uplink wait uw (G,U) s, mean rate (G,U,E)
    bit/s, F (G,E) Hz, competitors n_c (G,E) and their cycles w_c (G,E). With ``sequential`` each
    decision updates its group (the local stage lengthens the user's local wait, a full offload its
    uplink wait, any edge part adds one competitor of its cycles at e), in row order; the arrays are
    updated in place. Ties: the earlier variant, then the smaller k, then the smaller e."""
    V, E = allowed.shape[1], srv_s.shape[2]
    K = dev_s.shape[1] // V
    n = grp.size
    act = np.empty(n, np.int64)
    best_s = np.empty(n)
    for i in range(n):
        g, u, m = grp[i], usr[i], net[i]
        nl = n_layers[m]
        best, bj, be = np.inf, nl, 0
        for v in range(V):
            if not allowed[m, v]:
                continue
            for k in range(nl + 1):
                j = v * K + k
                for e in range(E):
                    c = latency_of(k, e, nl, lw[g, u], uw[g, u], rate[g, u, e], f[g, e], n_c[g, e], w_c[g, e],
                                 dev_s[m, j], up_bits[m, j], srv_s[m, j, e], dt)
                    if c < best:
                        best, bj, be = c, j, e
                    if k == nl:
                        break  # all-local: the server does not matter
        act[i] = bj * E + be
        best_s[i] = best
        if sequential:
            commit(g, u, m, bj, bj % K, be, nl, lw, uw, rate, f, n_c, w_c, dev_s, up_bits, srv_s)
    return act, best_s


@njit(inline="always")
def commit(g, u, m, j, k, e, nl, lw, uw, rate, f, n_c, w_c, dev_s, up_bits, srv_s):
    """Add a decided column j (split k) at server e of network m by user u to group g's state: its device
    part to the local wait, a full offload's upload to the uplink wait, any edge part as one more
    competitor at e."""
    if k > 0:
        lw[g, u] += dev_s[m, j]
    elif k < nl:
        uw[g, u] += up_bits[m, j] / rate[g, u, e]
    if k < nl:
        n_c[g, e] += 1.0
        w_c[g, e] += srv_s[m, j, e] * f[g, e]
