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
fixed-width arrays that grow (never drop data) when full. The per-task loops are compiled
kernels (``sim.kernels``, Numba); this module keeps the state, the random draws and the
queue growth. ``serve`` may use several threads (``MECOFFLOAD_THREADS``); results do not
depend on it.
Units: seconds, bits, Hz, cycles, joules.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import arrivals as _arrivals
from . import kernels, kernels_dnn, kernels_slotted
from .dnnstate import dnn_pending, dnn_stages
from .cost import mean_uplink_rate, uplink_rate
from .params import Params

LOCAL, UPLINK, EDGE = 0, 1, 2  # drop reasons / where a task was
NO_ESTIMATE = -1.0
"""the estimated latency (s) kept with a task decided without one (latencies are never negative)"""


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
    mean_rate: np.ndarray  # (B,U,E) ergodic mean uplink rate over the fading (bit/s)
    lq_cyc: np.ndarray  # (B,U,QL) remaining cycles, FIFO order, 0 when empty
    lq_arr: np.ndarray  # (B,U,QL) arrival slot
    lq_est: np.ndarray  # (B,U,QL) decision-time estimated latency (s), carried to the task's record
    lq_id: np.ndarray  # (B,U,QL) task id: the env's count of tasks decided before it
    lq_n: np.ndarray  # (B,U)
    lq_up: np.ndarray  # (B,U,QL) DNN-split follow-up: bits to upload when the local stage ends (0: ends locally)
    lq_dest: np.ndarray  # (B,U,QL) its server 0..E-1
    lq_ecyc: np.ndarray  # (B,U,QL) its work at the server (cycles)
    uq_bits: np.ndarray  # (B,U,QU) bits still to upload
    uq_size: np.ndarray  # (B,U,QU) task size D (bits)
    uq_dest: np.ndarray  # (B,U,QU) destination server 0..E-1
    uq_arr: np.ndarray  # (B,U,QU)
    uq_est: np.ndarray  # (B,U,QU) estimated latency (s)
    uq_id: np.ndarray  # (B,U,QU) task id
    uq_ecyc: np.ndarray  # (B,U,QU) the task's work at its server (cycles): γ·D, or a DNN split's edge part
    uq_n: np.ndarray  # (B,U)
    eq_cyc: np.ndarray  # (B,E,QE) remaining cycles at the server; tasks at [0, eq_n), 0 beyond
    eq_arr: np.ndarray  # (B,E,QE)
    eq_est: np.ndarray  # (B,E,QE) estimated latency (s)
    eq_id: np.ndarray  # (B,E,QE) task id
    eq_n: np.ndarray  # (B,E)
    n_active: np.ndarray  # (B,E) N_e: tasks sent to e and not finished (uploading or in service)
    backlog_bits: np.ndarray  # (B,E) L_e: their remaining work in bits (D while uploading)
    local_wait_cyc: np.ndarray  # (B,U) cycles queued locally
    hist: np.ndarray  # (B,E,H) L_e at the end of the last H slots (bits), newest last
    arrived: np.ndarray  # (B,) tasks decided so far
    completed: np.ndarray  # (B,)
    dropped: np.ndarray  # (B,3) by where: local, uplink, edge
    rejected: np.ndarray  # (B,) tasks rejected at decision time (admission control)
    arr_on: np.ndarray  # (B,S) int8 on/off state of an on/off arrival schedule (S = U or 1; sim.arrivals), else 0
    eq_user: np.ndarray  # (B,E,QE) source device of each task at the server (kept by the slotted service only)

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

    def ended(self) -> np.ndarray:
        """(B,) tasks that ended: completed, dropped anywhere or rejected."""
        return self.completed + self.dropped.sum(1) + self.rejected


@dataclass
class Arrivals:
    """Tasks arriving in one slot, padded to A = max count over envs, in user order."""

    user: np.ndarray  # (B,A)
    bits: np.ndarray  # (B,A)
    valid: np.ndarray  # (B,A) bool
    net: np.ndarray | None = None  # (B,A) network of each DNN-split task (``Params.dnn``), else None

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
    # the queue view (issue "queue-aware cost"); defaults for an Obs built without it (old state sets):
    # no uplink queue, every active task in service, unknown (0) server cycles, mean rate = this rate
    uplink_bits: np.ndarray | None = None  # (n,) bits queued in the device's uplink FIFO (bit)
    uplink_wait_s: np.ndarray | None = None  # (n,) expected wait before the task's upload starts (s)
    mean_rate: np.ndarray | None = None  # (n,E) mean uplink rate to each server over the fading (bit/s)
    n_uploading: np.ndarray | None = None  # (n,E) tasks uploading towards e (from any device)
    n_in_service: np.ndarray | None = None  # (n,E) tasks at server e
    backlog_cycles: np.ndarray | None = None  # (n,E) remaining cycles of the tasks at server e

    def __post_init__(self) -> None:
        n, E = self.rate.shape
        if self.uplink_bits is None:
            self.uplink_bits = np.zeros(n)
        if self.uplink_wait_s is None:
            self.uplink_wait_s = np.zeros(n)
        if self.mean_rate is None:
            self.mean_rate = self.rate
        if self.n_uploading is None:
            self.n_uploading = np.zeros((n, E))
        if self.n_in_service is None:
            self.n_in_service = self.n_active
        if self.backlog_cycles is None:
            self.backlog_cycles = np.zeros((n, E))

    @property
    def n_servers(self) -> int:
        return self.rate.shape[1]

    def __len__(self) -> int:
        return self.bits.shape[0]

    def take(self, idx: np.ndarray) -> "Obs":
        return type(self)(**{f.name: getattr(self, f.name)[idx] for f in dataclasses.fields(self)})


@dataclass
class DnnObs(Obs):
    """``Obs`` of DNN-split tasks (``Params.dnn``): also each task's network and the work heading to each server."""

    net: np.ndarray | None = None  # (n,) network of each task (index into ``Params.dnn.networks``)
    pending_cycles: np.ndarray | None = None  # (n,E) edge cycles of DNN tasks heading to e (local stage or uplink)
    n_pending: np.ndarray | None = None  # (n,E) how many DNN tasks head to e (local stage or uplink)


@dataclass
class SlotOutcome:
    """What ``serve`` did in one slot."""

    lat_env: np.ndarray  # (n,) env of each completed task
    lat_loc: np.ndarray  # (n,) where it ran: 0 local, e = server e
    latency_s: np.ndarray  # (n,) realized latency (s)
    est_s: np.ndarray  # (n,) its decision-time estimated latency (s; NO_ESTIMATE = -1 where none was given)
    task_id: np.ndarray  # (n,) its id in its env: the order it was decided in (0, 1, ...)
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
    B, U, E = batch, p.n_users, p.n_servers  # draws: positions, F_e, then an on/off schedule's state
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
    fade_u = np.full((B, U, E), 1 - np.exp(-1.0), np.float32)
    bandwidth_hz = p.bandwidth_hz
    if p.fixed_rate_bps > 0:
        bandwidth_hz, snr_mean = _fixed_rate_channel(p.fixed_rate_bps, fade_u)
    QL, QU, QE = 4, 8, 16
    z = np.zeros
    state = SimState(
        t=z(B, np.int64),
        user_pos=user_pos,
        srv_pos=srv_pos,
        f_edge=f_edge,
        dist=dist,
        snr_mean=snr_mean,
        bandwidth_hz=np.array(bandwidth_hz),
        fade_u=fade_u,
        mean_rate=(mean_uplink_rate(snr_mean, p.bandwidth_hz, p.rayleigh) if p.fixed_rate_bps <= 0
                   else np.full((B, U, E), p.fixed_rate_bps)),
        lq_cyc=z((B, U, QL)),
        lq_arr=z((B, U, QL), np.int64),
        lq_est=z((B, U, QL)),
        lq_id=z((B, U, QL), np.int64),
        lq_n=z((B, U), np.int64),
        lq_up=z((B, U, QL)),
        lq_dest=z((B, U, QL), np.int64),
        lq_ecyc=z((B, U, QL)),
        uq_bits=z((B, U, QU)),
        uq_size=z((B, U, QU)),
        uq_dest=z((B, U, QU), np.int64),
        uq_arr=z((B, U, QU), np.int64),
        uq_est=z((B, U, QU)),
        uq_id=z((B, U, QU), np.int64),
        uq_ecyc=z((B, U, QU)),
        uq_n=z((B, U), np.int64),
        eq_cyc=z((B, E, QE)),
        eq_arr=z((B, E, QE), np.int64),
        eq_est=z((B, E, QE)),
        eq_id=z((B, E, QE), np.int64),
        eq_n=z((B, E), np.int64),
        n_active=z((B, E)),
        backlog_bits=z((B, E)),
        local_wait_cyc=z((B, U)),
        hist=z((B, E, p.history)),
        arrived=z(B, np.int64),
        completed=z(B, np.int64),
        dropped=z((B, 3), np.int64),
        rejected=z(B, np.int64),
        arr_on=_arrivals.initial_state(p.schedule, exo, B, U),
        eq_user=z((B, E, QE), np.int64),
    )
    return state, exo


def _fixed_rate_channel(rate_bps: float, fade_u: np.ndarray) -> tuple[float, np.ndarray]:
    """(bandwidth, mean SNR (B,U,E)) that make eq 1 give exactly ``rate_bps`` for the constant
    fading draw ``fade_u`` (no fading): B = rate and SNR̄·|h|² = 1, so B·log2(1 + 1) = B. A product
    within one rounding step of 1 still gives 1 + it = 2.0 exactly (round half to even)."""
    gain = float(-np.log(1.0 - np.float64(fade_u.flat[0])))
    snr = 1.0 / gain
    while snr * gain != 1.0:  # at most a step or two
        snr = np.nextafter(snr, 0.0 if snr * gain > 1.0 else 2.0)
    return rate_bps, np.full(fade_u.shape, snr)


# --------------------------------------------------------------------------- arrivals


def draw_slot(state: SimState, p: Params, exo: np.random.Generator, arrivals: bool = True) -> Arrivals:
    """Draw this slot's fading (sets ``state.rate``) and arrivals, in a fixed order."""
    B, U = state.lq_n.shape
    if arrivals:
        counts = _arrivals.draw_counts(p.schedule, p.arrival, p.rate, state.t, state.arr_on, exo, U)
    else:
        counts = np.zeros((B, U), np.int64)
    if p.rayleigh:
        # u = 0 would mean |h|² = 0 exactly: lift it to the smallest positive float32 step
        fade = state.fade_u  # drawn in place
        if fade.dtype != np.float32 or not fade.flags.carray:
            fade = np.empty(state.snr_mean.shape, np.float32)
        state.fade_u = np.maximum(exo.random(dtype=np.float32, out=fade), np.float32(2.0**-24), out=fade)
    user, valid = kernels.arrivals_layout(counts)
    bits = exo.uniform(p.size_lo_bit, p.size_hi_bit, valid.shape)
    bits *= valid  # 0 on padding
    net = None if p.dnn is None else exo.integers(0, len(p.dnn.networks), valid.shape) * valid
    return Arrivals(user=user, bits=bits, valid=valid, net=net)


# --------------------------------------------------------------------------- decisions


def rates_of(state: SimState, fade_u: np.ndarray, snr_mean: np.ndarray) -> np.ndarray:
    """Eq 1 for the given (gathered) fading uniforms and mean SNRs, bit/s."""
    gain = -np.log(1.0 - fade_u.astype(np.float64))  # 1 - u is exact for a float32 u
    return uplink_rate(snr_mean, gain, state.bandwidth_hz)


def observe(state: SimState, arr: Arrivals, k: int, p: Params) -> Obs:
    """Observation of the k-th arrival of every env that has one."""
    s = state
    env = kernels.observe_envs(arr.valid, k)
    n, (_, E, H) = len(env), s.hist.shape
    obs = (Obs if p.dnn is None else DnnObs)(
        env=env, bits=np.empty(n), user=np.empty(n, np.int64), local_wait_s=np.empty(n), rate=np.empty((n, E)),
        f_edge=np.empty((n, E)), n_active=np.empty((n, E)), backlog_bits=np.empty((n, E)),
        hist=np.empty((n, E, H)), dist=np.empty((n, E)), uplink_bits=np.empty(n), uplink_wait_s=np.empty(n),
        mean_rate=np.empty((n, E)), n_uploading=np.empty((n, E)), n_in_service=np.empty((n, E)),
        backlog_cycles=np.empty((n, E)),
    )
    inputs = (arr.user, arr.bits, p.f_loc, float(s.bandwidth_hz), s.local_wait_cyc, s.fade_u, s.snr_mean, s.f_edge,
              s.n_active, s.backlog_bits, np.ascontiguousarray(s.hist), s.dist, s.mean_rate, s.uq_bits, s.uq_dest,
              s.uq_n, s.eq_cyc, s.eq_n)
    outputs = (obs.bits, obs.user, obs.local_wait_s, obs.rate, obs.f_edge, obs.n_active, obs.backlog_bits, obs.hist,
               obs.dist, obs.mean_rate, obs.uplink_bits, obs.uplink_wait_s, obs.n_uploading, obs.n_in_service,
               obs.backlog_cycles)
    _over_ranges(n, _ROWS_PER_RANGE, lambda lo, hi: kernels.observe_rows(lo, hi, env, k, *inputs, *outputs))
    if p.dnn is not None:
        obs.net = arr.net[env, k]
        cyc, cnt = dnn_pending(s)
        obs.pending_cycles, obs.n_pending = cyc[env], cnt[env]
    return obs


def _widen(state: SimState, names: tuple[str, ...], need: int) -> None:
    """Give the queues ``names`` (same width) room for ``need`` tasks per row: at least double.
    The new entries are zeros, as beyond the end of every queue."""
    q = getattr(state, names[0]).shape[-1]
    if need > q:
        for name in names:
            a = getattr(state, name)
            pad = np.zeros(a.shape[:-1] + (max(need, 2 * q) - q,), a.dtype)
            setattr(state, name, np.concatenate([a, pad], axis=-1))


_LOCAL_Q = ("lq_cyc", "lq_arr", "lq_est", "lq_id", "lq_up", "lq_dest", "lq_ecyc")
_UPLINK_Q = ("uq_bits", "uq_size", "uq_dest", "uq_arr", "uq_est", "uq_id", "uq_ecyc")
_EDGE_Q = ("eq_cyc", "eq_arr", "eq_est", "eq_id", "eq_user")


def decide(state: SimState, obs: Obs, action: np.ndarray, p: Params, est_s: np.ndarray | None = None) -> SimState:
    """Apply one decision per row of ``obs`` (action 0 = local, e = edge server e, E+1 = reject when
    ``p.allow_reject``). ``est_s`` (n,): each task's decision-time estimated latency (s), kept with
    the task and reported beside its realized latency (``NO_ESTIMATE`` when not given)."""
    s = state
    est = np.full(len(obs), NO_ESTIMATE) if est_s is None else np.ascontiguousarray(est_s, np.float64)
    if p.dnn is not None:
        return _decide_dnn(state, obs, action, p, est)
    args = (np.asarray(obs.env, np.int64), np.asarray(obs.user, np.int64), np.asarray(obs.bits, np.float64),
            np.asarray(action, np.int64), est, p.allow_reject, p.gamma, s.t)
    while True:
        need_l, need_u = kernels.decide_rows(*args, s.lq_cyc, s.lq_arr, s.lq_est, s.lq_id, s.lq_n, s.local_wait_cyc,
                                             s.uq_bits, s.uq_size, s.uq_dest, s.uq_arr, s.uq_est, s.uq_id, s.uq_ecyc, s.uq_n,
                                             s.n_active, s.backlog_bits, s.arrived, s.rejected)
        if not need_l and not need_u:
            return state
        _widen(state, _LOCAL_Q, need_l)
        _widen(state, _UPLINK_Q, need_u)


def _decide_dnn(state: SimState, obs: Obs, action: np.ndarray, p: Params, est: np.ndarray) -> SimState:
    s = state
    _, e, dev, up, edge = dnn_stages(obs, action, p)
    while True:
        need_l, need_u = kernels_dnn.decide_dnn_rows(
            np.asarray(obs.env, np.int64), np.asarray(obs.user, np.int64), dev, up, e, edge, est, s.t, s.lq_cyc, s.lq_arr,
            s.lq_est, s.lq_id, s.lq_up, s.lq_dest, s.lq_ecyc, s.lq_n, s.local_wait_cyc, s.uq_bits, s.uq_size, s.uq_dest,
            s.uq_arr, s.uq_est, s.uq_id, s.uq_ecyc, s.uq_n, s.n_active, s.backlog_bits, s.arrived)
        if not need_l and not need_u:
            return state
        _widen(state, _LOCAL_Q, need_l)
        _widen(state, _UPLINK_Q, need_u)


# --------------------------------------------------------------------------- service


def serve(state: SimState, p: Params) -> SlotOutcome:
    """Run one slot of service for every env, drop expired tasks, advance ``t``, and
    recompute N_e, L_e, the local waits and the L_e history from the realized queues.

    Local FIFOs run at f_loc, uplink FIFOs at this slot's rates, servers share F_e equally
    among their tasks (exact processor sharing within the slot); uploads finished during the
    slot join their server at the boundary; a task arriving in slot a and unfinished at the
    end of slot a+τ-1 is dropped where it is. See ``kernels.serve_envs``. With ``p.service ==
    "slotted"`` each queue serves one task per slot instead (``kernels_slotted``).
    """
    s = state
    while True:
        need, rec_at, lat_buf, where_buf, n_rec, *out = kernels.serve_plan(s.lq_n, s.uq_n, s.uq_dest, s.eq_n,
                                                                           s.eq_cyc.shape[-1])
        if not need:
            break
        _widen(state, _EDGE_Q, need)
    if p.dnn is not None:  # room for every local stage to hand its upload on (kernels.serve_envs)
        _widen(state, _UPLINK_Q, int((s.uq_n + s.lq_n).max(initial=0)))
    est_buf = np.empty_like(lat_buf)
    id_buf = np.empty(lat_buf.shape, np.int64)
    slotted = p.service == "slotted"
    args = (
        s.t, p.slot_s, p.deadline_slots - 1, p.f_loc, p.kappa * p.f_loc**2, p.tx_power_w, float(s.bandwidth_hz), p.gamma,
        s.fade_u, s.snr_mean, s.f_edge, s.lq_cyc, s.lq_arr, s.lq_est, s.lq_id, s.lq_n, s.uq_bits, s.uq_size, s.uq_dest,
        s.uq_arr, s.uq_est, s.uq_id, s.uq_n, s.eq_cyc, s.eq_arr, s.eq_est, s.eq_id, *((s.eq_user,) if slotted else ()),
        s.eq_n, s.n_active, s.backlog_bits, s.local_wait_cyc, s.hist, rec_at, lat_buf, where_buf, est_buf, id_buf, n_rec,
        *out, s.lq_up, s.lq_dest, s.lq_ecyc, s.uq_ecyc, *((p.dnn is not None,) if slotted else ()),
    )
    kernel = kernels_slotted.serve_envs_slotted if slotted else kernels.serve_envs
    _over_ranges(s.batch, _ENVS_PER_RANGE, lambda lo, hi: kernel(lo, hi, *args))
    completed, dropped, work_edge, energy = out
    state.completed += completed
    state.dropped += dropped
    return SlotOutcome(*kernels.gather_records(rec_at, n_rec, lat_buf, where_buf, est_buf, id_buf), completed, dropped,
                       work_edge, energy)


# --------------------------------------------------------------------------- threads

THREADS = max(1, int(os.environ.get("MECOFFLOAD_THREADS", "1")))
"""Threads for the compiled loops of ``observe`` and ``serve`` (environment variable
MECOFFLOAD_THREADS, default 1; see ``set_threads``). Results are identical for any value:
every observation row and every env is computed alone and written only to its own place."""


def set_threads(n: int) -> None:
    """Run ``observe`` and ``serve`` of large batches on up to n threads (1 = no threads).
    Worth it only when that many cores are free."""
    global THREADS
    THREADS = max(1, int(n))


_ENVS_PER_RANGE = 512  # envs per unit of work for a thread in ``serve``
_ROWS_PER_RANGE = 512  # observation rows per unit of work in ``observe``
_pool: ThreadPoolExecutor | None = None


def _over_ranges(n: int, per_range: int, run) -> None:
    """Call ``run(lo, hi)`` over ranges covering [0, n), on up to ``THREADS`` threads (``run``
    must release the GIL). Ranges are claimed one at a time, so a thread that gets little
    CPU time delays the others by at most one range."""
    global _pool
    n_ranges = min(4 * THREADS, n // per_range) if THREADS > 1 else 1
    if n_ranges <= 1:
        run(0, n)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(THREADS - 1, thread_name_prefix="mecoffload")
    edges = [n * i // n_ranges for i in range(n_ranges + 1)]
    claim = itertools.count()

    def drain() -> None:
        while (i := next(claim)) < n_ranges:
            run(edges[i], edges[i + 1])

    helpers = [_pool.submit(drain) for _ in range(THREADS - 1)]
    drain()
    for h in helpers:
        h.result()
