"""Compiled (Numba) loops of DNN-split (chained) tasks: their decisions and the hand-off of a finished
local stage to the uplink FIFO, used by ``sim.kernels.serve_envs`` (docs/dnn.md).

A chained task carries its follow-up in the local queue (``lq_up`` bit to upload, ``lq_dest`` its
server, ``lq_ecyc`` its work there in cycles); every upload carries its server work in ``uq_ecyc``.
Units: bit, cycles, s.
"""

from __future__ import annotations

from functools import partial

from numba import njit as _njit

njit = partial(_njit, cache=True, error_model="numpy")  # as sim.kernels


@njit(inline="always")
def append_upload(b, u, e, bits, ecyc, a, est, tid, uq_bits, uq_size, uq_dest, uq_arr, uq_est, uq_id, uq_ecyc, uq_n,
                  n_active, backlog_bits):
    """Append one upload (``bits`` bit towards server e, ``ecyc`` cycles there, arrival slot a, estimate
    est s, id tid) to user u's uplink FIFO; N_e and L_e count it."""
    pos = uq_n[b, u]
    uq_bits[b, u, pos] = bits
    uq_size[b, u, pos] = bits
    uq_dest[b, u, pos] = e
    uq_arr[b, u, pos] = a
    uq_est[b, u, pos] = est
    uq_id[b, u, pos] = tid
    uq_ecyc[b, u, pos] = ecyc
    uq_n[b, u] = pos + 1
    n_active[b, e] += 1.0
    backlog_bits[b, e] += bits


@njit
def decide_dnn_rows(env, user, dev_cyc, up_bits, dest, edge_cyc, est, t, lq_cyc, lq_arr, lq_est, lq_id, lq_up, lq_dest,
                    lq_ecyc, lq_n, local_wait_cyc, uq_bits, uq_size, uq_dest, uq_arr, uq_est, uq_id, uq_ecyc, uq_n,
                    n_active, backlog_bits, arrived):
    """Append each row's chained (DNN-split) task to its queues: ``dev_cyc`` (n,) cycles on the device,
    then ``up_bits`` (n,) bit up to server ``dest`` (n,) 0..E-1, then ``edge_cyc`` (n,) cycles there.

    ``dev_cyc > 0``: the task enters the local FIFO carrying its follow-up (``lq_up``, ``lq_dest``,
    ``lq_ecyc``; ``up_bits = 0`` ends it at the local stage, the all-local split); ``dev_cyc = 0`` (full
    offload): it enters the uplink FIFO at once, counted in N_e and L_e as any upload. ``est`` (n,) s
    and the task id travel with it as in ``decide_rows``. Returns (local width needed, uplink width
    needed): (0, 0) when done, else nothing was written.
    """
    B, U = lq_n.shape
    E = n_active.shape[1]
    need_l = 0
    need_u = 0
    for r in range(env.size):
        b, u = env[r], user[r]
        if not (0 <= b < B and 0 <= u < U):
            raise IndexError("decide: row of an env or user that does not exist")
        if not 0 <= dest[r] < E:
            raise ValueError("decide: a DNN task's server must be 0..E-1")
        if dev_cyc[r] > 0.0:
            need_l = max(need_l, lq_n[b, u] + 1)
        else:
            need_u = max(need_u, uq_n[b, u] + 1)
    if need_l > lq_cyc.shape[2] or need_u > uq_bits.shape[2]:
        return need_l, need_u
    for r in range(env.size):
        b, u, e = env[r], user[r], dest[r]
        if dev_cyc[r] > 0.0:
            pos = lq_n[b, u]
            lq_cyc[b, u, pos] = dev_cyc[r]
            lq_arr[b, u, pos] = t[b]
            lq_est[b, u, pos] = est[r]
            lq_id[b, u, pos] = arrived[b]
            lq_up[b, u, pos] = up_bits[r]
            lq_dest[b, u, pos] = e
            lq_ecyc[b, u, pos] = edge_cyc[r]
            lq_n[b, u] = pos + 1
            local_wait_cyc[b, u] += dev_cyc[r]
        else:
            append_upload(b, u, e, up_bits[r], edge_cyc[r], t[b], est[r], arrived[b], uq_bits, uq_size, uq_dest, uq_arr,
                          uq_est, uq_id, uq_ecyc, uq_n, n_active, backlog_bits)
        arrived[b] += 1
    return 0, 0


@njit(inline="always")
def hand_off(b, u, i, q, a, lq_est, lq_id, lq_up, lq_dest, lq_ecyc, uq_bits, uq_size, uq_dest, uq_arr, uq_est, uq_id,
              uq_ecyc):
    """Write local entry i's follow-up upload at uplink position q (beyond the queue until the slot
    boundary, ``join_uplinks``)."""
    up = lq_up[b, u, i]
    uq_bits[b, u, q] = up
    uq_size[b, u, q] = up
    uq_dest[b, u, q] = lq_dest[b, u, i]
    uq_arr[b, u, q] = a
    uq_est[b, u, q] = lq_est[b, u, i]
    uq_id[b, u, q] = lq_id[b, u, i]
    uq_ecyc[b, u, q] = lq_ecyc[b, u, i]


@njit
def join_uplinks(b, hand, hand_at, uq_bits, uq_size, uq_dest, uq_arr, uq_est, uq_id, uq_ecyc, uq_n, n_active,
                  backlog_bits):
    """Slot boundary: the uploads handed off by finished local stages (``hand[u]`` of them, written
    from ``hand_at[u]``) move to the tail of each uplink FIFO after its service; tallied into N_e, L_e."""
    for u in range(hand.shape[0]):
        h = hand[u]
        if h == 0:
            continue
        src, m = hand_at[u], uq_n[b, u]
        for j in range(h):
            uq_bits[b, u, m + j] = uq_bits[b, u, src + j]
            uq_size[b, u, m + j] = uq_size[b, u, src + j]
            uq_dest[b, u, m + j] = uq_dest[b, u, src + j]
            uq_arr[b, u, m + j] = uq_arr[b, u, src + j]
            uq_est[b, u, m + j] = uq_est[b, u, src + j]
            uq_id[b, u, m + j] = uq_id[b, u, src + j]
            uq_ecyc[b, u, m + j] = uq_ecyc[b, u, src + j]
            n_active[b, uq_dest[b, u, m + j]] += 1.0
            backlog_bits[b, uq_dest[b, u, m + j]] += uq_size[b, u, m + j]
        for i in range(max(m + h, src), src + h):
            uq_bits[b, u, i] = 0.0
            uq_size[b, u, i] = 0.0
            uq_dest[b, u, i] = 0
            uq_arr[b, u, i] = 0
            uq_est[b, u, i] = 0.0
            uq_id[b, u, i] = 0
            uq_ecyc[b, u, i] = 0.0
        uq_n[b, u] = m + h
