"""Vectorised MEC dynamics over a batch of B environments (DESIGN.md principles 1-4).

One slot of length Δt runs as:

1. ``draw_slot``: block-fading channel and the slot's task arrivals (exogenous, drawn from
   the scenario's own random stream so that every policy sees the same numbers).
2. For k = 0, 1, ...: ``observe`` the k-th arrival of every env, let a policy act, ``decide``
   (append it to the user's local FIFO or uplink FIFO). Each decision sees the state left by
   the previous one: the estimated N_e and L_e include tasks already sent towards server e.
3. ``serve``: local FIFO compute queues (f_loc), uplink FIFO queues (rate of this slot),
   edge servers by exact processor sharing within the slot; uploads finished during the slot
   enter their server at the next slot boundary; every task still unfinished when its
   deadline (τ slots after its arrival) ends is dropped and counted by where it was.

Arrays are batch-first. Functions update ``SimState`` in place and return it (or a record of
what happened); use ``SimState.copy`` to branch. No per-task Python objects: queues are
fixed-width arrays that grow (never drop data) when full.
Units: seconds, bits, Hz, cycles, joules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .arrays import group_rank
from .cost import uplink_rate
from .params import Params

LOCAL, UPLINK, EDGE = 0, 1, 2  # drop reasons / where a task was


@dataclass
class SimState:
    """Everything that evolves; leading axis B = environments."""

    t: np.ndarray  # (B,) current slot index
    user_pos: np.ndarray  # (B,U,2) m
    srv_pos: np.ndarray  # (B,E,2) m
    f_edge: np.ndarray  # (B,E) Hz
    dist: np.ndarray  # (B,U,E) m
    snr_mean: np.ndarray  # (B,U,E) linear mean SNR after path loss
    bandwidth_hz: np.ndarray  # () channel bandwidth B (Hz)
    fade_u: np.ndarray  # (B,U,E) float32 uniform draw of this slot; |h|² = -ln(1-u) (Rayleigh)
    lq_cyc: np.ndarray  # (B,U,QL) remaining cycles, FIFO order, 0 when empty
    lq_arr: np.ndarray  # (B,U,QL) arrival slot
    lq_n: np.ndarray  # (B,U)
    uq_bits: np.ndarray  # (B,U,QU) bits still to upload
    uq_size: np.ndarray  # (B,U,QU) task size D (bits)
    uq_dest: np.ndarray  # (B,U,QU) destination server 0..E-1
    uq_arr: np.ndarray  # (B,U,QU)
    uq_n: np.ndarray  # (B,U)
    eq_cyc: np.ndarray  # (B,E,QE) remaining cycles at the server; tasks at [0, eq_n), 0 beyond
    eq_arr: np.ndarray  # (B,E,QE)
    eq_n: np.ndarray  # (B,E)
    n_active: np.ndarray  # (B,E) N_e: tasks sent to e and not finished (uploading or in service)
    backlog_bits: np.ndarray  # (B,E) L_e: their remaining work in bits (D while uploading)
    local_wait_cyc: np.ndarray  # (B,U) cycles queued locally
    hist: np.ndarray  # (B,E,H) L_e at the end of the last H slots (bits), newest last
    arrived: np.ndarray  # (B,) tasks decided so far
    completed: np.ndarray  # (B,)
    dropped: np.ndarray  # (B,3) by where: local, uplink, edge

    @property
    def batch(self) -> int:
        return self.t.shape[0]

    @property
    def rate(self) -> np.ndarray:
        """(B,U,E) uplink rates of the current slot (bit/s), eq 1."""
        return rates_of(self, self.fade_u, self.snr_mean)

    def copy(self) -> "SimState":
        return SimState(**{f.name: getattr(self, f.name).copy() for f in dataclasses.fields(self)})

    def in_flight(self) -> np.ndarray:
        """(B,) tasks decided but neither completed nor dropped."""
        return self.lq_n.sum(1) + self.uq_n.sum(1) + self.eq_n.sum(1)


@dataclass
class Arrivals:
    """Tasks arriving in one slot, padded to A = max count over envs, in user order."""

    user: np.ndarray  # (B,A)
    bits: np.ndarray  # (B,A)
    valid: np.ndarray  # (B,A) bool

    @property
    def width(self) -> int:
        return self.user.shape[1]


@dataclass
class Obs:
    """What a policy sees: one row per pending task (batch-first, n rows).

    Rows are the envs that have a task pending at this decision step (``env`` gives each
    row's environment), so policies always act on every row they are given.
    """

    env: np.ndarray  # (n,) environment index of each pending task
    bits: np.ndarray  # (n,) task size D (bit)
    user: np.ndarray  # (n,) source user
    local_wait_s: np.ndarray  # (n,) T^{wait,loc} (s)
    rate: np.ndarray  # (n,E) uplink rate of this user to each server (bit/s)
    f_edge: np.ndarray  # (n,E) F_e (Hz)
    n_active: np.ndarray  # (n,E) N_e
    backlog_bits: np.ndarray  # (n,E) L_e (bit)
    hist: np.ndarray  # (n,E,H) recent L_e (bit), newest last
    dist: np.ndarray  # (n,E) user-server distance (m)

    @property
    def n_servers(self) -> int:
        return self.rate.shape[1]

    def __len__(self) -> int:
        return self.bits.shape[0]

    def take(self, idx: np.ndarray) -> "Obs":
        return Obs(**{f.name: getattr(self, f.name)[idx] for f in dataclasses.fields(self)})


@dataclass
class SlotOutcome:
    """What ``serve`` did in one slot."""

    lat_env: np.ndarray  # (n,) env of each completed task
    lat_loc: np.ndarray  # (n,) where it ran: 0 local, e = server e
    latency_s: np.ndarray  # (n,) realized latency (s)
    completed: np.ndarray  # (B,)
    dropped: np.ndarray  # (B,3)
    work_edge: np.ndarray  # (B,E) cycles executed per server
    energy_j: np.ndarray  # (B,) device energy spent this slot (J)


# --------------------------------------------------------------------------- reset


def reset(p: Params, batch: int, seed: int) -> tuple[SimState, np.random.Generator]:
    """Fresh batch of environments and the exogenous random stream that drives them.

    Layout (positions, F_e) is drawn from the stream first; the same (p, batch, seed)
    always gives identical states and identical later draws.
    """
    exo = np.random.Generator(np.random.PCG64(seed))
    B, U, E = batch, p.n_users, p.n_servers
    user_pos = exo.uniform(0.0, p.area_m, (B, U, 2))
    if p.placement == "grid":
        side = int(np.ceil(np.sqrt(E)))
        cells = (np.arange(side) + 0.5) * p.area_m / side
        gx, gy = np.meshgrid(cells, cells, indexing="xy")
        grid = np.stack([gx.ravel(), gy.ravel()], -1)[:E]
        srv_pos = np.broadcast_to(grid, (B, E, 2)).copy()
        exo.uniform(size=(B, E, 2))  # keep the stream aligned with "random"
    else:
        srv_pos = exo.uniform(0.0, p.area_m, (B, E, 2))
    f_edge = exo.uniform(p.f_edge_lo, p.f_edge_hi, (B, E))
    dist = np.linalg.norm(user_pos[:, :, None, :] - srv_pos[:, None, :, :], axis=-1)
    snr_mean = p.snr_ref * (np.maximum(dist, 1.0) / p.ref_distance_m) ** (-p.path_loss_exp)
    QL, QU, QE = 4, 8, 16
    z = np.zeros
    state = SimState(
        t=z(B, np.int64),
        user_pos=user_pos,
        srv_pos=srv_pos,
        f_edge=f_edge,
        dist=dist,
        snr_mean=snr_mean,
        bandwidth_hz=np.array(p.bandwidth_hz),
        fade_u=np.full((B, U, E), 1 - np.exp(-1.0), np.float32),
        lq_cyc=z((B, U, QL)),
        lq_arr=z((B, U, QL), np.int64),
        lq_n=z((B, U), np.int64),
        uq_bits=z((B, U, QU)),
        uq_size=z((B, U, QU)),
        uq_dest=z((B, U, QU), np.int64),
        uq_arr=z((B, U, QU), np.int64),
        uq_n=z((B, U), np.int64),
        eq_cyc=z((B, E, QE)),
        eq_arr=z((B, E, QE), np.int64),
        eq_n=z((B, E), np.int64),
        n_active=z((B, E)),
        backlog_bits=z((B, E)),
        local_wait_cyc=z((B, U)),
        hist=z((B, E, p.history)),
        arrived=z(B, np.int64),
        completed=z(B, np.int64),
        dropped=z((B, 3), np.int64),
    )
    return state, exo


# --------------------------------------------------------------------------- arrivals


def draw_slot(state: SimState, p: Params, exo: np.random.Generator, arrivals: bool = True) -> Arrivals:
    """Draw this slot's fading (sets ``state.rate``) and arrivals, in a fixed order."""
    B, U = state.lq_n.shape
    if arrivals:
        if p.arrival == "poisson":
            counts = exo.poisson(p.rate, (B, U))
        else:
            counts = (exo.random((B, U)) < p.rate).astype(np.int64)
    else:
        counts = np.zeros((B, U), np.int64)
    if p.rayleigh:
        # u = 0 would mean |h|² = 0 exactly: lift it to the smallest positive float32 step
        state.fade_u = np.maximum(exo.random(state.snr_mean.shape, dtype=np.float32), np.float32(2.0**-24))
    total = counts.sum(1)
    width = int(total.max()) if B else 0
    bits = exo.uniform(p.size_lo_bit, p.size_hi_bit, (B, width))
    pos = np.arange(width)
    cum = counts.cumsum(1)
    user = (pos[None, :, None] >= cum[:, None, :]).sum(-1)
    valid = pos[None, :] < total[:, None]
    return Arrivals(user=np.where(valid, user, 0), bits=np.where(valid, bits, 0.0), valid=valid)


# --------------------------------------------------------------------------- decisions


def rates_of(state: SimState, fade_u: np.ndarray, snr_mean: np.ndarray) -> np.ndarray:
    """Eq 1 for the given (gathered) fading uniforms and mean SNRs, bit/s."""
    gain = -np.log1p(-fade_u.astype(np.float64))
    return uplink_rate(snr_mean, gain, state.bandwidth_hz)


def observe(state: SimState, arr: Arrivals, k: int, p: Params) -> Obs:
    """Observation of the k-th arrival of every env that has one."""
    b = np.flatnonzero(arr.valid[:, k])
    u = arr.user[b, k]
    return Obs(
        env=b,
        bits=arr.bits[b, k],
        user=u,
        local_wait_s=state.local_wait_cyc[b, u] / p.f_loc,
        rate=rates_of(state, state.fade_u[b, u], state.snr_mean[b, u]),
        f_edge=state.f_edge[b],
        n_active=state.n_active[b],
        backlog_bits=state.backlog_bits[b],
        hist=state.hist[b],
        dist=state.dist[b, u],
    )


def _grow(a: np.ndarray, q: int, fill) -> np.ndarray:
    pad = np.full(a.shape[:-1] + (q - a.shape[-1],), fill, dtype=a.dtype)
    return np.concatenate([a, pad], axis=-1)


def _ensure_local(state: SimState, need: int) -> None:
    q = state.lq_cyc.shape[-1]
    if need > q:
        q2 = max(need, 2 * q)
        state.lq_cyc, state.lq_arr = _grow(state.lq_cyc, q2, 0.0), _grow(state.lq_arr, q2, 0)


def _ensure_uplink(state: SimState, need: int) -> None:
    q = state.uq_bits.shape[-1]
    if need > q:
        q2 = max(need, 2 * q)
        state.uq_bits = _grow(state.uq_bits, q2, 0.0)
        state.uq_size = _grow(state.uq_size, q2, 0.0)
        state.uq_dest = _grow(state.uq_dest, q2, 0)
        state.uq_arr = _grow(state.uq_arr, q2, 0)


def _ensure_edge(state: SimState, need: int) -> None:
    q = state.eq_cyc.shape[-1]
    if need > q:
        q2 = max(need, 2 * q)
        state.eq_cyc, state.eq_arr = _grow(state.eq_cyc, q2, 0.0), _grow(state.eq_arr, q2, 0)


def decide(state: SimState, obs: Obs, action: np.ndarray, p: Params) -> SimState:
    """Apply one decision per row of ``obs`` (action 0 = local, e = edge server e)."""
    action = np.asarray(action)
    to_local = action == 0
    if to_local.any():
        r = np.flatnonzero(to_local)
        bi, ui = obs.env[r], obs.user[r]
        pos = state.lq_n[bi, ui]
        _ensure_local(state, int(pos.max()) + 1)
        cyc = obs.bits[r] * p.gamma
        state.lq_cyc[bi, ui, pos] = cyc
        state.lq_arr[bi, ui, pos] = state.t[bi]
        state.lq_n[bi, ui] += 1
        state.local_wait_cyc[bi, ui] += cyc
    if not to_local.all():
        r = np.flatnonzero(~to_local)
        bi, ui = obs.env[r], obs.user[r]
        e = action[r] - 1
        pos = state.uq_n[bi, ui]
        _ensure_uplink(state, int(pos.max()) + 1)
        d = obs.bits[r]
        state.uq_bits[bi, ui, pos] = d
        state.uq_size[bi, ui, pos] = d
        state.uq_dest[bi, ui, pos] = e
        state.uq_arr[bi, ui, pos] = state.t[bi]
        state.uq_n[bi, ui] += 1
        state.n_active[bi, e] += 1
        state.backlog_bits[bi, e] += d
    state.arrived[obs.env] += 1
    return state


# --------------------------------------------------------------------------- service


def _shift_left(a: np.ndarray, k: np.ndarray, fill) -> np.ndarray:
    """Drop the first k[...] entries of each row (last axis) and pad with ``fill``."""
    q = a.shape[-1]
    idx = np.arange(q) + k[..., None]
    out = np.take_along_axis(a, np.minimum(idx, q - 1), axis=-1)
    return np.where(idx < q, out, fill)


def _fifo(work: np.ndarray, n: np.ndarray, capacity) -> tuple[np.ndarray, ...]:
    """Serve FIFO rows of ``work`` (same unit as capacity) for one slot.

    Returns (done mask, cumulative work at each entry, remaining work, used capacity).
    """
    q = work.shape[-1]
    occupied = np.arange(q) < n[..., None]
    w = np.where(occupied, work, 0.0)
    cum = np.cumsum(w, axis=-1)
    cap = np.asarray(capacity)[..., None] if np.ndim(capacity) else capacity
    done = occupied & (cum <= cap * (1 + 1e-12))
    remaining = np.where(occupied, np.minimum(w, np.maximum(cum - cap, 0.0)), 0.0)
    used = np.minimum(cum[..., -1], capacity)
    return done, cum, remaining, used


def _busy_rows(n_flat: np.ndarray) -> tuple[np.ndarray, int]:
    rows = np.flatnonzero(n_flat)
    return rows, (int(n_flat[rows].max()) if rows.size else 0)


def serve(state: SimState, p: Params) -> SlotOutcome:
    """Run one slot of service for every env, drop expired tasks, advance ``t``.

    Only queues that hold tasks are touched (rows are (env, user) or (env, server) pairs),
    and only up to the longest such queue, so the cost follows the number of tasks.
    """
    B, U = state.lq_n.shape
    E = state.f_edge.shape[1]
    dt, t = p.slot_s, state.t
    lat_env, lat_loc, lat_s = [], [], []
    completed = np.zeros(B)
    dropped = np.zeros((B, 3))
    energy = np.zeros(B)
    work_edge = np.zeros(B * E)
    expire_age = p.tau_slots - 1  # a task arriving in slot a must finish by the end of slot a+τ-1

    # -- local FIFO compute queues, rows = (env, user)
    n_flat = state.lq_n.reshape(-1)
    rows, w = _busy_rows(n_flat)
    cyc_f, arr_f = state.lq_cyc.reshape(B * U, -1), state.lq_arr.reshape(B * U, -1)
    if rows.size:  # fast path: the head task neither finishes nor expires -> only it progresses
        cap = p.f_loc * dt
        env = rows // U
        head = ~(cyc_f[rows, 0] <= cap * (1 + 1e-12)) & ((t[env] - arr_f[rows, 0]) < expire_age)
        rh = rows[head]
        cyc_f[rh, 0] -= cap
        energy += np.bincount(env[head], minlength=B) * (p.kappa * p.f_loc**2 * cap)
        rows = rows[~head]
        w = int(n_flat[rows].max()) if rows.size else 0
    if rows.size:
        env = rows // U
        n, arr = n_flat[rows], arr_f[rows, :w]
        done, cum, rem, used = _fifo(cyc_f[rows, :w], n, p.f_loc * dt)
        ri, qi = np.nonzero(done)
        if ri.size:
            lat_env.append(env[ri])
            lat_loc.append(np.zeros_like(ri))
            lat_s.append((t[env[ri]] - arr[ri, qi]) * dt + cum[ri, qi] / p.f_loc)
        energy += np.bincount(env, weights=p.kappa * p.f_loc**2 * used, minlength=B)
        k_done = done.sum(-1)
        occ = np.arange(w) < n[:, None]
        k_exp = (occ & ~done & ((t[env][:, None] - arr) >= expire_age)).sum(-1)
        completed += np.bincount(env, weights=k_done, minlength=B)
        dropped[:, LOCAL] += np.bincount(env, weights=k_exp, minlength=B)
        k = k_done + k_exp
        cyc_f[rows, :w] = _shift_left(rem, k, 0.0)
        arr_f[rows, :w] = _shift_left(arr, k, 0)
        n_flat[rows] = n - k

    # -- uplink FIFO queues, rows = (env, user); work in seconds = bits / rate
    n_flat = state.uq_n.reshape(-1)
    rows, w = _busy_rows(n_flat)
    new_env = np.zeros(0, np.int64)
    bits_f, size_f = state.uq_bits.reshape(B * U, -1), state.uq_size.reshape(B * U, -1)
    dest_f, arr_f = state.uq_dest.reshape(B * U, -1), state.uq_arr.reshape(B * U, -1)
    if rows.size:  # fast path: the head upload neither finishes nor expires -> only it progresses
        env = rows // U
        d0 = dest_f[rows, 0]
        r0 = rates_of(state, state.fade_u.reshape(B * U, E)[rows, d0], state.snr_mean.reshape(B * U, E)[rows, d0])
        head = ~(bits_f[rows, 0] / r0 <= dt * (1 + 1e-12)) & ((t[env] - arr_f[rows, 0]) < expire_age)
        rh = rows[head]
        bits_f[rh, 0] -= r0[head] * dt
        energy += np.bincount(env[head], minlength=B) * (p.tx_power_w * dt)
        rows = rows[~head]
        w = int(n_flat[rows].max()) if rows.size else 0
    if rows.size:
        env = rows // U
        n, bits, size, dest, arr = n_flat[rows], bits_f[rows, :w], size_f[rows, :w], dest_f[rows, :w], arr_f[rows, :w]
        r_dest = rates_of(
            state,
            np.take_along_axis(state.fade_u.reshape(B * U, E)[rows], dest, axis=-1),
            np.take_along_axis(state.snr_mean.reshape(B * U, E)[rows], dest, axis=-1),
        )
        done, cum_t, rem_t, air = _fifo(bits / r_dest, n, dt)
        energy += np.bincount(env, weights=p.tx_power_w * air, minlength=B)
        ri, qi = np.nonzero(done)
        new_env, new_dest = env[ri], dest[ri, qi]
        new_cyc, new_arr = size[ri, qi] * p.gamma, arr[ri, qi]
        occ = np.arange(w) < n[:, None]
        k_exp = (occ & ~done & ((t[env][:, None] - arr) >= expire_age)).sum(-1)
        dropped[:, UPLINK] += np.bincount(env, weights=k_exp, minlength=B)
        k = done.sum(-1) + k_exp
        bits_f[rows, :w] = _shift_left(rem_t * r_dest, k, 0.0)
        size_f[rows, :w] = _shift_left(size, k, 0.0)
        dest_f[rows, :w] = _shift_left(dest, k, 0)
        arr_f[rows, :w] = _shift_left(arr, k, 0)
        n_flat[rows] = n - k

    # -- edge servers: exact processor sharing within the slot, rows = (env, server)
    n_flat = state.eq_n.reshape(-1)
    rows, w = _busy_rows(n_flat)
    if rows.size:
        cyc_f, arr_f = state.eq_cyc.reshape(B * E, -1), state.eq_arr.reshape(B * E, -1)
        env, srv = rows // E, rows % E
        n = n_flat[rows]
        idx = np.arange(w)
        occ = idx < n[:, None]
        order = np.argsort(np.where(occ, cyc_f[rows, :w], np.inf), axis=-1)
        r0 = np.where(occ, np.take_along_axis(cyc_f[rows, :w], order, axis=-1), 0.0)
        arr = np.take_along_axis(arr_f[rows, :w], order, axis=-1)
        # work done by the time the k-th smallest task finishes: every task got min(r_j, r_k)
        s_fin = np.cumsum(r0, axis=-1) + (n[:, None] - 1 - idx) * r0
        f = state.f_edge.reshape(-1)[rows]
        cap = f * dt
        done = occ & (s_fin <= cap[:, None] * (1 + 1e-12))
        nd = done.sum(-1)
        w_done = (r0 * done).sum(-1)
        n_surv = n - nd
        theta = np.where(n_surv > 0, (cap - w_done) / np.maximum(n_surv, 1), 0.0)
        r_new = np.where(occ & ~done, np.maximum(r0 - theta[:, None], 1e-9), 0.0)
        work_edge[rows] = np.where(n_surv > 0, cap, w_done)
        ri, qi = np.nonzero(done)
        if ri.size:
            lat_env.append(env[ri])
            lat_loc.append(srv[ri] + 1)
            lat_s.append((t[env[ri]] - arr[ri, qi]) * dt + s_fin[ri, qi] / f[ri])
        completed += np.bincount(env, weights=nd, minlength=B)
        cyc_f[rows, :w] = _shift_left(r_new, nd, 0.0)
        arr_f[rows, :w] = _shift_left(arr, nd, 0)
        n_flat[rows] = n_surv

    # -- finished uploads join their server at the slot boundary
    if new_env.size:
        g = new_env * E + new_dest
        pos = n_flat[g] + group_rank(g)
        _ensure_edge(state, int(pos.max()) + 1)
        cyc_f, arr_f = state.eq_cyc.reshape(B * E, -1), state.eq_arr.reshape(B * E, -1)
        cyc_f[g, pos] = new_cyc
        arr_f[g, pos] = new_arr
        n_flat = state.eq_n.reshape(-1)
        n_flat += np.bincount(g, minlength=B * E)

    # -- drop expired tasks at the servers (and keep each server's tasks contiguous)
    rows, w = _busy_rows(n_flat)
    if rows.size:
        cyc_f, arr_f = state.eq_cyc.reshape(B * E, -1), state.eq_arr.reshape(B * E, -1)
        env = rows // E
        n, arr = n_flat[rows], arr_f[rows, :w]
        occ = np.arange(w) < n[:, None]
        exp = occ & ((t[env][:, None] - arr) >= expire_age)
        cnt = exp.sum(-1)
        hit = cnt > 0
        if hit.any():
            rh, keep = rows[hit], (occ & ~exp)[hit]
            order = np.argsort(~keep, axis=-1, kind="stable")
            cyc_k = np.where(keep, cyc_f[rh, :w], 0.0)
            cyc_f[rh, :w] = np.take_along_axis(cyc_k, order, axis=-1)
            arr_f[rh, :w] = np.take_along_axis(np.where(keep, arr[hit], 0), order, axis=-1)
            n_flat[rh] -= cnt[hit]
            dropped[:, EDGE] += np.bincount(env[hit], weights=cnt[hit], minlength=B)

    _refresh_estimates(state, p)
    completed = completed.astype(np.int64)
    dropped = dropped.astype(np.int64)
    state.completed += completed
    state.dropped += dropped
    state.t = t + 1
    if lat_env:
        le, ll, ls = np.concatenate(lat_env), np.concatenate(lat_loc), np.concatenate(lat_s)
    else:
        le = ll = np.zeros(0, np.int64)
        ls = np.zeros(0)
    return SlotOutcome(le, ll, ls, completed, dropped, work_edge.reshape(B, E), energy)


def _refresh_estimates(state: SimState, p: Params) -> None:
    """Recompute N_e, L_e, local waits from the realized queues; push L_e into the history."""
    B, U, QU = state.uq_bits.shape
    E = state.f_edge.shape[1]
    rows, w = _busy_rows(state.uq_n.reshape(-1))
    if rows.size:
        occ = np.arange(w) < state.uq_n.reshape(-1)[rows][:, None]
        gidx = ((rows // U)[:, None] * E + state.uq_dest.reshape(B * U, -1)[rows, :w])[occ]
        up_count = np.bincount(gidx, minlength=B * E).reshape(B, E)
        up_bits = np.bincount(gidx, weights=state.uq_size.reshape(B * U, -1)[rows, :w][occ], minlength=B * E).reshape(B, E)
    else:
        up_count, up_bits = 0, 0.0
    state.n_active = (state.eq_n + up_count).astype(np.float64)
    state.backlog_bits = state.eq_cyc.sum(-1) / p.gamma + up_bits
    state.local_wait_cyc = state.lq_cyc.sum(-1)
    state.hist[..., :-1] = state.hist[..., 1:]
    state.hist[..., -1] = state.backlog_bits
