"""Compiled (Numba) slotted queue service (``sim.service = "slotted"``, issue 14 item 6).

The discrete-time model of much of the DRL offloading literature (e.g. M. Tang and V. W. S. Wong,
"Deep reinforcement learning for task offloading in mobile edge computing systems", IEEE Trans.
Mobile Computing 21(6), 2022, Sec. 3): within one slot of length Δt

- each device's local CPU serves only the head task of its FIFO, with f_loc·Δt cycles; a task
  that finishes mid-slot leaves the rest of the slot unused (the next task starts next slot);
- each device's uplink serves only its head upload, with R·Δt bits at this slot's rate R towards
  its destination; the rest of the slot is lost likewise; a finished upload joins its server at
  the slot boundary, at the tail of that device's queue there;
- an edge server keeps one FIFO per source device (the tasks of ``eq_*`` in the order they
  entered, with their device in ``eq_user``); the devices with a task there at the start of the
  slot (k of them) each get F_e·Δt/k cycles for the slot, fixed even when one finishes early,
  and each serves its head task only.

Deadlines, drops (counted where the task was), energy (κ·f_loc² per local cycle, P_tx per second
on air), latency records (s, the moment within the slot a task finishes) and the decision-time
estimates N_e, L_e, the L_e history and the local waits are as in ``kernels.serve_envs``; the
same ``serve_plan`` sizes the buffers. Envs are independent (the GIL is released).
Units: seconds (s), bits (bit), Hz, cycles, watts (W), joules (J); t and arrival slots are slot indices.
"""

from __future__ import annotations

import numpy as np

from .kernels import TOL, _row_sum, njit, rate_bps
from .kernels_dnn import hand_off as _hand_off_inline
from .kernels_dnn import join_uplinks

hand_off = njit(_hand_off_inline.py_func)  # a real call here: inlined, it slowed the generic slotted loop


@njit(nogil=True)
def serve_envs_slotted(lo, hi, t, dt, expire_age, f_loc, e_loc_per_cycle, tx_power_w, bandwidth_hz, gamma,
                       fade_u, snr_mean, f_edge, lq_cyc, lq_arr, lq_est, lq_id, lq_n, uq_bits, uq_size, uq_dest,
                       uq_arr, uq_est, uq_id, uq_n, eq_cyc, eq_arr, eq_est, eq_id, eq_user, eq_n, n_active,
                       backlog_bits, local_wait_cyc, hist, rec_at, lat_buf, where_buf, est_buf, id_buf, n_rec,
                       completed, dropped, work_edge, energy, lq_up, lq_dest, lq_ecyc, uq_ecyc, chained):
    """One slotted slot of service for envs ``lo..hi-1``: the arguments of ``kernels.serve_envs``
    plus ``eq_user`` (B,E,QE), the source device of each task at a server (see the module doc).
    The ``*_est`` and ``*_id`` columns (each task's decision-time estimate, s, and its id) travel
    with the tasks into ``est_buf`` and ``id_buf`` beside their latency records.

    Chained (DNN-split) tasks as in ``kernels.serve_envs``: a local head with ``lq_up > 0`` that
    finishes hands its upload (``lq_up`` bit to ``lq_dest``, ``lq_ecyc`` cycles there) to the tail of
    its uplink FIFO at the slot boundary, after the slot's uplink service (dropped at the local stage
    if its deadline ends now); a finished upload joins its server with ``uq_ecyc`` cycles (γ·D for a
    generic task, the same product as before). ``chained`` False (no DNN-split task in the state)
    skips the follow-up columns of the local queues (their zeros need no moving)."""
    U = lq_n.shape[1]
    E = f_edge.shape[1]
    mark = np.full(U, -1, np.int64)  # per-device stamps: "seen in this pass over a server queue"
    stamp = 0
    hand = np.zeros(U, np.int64)  # local stages handed to the uplink this slot (0 or 1 per device)
    hand_at = np.zeros(U, np.int64)  # where: the uplink length before service
    for b in range(lo, hi):
        tb = t[b]
        at = rec_at[b, 0]
        e_dev = 0.0
        n_hand = 0
        for u in range(U):
            at, e_used, h = _local_head(b, u, tb, dt, expire_age, f_loc, lq_cyc, lq_arr, lq_est, lq_id, lq_n, lat_buf,
                                        where_buf, est_buf, id_buf, at, completed, dropped, lq_up, lq_dest, lq_ecyc,
                                        uq_bits, uq_size, uq_dest, uq_arr, uq_est, uq_id, uq_ecyc, uq_n, chained)
            if h:
                hand[u], hand_at[u] = h, uq_n[b, u]
                n_hand += h
            e_dev += e_loc_per_cycle * e_used
        n_rec[b, 0] = at - rec_at[b, 0]
        at = rec_at[b, 1]
        for e in range(E):
            n_active[b, e] = 0.0  # tallies of the uploads still queued, filled below
            backlog_bits[b, e] = 0.0
            at, stamp = _edge_heads(b, e, tb, dt, expire_age, f_edge[b, e], eq_cyc, eq_arr, eq_est, eq_id, eq_user,
                                    eq_n, mark, stamp, lat_buf, where_buf, est_buf, id_buf, at, completed, dropped,
                                    work_edge)
        n_rec[b, 1] = at - rec_at[b, 1]
        for u in range(U):
            air = _uplink_head(b, u, tb, dt, expire_age, bandwidth_hz, gamma, fade_u, snr_mean, uq_bits, uq_size,
                               uq_dest, uq_arr, uq_est, uq_id, uq_ecyc, uq_n, eq_cyc, eq_arr, eq_est, eq_id, eq_user,
                               eq_n, n_active, backlog_bits, dropped, chained)
            e_dev += tx_power_w * air
        energy[b] = e_dev
        if n_hand:
            join_uplinks(b, hand, hand_at, uq_bits, uq_size, uq_dest, uq_arr, uq_est, uq_id, uq_ecyc, uq_n, n_active,
                         backlog_bits)
            hand[:] = 0
        _estimates(b, gamma, lq_cyc, lq_n, eq_cyc, eq_n, n_active, backlog_bits, local_wait_cyc, hist)
        t[b] = tb + 1


@njit(inline="always")
def _local_head(b, u, tb, dt, expire_age, f_loc, lq_cyc, lq_arr, lq_est, lq_id, lq_n, lat_buf, where_buf, est_buf,
                id_buf, at, completed, dropped, lq_up, lq_dest, lq_ecyc, uq_bits, uq_size, uq_dest, uq_arr, uq_est, uq_id,
                uq_ecyc, uq_n, chained):
    """Device u's local FIFO for one slot: the head gets f_loc·Δt cycles (a chained task's finished
    local stage is handed to the uplink, written past its end), then expired tasks are dropped.
    Returns (next record index, cycles executed, stages handed on: 0 or 1)."""
    n = lq_n[b, u]
    if n == 0:
        return at, 0.0, 0
    cap = f_loc * dt
    w = lq_cyc[b, u, 0]
    start = 0
    handed = 0
    if w <= cap * (1 + TOL):
        if chained and lq_up[b, u, 0] > 0.0:  # a chained task's local stage ends: its upload joins at the boundary
            if tb - lq_arr[b, u, 0] < expire_age:  # else its deadline ends now: dropped at the local stage
                hand_off(b, u, 0, uq_n[b, u], lq_arr[b, u, 0], lq_est, lq_id, lq_up, lq_dest, lq_ecyc, uq_bits,
                         uq_size, uq_dest, uq_arr, uq_est, uq_id, uq_ecyc)
                handed = 1
            else:
                dropped[b, 0] += 1
        else:
            lat_buf[at] = (tb - lq_arr[b, u, 0]) * dt + w / f_loc
            where_buf[at] = 0
            est_buf[at] = lq_est[b, u, 0]
            id_buf[at] = lq_id[b, u, 0]
            at += 1
            completed[b] += 1
        start = 1
        used = w
    else:
        lq_cyc[b, u, 0] = w - cap
        used = cap
        if tb - lq_arr[b, u, 0] < expire_age:  # arrival slots never decrease along a FIFO: none expires
            return at, used, 0
    m = 0
    for i in range(start, n):
        a = lq_arr[b, u, i]
        if tb - a >= expire_age:
            dropped[b, 0] += 1
        else:
            lq_cyc[b, u, m] = lq_cyc[b, u, i]
            lq_arr[b, u, m] = a
            lq_est[b, u, m] = lq_est[b, u, i]
            lq_id[b, u, m] = lq_id[b, u, i]
            if chained:
                lq_up[b, u, m] = lq_up[b, u, i]
                lq_dest[b, u, m] = lq_dest[b, u, i]
                lq_ecyc[b, u, m] = lq_ecyc[b, u, i]
            m += 1
    _zero_tail(lq_cyc, b, u, m, n)
    _zero_tail(lq_est, b, u, m, n)
    _zero_tail(lq_arr, b, u, m, n)
    _zero_tail(lq_id, b, u, m, n)
    if chained:
        _zero_tail(lq_up, b, u, m, n)
        _zero_tail(lq_dest, b, u, m, n)
        _zero_tail(lq_ecyc, b, u, m, n)
    lq_n[b, u] = m
    return at, used, handed


@njit(inline="always")
def _edge_heads(b, e, tb, dt, expire_age, f, eq_cyc, eq_arr, eq_est, eq_id, eq_user, eq_n, mark, stamp, lat_buf,
                where_buf, est_buf, id_buf, at, completed, dropped, work_edge):
    """Server e for one slot: the k devices with tasks there each get F·Δt/k cycles for their
    head task; then expired tasks are dropped; entry order is kept. Returns (record index, stamp)."""
    n = eq_n[b, e]
    work_edge[b, e] = 0.0
    if n == 0:
        return at, stamp
    stamp += 1
    k = 0
    for i in range(n):  # active per-device queues at the start of the slot
        u = eq_user[b, e, i]
        if mark[u] != stamp:
            mark[u] = stamp
            k += 1
    f_q = f / k  # Hz per active queue
    share = f_q * dt  # cycles per active queue this slot
    stamp += 1
    w_done = 0.0
    m = 0
    for i in range(n):
        c, a, u = eq_cyc[b, e, i], eq_arr[b, e, i], eq_user[b, e, i]
        if mark[u] != stamp:  # the head of device u's queue
            mark[u] = stamp
            if c <= share * (1 + TOL):
                lat_buf[at] = (tb - a) * dt + c / f_q
                where_buf[at] = e + 1
                est_buf[at] = eq_est[b, e, i]
                id_buf[at] = eq_id[b, e, i]
                at += 1
                completed[b] += 1
                w_done += c
                continue
            c -= share
            w_done += share
        if tb - a >= expire_age:
            dropped[b, 2] += 1
            continue
        eq_cyc[b, e, m] = c
        eq_arr[b, e, m] = a
        eq_est[b, e, m] = eq_est[b, e, i]
        eq_id[b, e, m] = eq_id[b, e, i]
        eq_user[b, e, m] = u
        m += 1
    _zero_tail(eq_cyc, b, e, m, n)
    _zero_tail(eq_est, b, e, m, n)
    _zero_tail(eq_arr, b, e, m, n)
    _zero_tail(eq_id, b, e, m, n)
    _zero_tail(eq_user, b, e, m, n)
    eq_n[b, e] = m
    work_edge[b, e] = w_done
    return at, stamp


@njit(inline="always")
def _uplink_head(b, u, tb, dt, expire_age, bandwidth_hz, gamma, fade_u, snr_mean, uq_bits, uq_size, uq_dest, uq_arr,
                 uq_est, uq_id, uq_ecyc, uq_n, eq_cyc, eq_arr, eq_est, eq_id, eq_user, eq_n, n_active, backlog_bits,
                 dropped, chained):
    """Device u's uplink FIFO for one slot: the head gets R·Δt bits; a finished upload joins the
    tail of its server's queue (or is dropped there if its deadline ends now); then expired
    uploads are dropped and the rest tallied into N_e, L_e. Returns the seconds on air."""
    n = uq_n[b, u]
    if n == 0:
        return 0.0
    e = uq_dest[b, u, 0]
    r = rate_bps(fade_u[b, u, e], snr_mean[b, u, e], bandwidth_hz)
    bits = uq_bits[b, u, 0]
    start = 0
    if bits / r <= dt * (1 + TOL):
        air = bits / r
        a = uq_arr[b, u, 0]
        if tb - a >= expire_age:
            dropped[b, 2] += 1
        else:
            q = eq_n[b, e]
            eq_cyc[b, e, q] = uq_ecyc[b, u, 0] if chained else uq_size[b, u, 0] * gamma  # cycles at the server
            eq_arr[b, e, q] = a
            eq_est[b, e, q] = uq_est[b, u, 0]
            eq_id[b, e, q] = uq_id[b, u, 0]
            eq_user[b, e, q] = u
            eq_n[b, e] = q + 1
        start = 1
    else:
        uq_bits[b, u, 0] = bits - r * dt
        air = dt
        if tb - uq_arr[b, u, 0] < expire_age:  # none expires (arrival slots never decrease along a FIFO)
            for i in range(n):
                e = uq_dest[b, u, i]
                n_active[b, e] += 1.0
                backlog_bits[b, e] += uq_size[b, u, i]
            return air
    m = 0
    for i in range(start, n):
        a, d, e = uq_arr[b, u, i], uq_size[b, u, i], uq_dest[b, u, i]
        if tb - a >= expire_age:
            dropped[b, 1] += 1
            continue
        uq_bits[b, u, m] = uq_bits[b, u, i]
        uq_size[b, u, m] = d
        uq_dest[b, u, m] = e
        uq_arr[b, u, m] = a
        uq_est[b, u, m] = uq_est[b, u, i]
        uq_id[b, u, m] = uq_id[b, u, i]
        if chained:
            uq_ecyc[b, u, m] = uq_ecyc[b, u, i]
        n_active[b, e] += 1.0
        backlog_bits[b, e] += d
        m += 1
    _zero_tail(uq_bits, b, u, m, n)
    _zero_tail(uq_size, b, u, m, n)
    _zero_tail(uq_est, b, u, m, n)
    _zero_tail(uq_dest, b, u, m, n)
    _zero_tail(uq_arr, b, u, m, n)
    _zero_tail(uq_id, b, u, m, n)
    if chained:
        _zero_tail(uq_ecyc, b, u, m, n)
    uq_n[b, u] = m
    return air


@njit(inline="always")
def _zero_tail(col, b, r, m, n):
    """Zero entries m..n-1 of queue row (b, r): 0 beyond the end of every queue."""
    for i in range(m, n):
        col[b, r, i] = 0


@njit(inline="always")
def _estimates(b, gamma, lq_cyc, lq_n, eq_cyc, eq_n, n_active, backlog_bits, local_wait_cyc, hist):
    """Decision-time estimates after the slot, as in ``kernels.serve_envs``: N_e += tasks at e,
    L_e += their cycles/γ (bit), the L_e history shifted, and the local waits (cycles)."""
    E, H = hist.shape[1], hist.shape[2]
    for e in range(E):
        n = eq_n[b, e]
        n_active[b, e] += n
        if n:
            backlog_bits[b, e] = _row_sum(eq_cyc, b, e, n) / gamma + backlog_bits[b, e]
        for h in range(H - 1):
            hist[b, e, h] = hist[b, e, h + 1]
        hist[b, e, H - 1] = backlog_bits[b, e]
    for u in range(lq_n.shape[1]):
        local_wait_cyc[b, u] = _row_sum(lq_cyc, b, u, lq_n[b, u]) if lq_n[b, u] else 0.0
