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
from dataclasses import dataclass, field

import numpy as np

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
    rate: np.ndarray  # (B,U,E) bit/s in the current slot
    lq_cyc: np.ndarray  # (B,U,QL) remaining cycles, FIFO order, 0 when empty
    lq_arr: np.ndarray  # (B,U,QL) arrival slot
    lq_n: np.ndarray  # (B,U)
    uq_bits: np.ndarray  # (B,U,QU) bits still to upload
    uq_size: np.ndarray  # (B,U,QU) task size D (bits)
    uq_dest: np.ndarray  # (B,U,QU) destination server 0..E-1
    uq_arr: np.ndarray  # (B,U,QU)
    uq_n: np.ndarray  # (B,U)
    eq_cyc: np.ndarray  # (B,E,QE) remaining cycles at the server, +inf when empty (unordered)
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
    """What a policy sees for one pending task per env (batch-first)."""

    bits: np.ndarray  # (B,) task size D (bit)
    user: np.ndarray  # (B,) source user
    local_wait_s: np.ndarray  # (B,) T^{wait,loc} (s)
    rate: np.ndarray  # (B,E) uplink rate of this user to each server (bit/s)
    f_edge: np.ndarray  # (B,E) F_e (Hz)
    n_active: np.ndarray  # (B,E) N_e
    backlog_bits: np.ndarray  # (B,E) L_e (bit)
    hist: np.ndarray  # (B,E,H) recent L_e (bit)
    dist: np.ndarray  # (B,E) user-server distance (m)
    valid: np.ndarray  # (B,) bool: env has a pending task

    @property
    def n_servers(self) -> int:
        return self.rate.shape[1]

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
    extra: dict = field(default_factory=dict)


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
        rate=uplink_rate(snr_mean, np.ones_like(snr_mean), p.bandwidth_hz),
        lq_cyc=z((B, U, QL)),
        lq_arr=z((B, U, QL), np.int64),
        lq_n=z((B, U), np.int64),
        uq_bits=z((B, U, QU)),
        uq_size=z((B, U, QU)),
        uq_dest=z((B, U, QU), np.int64),
        uq_arr=z((B, U, QU), np.int64),
        uq_n=z((B, U), np.int64),
        eq_cyc=np.full((B, E, QE), np.inf),
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
    gain = exo.exponential(1.0, state.snr_mean.shape) if p.rayleigh else np.ones_like(state.snr_mean)
    state.rate = uplink_rate(state.snr_mean, gain, p.bandwidth_hz)
    total = counts.sum(1)
    width = int(total.max()) if B else 0
    bits = exo.uniform(p.size_lo_bit, p.size_hi_bit, (B, width))
    pos = np.arange(width)
    cum = counts.cumsum(1)
    user = (pos[None, :, None] >= cum[:, None, :]).sum(-1)
    valid = pos[None, :] < total[:, None]
    return Arrivals(user=np.where(valid, user, 0), bits=np.where(valid, bits, 0.0), valid=valid)


# --------------------------------------------------------------------------- decisions


def observe(state: SimState, arr: Arrivals, k: int, p: Params) -> Obs:
    """Observation of the k-th arrival of each env (envs with fewer arrivals: valid=False)."""
    b = np.arange(state.batch)
    u = arr.user[:, k]
    return Obs(
        bits=arr.bits[:, k],
        user=u,
        local_wait_s=state.local_wait_cyc[b, u] / p.f_loc,
        rate=state.rate[b, u],
        f_edge=state.f_edge,
        n_active=state.n_active.copy(),
        backlog_bits=state.backlog_bits.copy(),
        hist=state.hist,
        dist=state.dist[b, u],
        valid=arr.valid[:, k],
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
        state.eq_cyc, state.eq_arr = _grow(state.eq_cyc, q2, np.inf), _grow(state.eq_arr, q2, 0)


def decide(state: SimState, obs: Obs, action: np.ndarray, p: Params) -> SimState:
    """Apply one decision per env with a valid pending task (action 0 = local, e = server e)."""
    action = np.asarray(action)
    valid = obs.valid
    to_local = valid & (action == 0)
    to_edge = valid & (action > 0)
    if to_local.any():
        bi = np.flatnonzero(to_local)
        ui = obs.user[bi]
        pos = state.lq_n[bi, ui]
        _ensure_local(state, int(pos.max()) + 1)
        cyc = obs.bits[bi] * p.gamma
        state.lq_cyc[bi, ui, pos] = cyc
        state.lq_arr[bi, ui, pos] = state.t[bi]
        state.lq_n[bi, ui] += 1
        state.local_wait_cyc[bi, ui] += cyc
    if to_edge.any():
        bi = np.flatnonzero(to_edge)
        ui = obs.user[bi]
        e = action[bi] - 1
        pos = state.uq_n[bi, ui]
        _ensure_uplink(state, int(pos.max()) + 1)
        d = obs.bits[bi]
        state.uq_bits[bi, ui, pos] = d
        state.uq_size[bi, ui, pos] = d
        state.uq_dest[bi, ui, pos] = e
        state.uq_arr[bi, ui, pos] = state.t[bi]
        state.uq_n[bi, ui] += 1
        state.n_active[bi, e] += 1
        state.backlog_bits[bi, e] += d
    state.arrived += valid
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
    used = np.minimum(cum[..., -1], capacity) if q else np.zeros(n.shape)
    return done, cum, remaining, used


def serve(state: SimState, p: Params) -> SlotOutcome:
    """Run one slot of service for every env, drop expired tasks, advance ``t``."""
    B, U = state.lq_n.shape
    E = state.f_edge.shape[1]
    dt, t = p.slot_s, state.t
    lat_env, lat_loc, lat_s = [], [], []
    completed = np.zeros(B, np.int64)
    dropped = np.zeros((B, 3), np.int64)
    expire_age = p.tau_slots - 1  # a task arriving in slot a must finish by the end of slot a+τ-1

    # -- local FIFO compute queues
    cap = p.f_loc * dt
    done, cum, rem, used = _fifo(state.lq_cyc, state.lq_n, cap)
    if done.any():
        bi, ui, qi = np.nonzero(done)
        lat_env.append(bi)
        lat_loc.append(np.zeros_like(bi))
        lat_s.append((t[bi] - state.lq_arr[bi, ui, qi]) * dt + cum[bi, ui, qi] / p.f_loc)
    k_done = done.sum(-1)
    energy = p.kappa * p.f_loc**2 * used.sum(1)
    completed += k_done.sum(1)
    occupied = np.arange(rem.shape[-1]) < state.lq_n[..., None]
    expired = occupied & ~done & ((t[:, None, None] - state.lq_arr) >= expire_age)
    k_exp = expired.sum(-1)
    dropped[:, LOCAL] = k_exp.sum(1)
    k = k_done + k_exp
    state.lq_cyc = _shift_left(rem, k, 0.0)
    state.lq_arr = _shift_left(state.lq_arr, k, 0)
    state.lq_n = state.lq_n - k

    # -- uplink FIFO queues (time units: each entry needs bits / rate seconds)
    r_dest = np.take_along_axis(state.rate, state.uq_dest, axis=-1)
    up_done, cum_t, rem_t, air = _fifo(state.uq_bits / r_dest, state.uq_n, dt)
    energy = energy + p.tx_power_w * air.sum(1)
    rem_bits = rem_t * r_dest
    occupied = np.arange(rem_bits.shape[-1]) < state.uq_n[..., None]
    expired = occupied & ~up_done & ((t[:, None, None] - state.uq_arr) >= expire_age)
    ub, uu, uqi = np.nonzero(up_done)
    new_dest = state.uq_dest[ub, uu, uqi]
    new_cyc = state.uq_size[ub, uu, uqi] * p.gamma
    new_arr = state.uq_arr[ub, uu, uqi]
    k_exp = expired.sum(-1)
    dropped[:, UPLINK] = k_exp.sum(1)
    k = up_done.sum(-1) + k_exp
    state.uq_bits = _shift_left(rem_bits, k, 0.0)
    state.uq_size = _shift_left(state.uq_size, k, 0.0)
    state.uq_dest = _shift_left(state.uq_dest, k, 0)
    state.uq_arr = _shift_left(state.uq_arr, k, 0)
    state.uq_n = state.uq_n - k

    # -- edge servers: exact processor sharing within the slot
    order = np.argsort(state.eq_cyc, axis=-1, kind="stable")
    r = np.take_along_axis(state.eq_cyc, order, axis=-1)
    arr_t = np.take_along_axis(state.eq_arr, order, axis=-1)
    qe = r.shape[-1]
    n = state.eq_n
    idx = np.arange(qe)
    occ = idx < n[..., None]
    r0 = np.where(occ, r, 0.0)
    cs = np.cumsum(r0, axis=-1)
    # work done by the time the k-th smallest task finishes: every task got min(r_j, r_k)
    s_fin = cs + (n[..., None] - 1 - idx) * r0
    capf = (state.f_edge * dt)[..., None]
    e_done = occ & (s_fin <= capf * (1 + 1e-12))
    nd = e_done.sum(-1)
    w_done = (r0 * e_done).sum(-1)
    n_surv = n - nd
    theta = np.where(n_surv > 0, (capf[..., 0] - w_done) / np.maximum(n_surv, 1), 0.0)
    r_new = np.where(occ & ~e_done, np.maximum(r - theta[..., None], 1e-9), np.inf)
    work_edge = np.where(n_surv > 0, capf[..., 0], w_done)
    if e_done.any():
        bi, ei, qi = np.nonzero(e_done)
        lat_env.append(bi)
        lat_loc.append(ei + 1)
        lat_s.append((t[bi] - arr_t[bi, ei, qi]) * dt + s_fin[bi, ei, qi] / state.f_edge[bi, ei])
    completed += nd.sum(1)
    state.eq_cyc = _shift_left(r_new, nd, np.inf)
    state.eq_arr = _shift_left(arr_t, nd, 0)
    state.eq_n = n_surv

    # -- finished uploads join their server at the slot boundary
    if ub.size:
        g = ub * E + new_dest
        srt = np.argsort(g, kind="stable")
        gs = g[srt]
        rank = np.arange(gs.size) - np.searchsorted(gs, gs, side="left")
        bsrt, esrt = ub[srt], new_dest[srt]
        pos = state.eq_n[bsrt, esrt] + rank
        _ensure_edge(state, int(pos.max()) + 1)
        state.eq_cyc[bsrt, esrt, pos] = new_cyc[srt]
        state.eq_arr[bsrt, esrt, pos] = new_arr[srt]
        state.eq_n = state.eq_n + np.bincount(g, minlength=B * E).reshape(B, E)

    # -- drop expired tasks at the servers
    e_exp = np.isfinite(state.eq_cyc) & ((t[:, None, None] - state.eq_arr) >= expire_age)
    if e_exp.any():
        cnt = e_exp.sum(-1)
        state.eq_cyc = np.where(e_exp, np.inf, state.eq_cyc)
        state.eq_n = state.eq_n - cnt
        dropped[:, EDGE] = cnt.sum(1)

    _refresh_estimates(state, p)
    state.completed += completed
    state.dropped += dropped
    state.t = t + 1
    if lat_env:
        le, ll, ls = np.concatenate(lat_env), np.concatenate(lat_loc), np.concatenate(lat_s)
    else:
        le = ll = np.zeros(0, np.int64)
        ls = np.zeros(0)
    return SlotOutcome(le, ll, ls, completed, dropped, work_edge, energy)


def _refresh_estimates(state: SimState, p: Params) -> None:
    """Recompute N_e, L_e, local waits from the realized queues; push L_e into the history."""
    B, U, QU = state.uq_bits.shape
    E = state.f_edge.shape[1]
    occupied = np.arange(QU) < state.uq_n[..., None]
    gidx = (np.arange(B)[:, None, None] * E + state.uq_dest)[occupied]
    up_count = np.bincount(gidx, minlength=B * E).reshape(B, E)
    up_bits = np.bincount(gidx, weights=state.uq_size[occupied], minlength=B * E).reshape(B, E)
    finite = np.isfinite(state.eq_cyc)
    srv_bits = np.where(finite, state.eq_cyc, 0.0).sum(-1) / p.gamma
    state.n_active = (state.eq_n + up_count).astype(np.float64)
    state.backlog_bits = srv_bits + up_bits
    state.local_wait_cyc = state.lq_cyc.sum(-1)
    state.hist[..., :-1] = state.hist[..., 1:]
    state.hist[..., -1] = state.backlog_bits
