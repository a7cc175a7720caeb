"""Compiled (Numba) loops behind ``sim.dynamics`` and ``sim.cost``: estimated costs,
arrivals layout, observation gather, decisions and one slot of queue service.

Each kernel does, task by task, the arithmetic of the model in a fixed order, so results do
not depend on the batch size or on how envs are grouped; sums over a queue row follow
NumPy's pairwise order so that the estimates equal ``row.sum()`` bit for bit. Envs never
interact: ``serve_envs`` may run disjoint env ranges on several threads and the results
are identical for any thread count.

Queues are rows of fixed-width arrays, FIFO order, tasks at ``[0, n)`` and zeros beyond.
A kernel that would write past a row's width writes nothing and returns the width it needs;
the caller widens the arrays and calls it again.

Units: seconds (s), bits (bit), Hz, cycles, watts (W), joules (J), metres (m); ``t`` and
arrival slots are slot indices. Compiled code is cached next to this file (``cache=True``).
"""

from __future__ import annotations

from functools import partial

import numpy as np
from numba import njit as _njit

from .kernels_dnn import append_upload as _append_upload
from .kernels_dnn import hand_off as _hand_off
from .kernels_dnn import join_uplinks as _join_uplinks

njit = partial(_njit, cache=True, error_model="numpy")  # x/0 gives inf/nan as in NumPy

TOL = 1e-12
"""Relative slack when testing whether work fits into a slot's capacity."""


@njit(inline="always")
def rate_bps(fade_u, snr_mean, bandwidth_hz):
    """Eq 1 for one (user, server) pair: R = B·log2(1 + SNR̄·|h|²) bit/s, floored at 1 bit/s.

    fade_u: the slot's uniform draw u with |h|² = -ln(1-u) (Rayleigh). Same operations as
    ``cost.uplink_rate`` applied to ``dynamics.rates_of``.
    """
    gain = -np.log(1.0 - np.float64(fade_u))  # 1 - u is exact for a float32 u
    return max(bandwidth_hz * np.log2(1.0 + snr_mean * gain), 1.0)


# --------------------------------------------------------------------------- estimated cost


@njit
def cost_rows(bits, rate, local_wait_s, f_edge, n_active, backlog_bits, gamma, f_loc, late_s, rho_s,
              generalized, allow_local):
    """Estimated latency C (eqs 2-8) of every location for n tasks, (n, E+1) s, index 0 local.

    bits (n,) D bit; rate (n,E) bit/s; local_wait_s (n,) s; f_edge (n,E) Hz; n_active (n,E)
    N_e; backlog_bits (n,E) L_e bit. With ``generalized`` returns J = C + ρ·1(C > late_s)
    (eq 11, ``late_s`` = τ plus slack) and +inf for local when it is not allowed.
    """
    n, E = rate.shape
    out = np.empty((n, E + 1))
    for i in range(n):
        d = bits[i]
        dg = d * gamma  # cycles
        c = local_wait_s[i] + dg / f_loc  # eq 3
        out[i, 0] = c + rho_s if generalized and c > late_s else c
        o, r, f, na, bl = out[i, 1:], rate[i], f_edge[i], n_active[i], backlog_bits[i]
        for e in range(E):
            f_eff = f[e] / (na[e] + 1.0)  # eq 4
            c = d / r[e] + (bl[e] * gamma) / f_eff + dg / f_eff  # eqs 2, 5-7
            o[e] = c + rho_s if generalized and c > late_s else c
        if generalized and not allow_local:
            out[i, 0] = np.inf
    return out


# --------------------------------------------------------------------------- arrivals


@njit
def arrivals_layout(counts):
    """Where a slot's arrivals go: counts (B,U) tasks per user -> user (B,A) int64 and
    valid (B,A) bool, each env's tasks first in user order, padded (user 0, invalid) to
    A = the most tasks any env got."""
    B, U = counts.shape
    A = 0
    for b in range(B):
        A = max(A, counts[b].sum())
    user = np.zeros((B, A), np.int64)
    valid = np.zeros((B, A), np.bool_)
    for b in range(B):
        j = 0
        for u in range(U):
            for _ in range(counts[b, u]):
                user[b, j] = u
                valid[b, j] = True
                j += 1
    return user, valid


# --------------------------------------------------------------------------- observation


@njit
def observe_envs(valid, k):
    """Envs whose arrivals (valid (B,A)) include a k-th task, ascending."""
    if not 0 <= k < valid.shape[1]:
        raise IndexError("observe: k is not an arrival index of this slot")
    n = 0
    for b in range(valid.shape[0]):
        n += valid[b, k]
    env = np.empty(n, np.int64)
    i = 0
    for b in range(valid.shape[0]):
        if valid[b, k]:
            env[i] = b
            i += 1
    return env


@njit(nogil=True)
def observe_rows(lo, hi, env, k, arr_user, arr_bits, f_loc, bandwidth_hz, local_wait_cyc, fade_u, snr_mean,
                 f_edge, n_active, backlog_bits, hist, dist, mean_rate, uq_bits, uq_dest, uq_n, eq_cyc, eq_n,
                 bits, user, local_wait_s, rate, o_f_edge, o_n_active, o_backlog_bits, o_hist, o_dist,
                 o_mean_rate, uplink_bits, uplink_wait_s, n_uploading, n_in_service, backlog_cycles):
    """Fill rows lo..hi-1 of an observation: row i is the k-th arrival of env[i] (arrivals
    arr_user/arr_bits (B,A)). Outputs: bits (n,) bit, user (n,), local_wait_s (n,) s, rate
    (n,E) bit/s (eq 1), and the env's f_edge (n,E) Hz, n_active (n,E), backlog_bits (n,E)
    bit, hist (n,E,H) bit, dist (n,E) m; the queue view: mean rate (n,E) bit/s, the device's
    uplink FIFO (uplink_bits (n,) bit, uplink_wait_s (n,) s = Σ bits left / mean rate to their
    server), per server tasks uploading (n_active − in service), in service and their remaining
    cycles (n,E).
    """
    U = local_wait_cyc.shape[1]
    E, H = hist.shape[1], hist.shape[2]
    hist_rows, o_hist_rows = hist.reshape((hist.shape[0], E * H)), o_hist.reshape((o_hist.shape[0], E * H))
    for i in range(lo, hi):
        b = env[i]
        u = arr_user[b, k]
        if not 0 <= u < U:
            raise IndexError("observe: arrival of a user that does not exist")
        bits[i] = arr_bits[b, k]
        user[i] = u
        local_wait_s[i] = local_wait_cyc[b, u] / f_loc
        for e in range(E):
            o_f_edge[i, e] = f_edge[b, e]
            o_n_active[i, e] = n_active[b, e]
            o_backlog_bits[i, e] = backlog_bits[b, e]
            o_dist[i, e] = dist[b, u, e]
        for j in range(E * H):  # the history rows, flat
            o_hist_rows[i, j] = hist_rows[b, j]
        q_bits = 0.0
        q_wait = 0.0
        for j in range(uq_n[b, u]):
            q_bits += uq_bits[b, u, j]
            q_wait += uq_bits[b, u, j] / mean_rate[b, u, uq_dest[b, u, j]]
        uplink_bits[i] = q_bits
        uplink_wait_s[i] = q_wait
        for e in range(E):
            m = eq_n[b, e]
            o_mean_rate[i, e] = mean_rate[b, u, e]
            n_in_service[i, e] = m
            n_uploading[i, e] = n_active[b, e] - m
            backlog_cycles[i, e] = _row_sum(eq_cyc, b, e, m) if m else 0.0
    for i in range(lo, hi):  # the rates in a loop of their own (pipelines better)
        b, u = env[i], user[i]
        for e in range(E):
            rate[i, e] = rate_bps(fade_u[b, u, e], snr_mean[b, u, e], bandwidth_hz)


# --------------------------------------------------------------------------- decisions


@njit
def decide_rows(env, user, bits, action, est, allow_reject, gamma, t, lq_cyc, lq_arr, lq_est, lq_id, lq_n,
                local_wait_cyc, uq_bits, uq_size, uq_dest, uq_arr, uq_est, uq_id, uq_ecyc, uq_n, n_active, backlog_bits,
                arrived, rejected):
    """Append each row's task (``bits`` bit, from ``user`` of ``env``) to its queue.

    action 0 = local FIFO (γ·D cycles), e ≥ 1 = uplink FIFO towards server e-1 (D bit; its server work
    γ·D cycles is stored with it in ``uq_ecyc``),
    E+1 = reject (only with ``allow_reject``: the task ends now, counted in ``rejected``);
    N_e, L_e and the local wait are updated so that the next decision sees this one. ``est``
    (n,) is the decision-time estimated latency (s) that travels with the task to its record, as
    does its id: the env's count of tasks decided before it (``arrived``).
    Returns (local width needed, uplink width needed): (0, 0) when done, else nothing was
    written and the caller must widen the queues first.
    """
    B, U = lq_n.shape
    E = n_active.shape[1]
    top = E + 1 if allow_reject else E
    need_l = 0
    need_u = 0
    for r in range(env.size):
        b, u = env[r], user[r]
        if not (0 <= b < B and 0 <= u < U):
            raise IndexError("decide: row of an env or user that does not exist")
        if not 0 <= action[r] <= top:
            raise ValueError("decide: action must be 0 (local), a server 1..E or E+1 (reject, when allowed)")
        if action[r] == 0:
            need_l = max(need_l, lq_n[b, u] + 1)
        elif action[r] <= E:
            need_u = max(need_u, uq_n[b, u] + 1)
    if need_l > lq_cyc.shape[2] or need_u > uq_bits.shape[2]:
        return need_l, need_u
    for r in range(env.size):
        b, u, d = env[r], user[r], bits[r]
        if action[r] == 0:
            pos = lq_n[b, u]
            cyc = d * gamma
            lq_cyc[b, u, pos] = cyc
            lq_arr[b, u, pos] = t[b]
            lq_est[b, u, pos] = est[r]
            lq_id[b, u, pos] = arrived[b]
            lq_n[b, u] = pos + 1
            local_wait_cyc[b, u] += cyc
        elif action[r] > E:
            rejected[b] += 1
        else:
            _append_upload(b, u, action[r] - 1, d, d * gamma, t[b], est[r], arrived[b], uq_bits, uq_size, uq_dest,
                           uq_arr, uq_est, uq_id, uq_ecyc, uq_n, n_active, backlog_bits)
        arrived[b] += 1
    return 0, 0


# --------------------------------------------------------------------------- service
#
# A task that arrived in slot a must finish by the end of slot a+τ-1: at the end of slot t,
# tasks with t - a >= deadline_slots - 1 (``expire_age``, the last age a task is still served at) that are still unfinished are dropped where they
# are. FIFO queues hold arrival slots in non-decreasing order (tasks are appended at the
# current slot), so within a slot a FIFO's completed tasks come first, then the expired
# ones, then the survivors.


@njit(inline="always")
def _row_sum(a, b, r, n):
    """Σ a[b, r, :] where only the first n entries can be nonzero, reading only those, in
    NumPy's pairwise order (bit-identical to ``a.sum(-1)[b, r]``)."""
    width = a.shape[2]
    if n == 0:
        return 0.0
    if width < 8:
        s = 0.0
        for i in range(n):
            s += a[b, r, i]
        return s
    if width > 128:
        return _wide_row_sum(a[b, r], n, width)
    full = width - width % 8  # eight interleaved partial sums over whole blocks, then the tail
    r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = 0.0
    for i in range(0, min(full, (n + 7) // 8 * 8), 8):  # entries past n are 0
        r0 += a[b, r, i]
        r1 += a[b, r, i + 1]
        r2 += a[b, r, i + 2]
        r3 += a[b, r, i + 3]
        r4 += a[b, r, i + 4]
        r5 += a[b, r, i + 5]
        r6 += a[b, r, i + 6]
        r7 += a[b, r, i + 7]
    s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(full, n):
        s += a[b, r, i]
    return s


@njit
def _wide_row_sum(a, n, width):
    """``_row_sum`` of a 1-D row longer than NumPy's 128-entry pairwise block."""
    if n == 0:
        return 0.0
    if width <= 128:
        return _row_sum(a.reshape((1, 1, width)), 0, 0, n)
    half = width // 2
    half -= half % 8
    return _wide_row_sum(a[:half], min(n, half), half) + _wide_row_sum(a[half:], max(n - half, 0), width - half)


@njit
def serve_plan(lq_n, uq_n, uq_dest, eq_n, edge_width):
    """Bookkeeping before ``serve_envs``: where each env's latency records go, the server
    queue width the slot needs, and zeroed per-env outputs.

    Returns (edge width needed, 0 if ``edge_width`` suffices; rec_at (B+1, 2): first record
    of each env's local / edge completions; lat_buf, where_buf: record buffers; n_rec (B, 2):
    records written; completed (B,); dropped (B, 3) local/uplink/edge; work_edge (B, E)
    cycles; energy_j (B,) J). A server can end the slot with at most its own tasks plus the
    env's uploads towards it.
    """
    B, U = lq_n.shape
    E = eq_n.shape[1]
    rec_at = np.zeros((B + 1, 2), np.int64)
    need = 0
    per_server = np.empty(E, np.int64)
    for b in range(B):
        n_l = 0
        n_u = 0
        n_e = 0
        most = 0
        for u in range(U):
            n_l += lq_n[b, u]
            n_u += uq_n[b, u]
        for e in range(E):
            n_e += eq_n[b, e]
            most = max(most, eq_n[b, e])
        if most + n_u > edge_width:  # maybe too many uploads towards one server: count them
            per_server[:] = eq_n[b]
            for u in range(U):
                for i in range(uq_n[b, u]):
                    per_server[uq_dest[b, u, i]] += 1
            most = per_server.max()
            if most > edge_width:
                need = max(need, most)
        rec_at[b + 1, 0] = rec_at[b, 0] + n_l
        rec_at[b + 1, 1] = rec_at[b, 1] + n_e
    rec_at[:, 1] += rec_at[B, 0]  # edge records after all local ones
    n = rec_at[B, 1]
    return (need, rec_at, np.empty(n), np.empty(n, np.int64), np.zeros((B, 2), np.int64), np.zeros(B, np.int64),
            np.zeros((B, 3), np.int64), np.zeros((B, E)), np.zeros(B))


@njit(nogil=True)
def serve_envs(lo, hi, t, dt, expire_age, f_loc, e_loc_per_cycle, tx_power_w, bandwidth_hz, gamma,
               fade_u, snr_mean, f_edge, lq_cyc, lq_arr, lq_est, lq_id, lq_n, uq_bits, uq_size, uq_dest, uq_arr, uq_est,
               uq_id, uq_n, eq_cyc, eq_arr, eq_est, eq_id, eq_n, n_active, backlog_bits, local_wait_cyc, hist,
               rec_at, lat_buf, where_buf, est_buf, id_buf, n_rec, completed, dropped, work_edge, energy,
               lq_up, lq_dest, lq_ecyc, uq_ecyc):
    """One slot of service for envs ``lo..hi-1`` (queues updated in place, ``t`` advanced),
    then N_e, L_e (bit), the local waits (cycles) and the L_e history recomputed from the
    queues. Outputs and record buffers come from ``serve_plan``; envs are independent, so
    disjoint env ranges may run concurrently (the GIL is released).

    Per env: local FIFOs, servers (processor sharing over the tasks present at the start of
    the slot), uplink FIFOs (finished uploads join their server at the slot boundary), and
    deadline drops. Energy (J): κ·f_loc²·cycles executed locally (``e_loc_per_cycle`` =
    κ·f_loc²), P_tx·seconds on air. Latency records (s): ``lat_buf``, with ``where_buf``
    0 for local, e for server e, and ``est_buf`` the task's decision-time estimate (s; the
    ``*_est`` queue columns carry it along with the task) and ``id_buf`` its id (``*_id``).

    Chained (DNN-split) tasks: a local entry with ``lq_up > 0`` does not end when its local stage
    finishes; its upload (``lq_up`` bit to ``lq_dest``, then ``lq_ecyc`` cycles there) joins the tail
    of its uplink FIFO at the slot boundary, after the slot's uplink service (dropped at the local
    stage if its deadline ends now). An upload joins its server with the work of ``uq_ecyc``. The
    caller leaves room in the uplink rows for every local task (``dynamics.serve``).
    """
    U = lq_n.shape[1]
    E = f_edge.shape[1]
    H = hist.shape[2]
    r_head = np.empty(U)  # bit/s
    hand = np.zeros(U, np.int64)  # local stages handed to the uplink this slot, per user
    hand_at = np.zeros(U, np.int64)  # where they were written: the uplink length before service
    for b in range(lo, hi):
        tb = t[b]
        n_hand = 0
        # -- local FIFOs (cycles, f_loc·Δt per slot). Energy: queues where only the head
        #    ran ("head-only": it neither finishes nor expires) first, then the others.
        cap = f_loc * dt
        head_only = 0
        e_rest = 0.0
        at = rec_at[b, 0]
        for u in range(U):
            hand[u] = 0
            n = lq_n[b, u]
            if n == 0:
                continue
            if not (lq_cyc[b, u, 0] <= cap * (1 + TOL)) and tb - lq_arr[b, u, 0] < expire_age:
                lq_cyc[b, u, 0] -= cap
                head_only += 1
                continue
            cum = 0.0
            k_done = 0
            m = 0
            for i in range(n):
                w, a = lq_cyc[b, u, i], lq_arr[b, u, i]
                cum += w
                if cum <= cap * (1 + TOL) and lq_up[b, u, i] > 0.0:  # a chained task's local stage ends
                    if tb - a < expire_age:  # else its deadline ends now: dropped at the local stage
                        _hand_off(b, u, i, uq_n[b, u] + hand[u], a, lq_est, lq_id, lq_up, lq_dest, lq_ecyc,
                                  uq_bits, uq_size, uq_dest, uq_arr, uq_est, uq_id, uq_ecyc)
                        hand_at[u] = uq_n[b, u]
                        hand[u] += 1
                        n_hand += 1
                elif cum <= cap * (1 + TOL):
                    lat_buf[at] = (tb - a) * dt + cum / f_loc
                    where_buf[at] = 0
                    est_buf[at] = lq_est[b, u, i]
                    id_buf[at] = lq_id[b, u, i]
                    at += 1
                    k_done += 1
                elif tb - a < expire_age:  # survivor: what the slot's capacity left of it
                    lq_cyc[b, u, m] = min(w, max(cum - cap, 0.0))
                    lq_arr[b, u, m] = a
                    lq_est[b, u, m] = lq_est[b, u, i]
                    lq_id[b, u, m] = lq_id[b, u, i]
                    lq_up[b, u, m] = lq_up[b, u, i]
                    lq_dest[b, u, m] = lq_dest[b, u, i]
                    lq_ecyc[b, u, m] = lq_ecyc[b, u, i]
                    m += 1
            for i in range(m, n):
                lq_cyc[b, u, i] = 0.0
                lq_arr[b, u, i] = 0
                lq_est[b, u, i] = 0.0
                lq_id[b, u, i] = 0
                lq_up[b, u, i] = 0.0
                lq_dest[b, u, i] = 0
                lq_ecyc[b, u, i] = 0.0
            e_rest += e_loc_per_cycle * min(cum, cap)
            lq_n[b, u] = m
            completed[b] += k_done
            dropped[b, 0] += n - m - k_done - hand[u]
        n_rec[b, 0] = at - rec_at[b, 0]
        e_local = head_only * (e_loc_per_cycle * cap) + e_rest

        # -- servers: exact processor sharing over the tasks present at the start of the
        #    slot. Sorted by remaining cycles r (stable), the k-th smallest finishes after
        #    s_k = Σ_{j<k} r_j + (n-1-k)·r_k cycles of service (every task got min(r_j, r_k)),
        #    at s_k/F s into the slot; the survivors share what is left equally, then those
        #    whose deadline ends now are dropped. The queue is left in sorted order.
        at = rec_at[b, 1]
        for e in range(E):
            n_active[b, e] = 0.0  # tallies of the uploads still queued, filled below
            backlog_bits[b, e] = 0.0
            n = eq_n[b, e]
            if n == 0:
                continue
            for i in range(1, n):  # insertion sort, arrival slots and estimates alongside
                c, a, c_est, c_id = eq_cyc[b, e, i], eq_arr[b, e, i], eq_est[b, e, i], eq_id[b, e, i]
                j = i - 1
                while j >= 0 and eq_cyc[b, e, j] > c:
                    eq_cyc[b, e, j + 1] = eq_cyc[b, e, j]
                    eq_arr[b, e, j + 1] = eq_arr[b, e, j]
                    eq_est[b, e, j + 1] = eq_est[b, e, j]
                    eq_id[b, e, j + 1] = eq_id[b, e, j]
                    j -= 1
                eq_cyc[b, e, j + 1] = c
                eq_arr[b, e, j + 1] = a
                eq_est[b, e, j + 1] = c_est
                eq_id[b, e, j + 1] = c_id
            f = f_edge[b, e]
            cap_e = f * dt
            cum = 0.0
            nd = 0
            w_done = 0.0
            for k in range(n):
                r = eq_cyc[b, e, k]
                cum += r
                s_fin = cum + (n - 1 - k) * r
                if s_fin <= cap_e * (1 + TOL):
                    lat_buf[at] = (tb - eq_arr[b, e, k]) * dt + s_fin / f
                    where_buf[at] = e + 1
                    est_buf[at] = eq_est[b, e, k]
                    id_buf[at] = eq_id[b, e, k]
                    at += 1
                    w_done += r
                    nd += 1
            theta = (cap_e - w_done) / (n - nd) if nd < n else 0.0  # cycles each survivor got
            cum = 0.0
            m = 0
            for k in range(n):  # survivors: the same test as above fails
                r, a = eq_cyc[b, e, k], eq_arr[b, e, k]
                cum += r
                if cum + (n - 1 - k) * r > cap_e * (1 + TOL) and tb - a < expire_age:
                    eq_cyc[b, e, m] = max(r - theta, 1e-9)
                    eq_arr[b, e, m] = a
                    eq_est[b, e, m] = eq_est[b, e, k]
                    eq_id[b, e, m] = eq_id[b, e, k]
                    m += 1
            for k in range(m, n):
                eq_cyc[b, e, k] = 0.0
                eq_arr[b, e, k] = 0
                eq_est[b, e, k] = 0.0
                eq_id[b, e, k] = 0
            work_edge[b, e] = cap_e if nd < n else w_done
            eq_n[b, e] = m
            completed[b] += nd
            dropped[b, 2] += n - nd - m
        n_rec[b, 1] = at - rec_at[b, 1]

        # -- uplink FIFOs at this slot's rates (work of a task = D_left/R s). Finished
        #    uploads join the tail of their server's queue (γ·D cycles, same arrival slot),
        #    or are dropped there at once if their deadline ends now. Uploads still queued
        #    are tallied into N_e and L_e (D bit each) of their destination.
        head_only = 0
        e_rest = 0.0
        for u in range(U):  # rates of the heads first, in a loop of their own (pipelines better)
            if uq_n[b, u]:
                e = uq_dest[b, u, 0]
                r_head[u] = rate_bps(fade_u[b, u, e], snr_mean[b, u, e], bandwidth_hz)
        for u in range(U):
            n = uq_n[b, u]
            if n == 0:
                continue
            r = r_head[u]
            if not (uq_bits[b, u, 0] / r <= dt * (1 + TOL)) and tb - uq_arr[b, u, 0] < expire_age:
                uq_bits[b, u, 0] -= r * dt
                head_only += 1
                for i in range(n):
                    e = uq_dest[b, u, i]
                    n_active[b, e] += 1.0
                    backlog_bits[b, e] += uq_size[b, u, i]
                continue
            cum = 0.0
            m = 0
            e_r = uq_dest[b, u, 0]  # server of the rate r
            for i in range(n):
                e, a, d = uq_dest[b, u, i], uq_arr[b, u, i], uq_size[b, u, i]
                if e != e_r:
                    r = rate_bps(fade_u[b, u, e], snr_mean[b, u, e], bandwidth_hz)
                    e_r = e
                w = uq_bits[b, u, i] / r
                cum += w
                if cum <= dt * (1 + TOL):
                    if tb - a >= expire_age:
                        dropped[b, 2] += 1
                    else:
                        q = eq_n[b, e]
                        eq_cyc[b, e, q] = uq_ecyc[b, u, i]
                        eq_arr[b, e, q] = a
                        eq_est[b, e, q] = uq_est[b, u, i]
                        eq_id[b, e, q] = uq_id[b, u, i]
                        eq_n[b, e] = q + 1
                elif tb - a < expire_age:  # survivor: bits left after the slot's air time
                    uq_bits[b, u, m] = min(w, max(cum - dt, 0.0)) * r
                    uq_size[b, u, m] = d
                    uq_dest[b, u, m] = e
                    uq_arr[b, u, m] = a
                    uq_est[b, u, m] = uq_est[b, u, i]
                    uq_id[b, u, m] = uq_id[b, u, i]
                    uq_ecyc[b, u, m] = uq_ecyc[b, u, i]
                    n_active[b, e] += 1.0
                    backlog_bits[b, e] += d
                    m += 1
                else:
                    dropped[b, 1] += 1
            for i in range(m, n):
                uq_bits[b, u, i] = 0.0
                uq_size[b, u, i] = 0.0
                uq_dest[b, u, i] = 0
                uq_arr[b, u, i] = 0
                uq_est[b, u, i] = 0.0
                uq_id[b, u, i] = 0
                uq_ecyc[b, u, i] = 0.0
            e_rest += tx_power_w * min(cum, dt)
            uq_n[b, u] = m
        energy[b] = (e_local + head_only * (tx_power_w * dt)) + e_rest
        if n_hand:
            _join_uplinks(b, hand, hand_at, uq_bits, uq_size, uq_dest, uq_arr, uq_est, uq_id, uq_ecyc, uq_n, n_active,
                          backlog_bits)

        # -- decision-time estimates: N_e = tasks at or uploading to e, L_e their bits
        #    (cycles/γ at the server), the L_e history, and the local waits (cycles)
        for e in range(E):
            n = eq_n[b, e]
            n_active[b, e] += n
            if n:
                backlog_bits[b, e] = _row_sum(eq_cyc, b, e, n) / gamma + backlog_bits[b, e]
            for h in range(H - 1):
                hist[b, e, h] = hist[b, e, h + 1]
            hist[b, e, H - 1] = backlog_bits[b, e]
        for u in range(U):
            local_wait_cyc[b, u] = _row_sum(lq_cyc, b, u, lq_n[b, u]) if lq_n[b, u] else 0.0
        t[b] = tb + 1


@njit
def gather_records(rec_at, n_rec, lat_buf, where_buf, est_buf, id_buf):
    """The slot's latency records as (lat_env, lat_loc, latency_s, est_s, task_id): every env's local
    completions (user order), then every env's edge completions (server order); lat_loc
    is 0 for local, e for server e; est_s the decision-time estimate of each task (s), task_id its
    id within its env (the order it was decided in)."""
    B = n_rec.shape[0]
    n = n_rec.sum()
    lat_env = np.empty(n, np.int64)
    lat_loc = np.empty(n, np.int64)
    lat_s = np.empty(n)
    est_s = np.empty(n)
    task_id = np.empty(n, np.int64)
    j = 0
    for part in range(2):
        for b in range(B):
            for i in range(rec_at[b, part], rec_at[b, part] + n_rec[b, part]):
                lat_env[j] = b
                lat_loc[j] = where_buf[i]
                lat_s[j] = lat_buf[i]
                est_s[j] = est_buf[i]
                task_id[j] = id_buf[i]
                j += 1
    return lat_env, lat_loc, lat_s, est_s, task_id
