"""Estimated (decision-time) cost model of seed 001, eqs 1-11, vectorised.

All functions broadcast over leading axes; the last axis of per-server arrays is the
server axis (E), and cost arrays have E+1 entries (index 0 = local execution).
Times are in seconds, sizes in bits, frequencies in Hz, workloads in cycles.

``obs_latency`` / ``oracle_costs`` / ``oracle_actions`` take the rows of a ``sim.dynamics.Obs``
and follow the scenario's cost model (``cost.model``, ``Params.cost_model``):

- ``"paper"`` — seed 001 eqs 2-8 (``estimated_costs``): upload D/R at this slot's faded rate, then a
  share F_e/(N_e+1) of the server, with N_e and L_e counting every task sent to e (uploading or in
  service). Every reproduced number uses it.
- ``"queue"`` — the queue-aware estimate (``queue_costs``): what the queue simulation will do to the
  task, term by term (see its docstring and README "Cost models").

With ``cost.allow_reject`` the generalized costs get one more column, index E+1 = reject, costing
τ_max + ρ (a drop): less than any late location (C + ρ > τ_max + ρ), more than any location that
meets the deadline, so the argmin rejects exactly the tasks no location can serve in time.

Admission estimate: under the queue model with ``cost.allow_reject`` the tasks still uploading to
server e compete for it as if already in service (``committed_view``; ``uploads=True``), since a
task admitted on an optimistic estimate and dropped later has taken capacity from others. The
``uploads`` argument of ``obs_latency`` / ``oracle_costs`` overrides it (None = ``p.allow_reject``).
"""

from __future__ import annotations

import math

import numpy as np

from . import kernels
from .params import Params

LATE_SLACK_S = 1e-12
"""A cost counts as late (eq 11) when it exceeds τ_max by more than this (s)."""


def uplink_rate(snr_mean: np.ndarray, gain: np.ndarray, bandwidth_hz: float) -> np.ndarray:
    """Eq 1: R = B·log2(1 + SNR̄·|h|²) in bit/s (floored at 1 bit/s to keep D/R finite)."""
    return np.maximum(bandwidth_hz * np.log2(1.0 + snr_mean * gain), 1.0)


def estimated_costs(
    bits: np.ndarray,
    rate: np.ndarray,
    local_wait_s: np.ndarray,
    f_edge: np.ndarray,
    n_active: np.ndarray,
    backlog_bits: np.ndarray,
    p: Params,
) -> np.ndarray:
    """Latency C of every location (eqs 2-8), seconds, shape ``bits.shape + (E+1,)``.

    bits: task size D (bit), shape (...,). rate: uplink rate to each server (bit/s), (..., E).
    local_wait_s: T^{wait,loc} (s), (...,). f_edge: F_e (Hz), (..., E).
    n_active: N_e, tasks sharing server e, (..., E). backlog_bits: L_e (bit), (..., E).
    """
    return _costs(p, False, bits, rate, local_wait_s, f_edge, n_active, backlog_bits)


def estimated_j(
    bits: np.ndarray,
    rate: np.ndarray,
    local_wait_s: np.ndarray,
    f_edge: np.ndarray,
    n_active: np.ndarray,
    backlog_bits: np.ndarray,
    p: Params,
) -> np.ndarray:
    """Generalized cost J (eq 11) of every location, seconds, +inf where forbidden:
    ``mask_local(generalized_cost(estimated_costs(...)))`` in one pass. Same arguments."""
    return _costs(p, True, bits, rate, local_wait_s, f_edge, n_active, backlog_bits)


def obs_latency(obs, p: Params, uploads: bool | None = None) -> np.ndarray:
    """(n, E+1) estimated latency C (s) of every location for the n rows of an ``Obs``, under the
    scenario's cost model (paper: eqs 2-8; queue: ``queue_costs``). ``uploads`` (queue model only):
    count the tasks still uploading to each server as in service (``committed_view``); None = the
    admission estimate exactly when the scenario allows rejecting (``p.allow_reject``)."""
    if p.cost_model == "queue":
        n_at, cycles = committed_view(obs, p) if (p.allow_reject if uploads is None else uploads) \
            else (obs.n_in_service, obs.backlog_cycles)
        return queue_costs(obs.bits, obs.local_wait_s, obs.mean_rate, obs.uplink_wait_s, obs.f_edge, n_at, cycles, p)
    return _costs(p, False, obs.bits, obs.rate, obs.local_wait_s, obs.f_edge, obs.n_active, obs.backlog_bits)


def committed_view(obs, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """(tasks, cycles) per server, (n, E) each, of every task committed to server e: those in service
    (``n_in_service``, ``backlog_cycles``) and those still uploading to e from any device
    (``n_uploading``, γ·D each: γ·L_e − W_e, since L_e holds D per uploading task and W_e/γ per task
    in service). ``queue_costs`` given this view lets the uploading tasks compete for F_e from the
    decision on, as if already there: their upload usually ends before the new task's (they started
    earlier), and under processor sharing a later arrival slows every task present."""
    up_cycles = np.maximum(p.gamma * obs.backlog_bits - obs.backlog_cycles, 0.0)
    return obs.n_in_service + obs.n_uploading, obs.backlog_cycles + up_cycles


def oracle_costs(obs, p: Params, uploads: bool | None = None) -> np.ndarray:
    """(n, E+1) generalized cost J (s, eq 11) of every location of an ``Obs`` under the scenario's
    cost model; forbidden ones are +inf. With ``allow_reject``: (n, E+2), the last column = reject.
    ``uploads``: as in ``obs_latency`` (queue model only)."""
    if p.cost_model == "queue":
        j = mask_local(generalized_cost(obs_latency(obs, p, uploads), p), p)
    else:
        j = _costs(p, True, obs.bits, obs.rate, obs.local_wait_s, obs.f_edge, obs.n_active, obs.backlog_bits)
    return with_reject(j, p)


def with_reject(j: np.ndarray, p: Params) -> np.ndarray:
    """Append the reject column (J = τ_max + ρ, s) when the scenario allows rejecting; else ``j``."""
    if not p.allow_reject:
        return j
    return np.concatenate([j, np.full(j.shape[:-1] + (1,), p.deadline_s + p.rho_s)], axis=-1)


def oracle_actions(obs, p: Params) -> np.ndarray:
    """(n,) one-step oracle of seed 001 eq 15: the action with the least estimated J (E+1 = reject)."""
    return np.argmin(oracle_costs(obs, p), axis=1)


def doomed_to_local(j: np.ndarray, actions: np.ndarray, p: Params) -> np.ndarray:
    """``actions`` (n,) with every task that no location can serve in time (its least J, the chosen
    one, exceeds τ_max) sent to its own device's CPU (action 0) instead; rejections and scenarios
    without local execution are left as they are. ``j``: (n, E+1[+1]) generalized costs (s).

    Without admission control a doomed task still occupies whatever it is sent to until its deadline
    expires: on an uplink it holds up every later upload of its device, at a server it takes a
    processor-sharing share from every task there. On the device's CPU it delays only that device's
    later local tasks, which see it in their local wait (``local_wait_s``) and go elsewhere."""
    a = np.asarray(actions, np.int64)
    if not p.allow_local or not len(a):
        return a
    late = (j[np.arange(len(a)), a] > p.deadline_s + LATE_SLACK_S) & (a <= p.n_servers)
    return np.where(late, 0, a)


# --------------------------------------------------------------------------- queue-aware model


def queue_costs(bits, local_wait_s, mean_rate, uplink_wait_s, f_edge, n_in_service, backlog_cycles,
                p: Params) -> np.ndarray:
    """Queue-aware estimated latency (s) of every location, shape ``bits.shape + (E+1,)``; index 0 local.

    Arguments broadcast like ``estimated_costs``: per task bits D (bit), local_wait_s (s),
    uplink_wait_s (s); per server mean_rate R̄ (bit/s), f_edge F_e (Hz), n_in_service n_e (tasks at
    the server, not those still uploading) and backlog_cycles W_e (their remaining cycles). Terms,
    each what ``sim.kernels.serve_envs`` does to the task (times from the start of the decision slot):

    - local (FIFO, exact): C_0 = T^{wait,loc} + γD/f_loc.
    - upload: the device's own FIFO radio first sends what is queued before the task
      (``uplink_wait_s``), then D at the link's mean rate R̄ (the ergodic mean of eq 1 over the
      fading, since an upload spans several slots): x = W^up + D/R̄.
    - hand-over: an upload finished during a slot joins its server at the next slot boundary. x is
      a mean (the fading makes the finishing instant random), so the wait to that boundary is taken
      as its average, half a slot: S_e = x + Δt/2. (⌈x/Δt⌉·Δt, the boundary of the mean, ranks the
      servers worse: on ``comllm`` the queue oracle's realized mean is 0.387 s with it, 0.371 s with
      Δt/2.)
    - compute (processor sharing with the tasks in service): during [0, S_e) the n_e tasks share
      F_e, taken as equal remaining works w̄ = W_e/n_e, so w̄' = max(w̄ − F_e·S_e/n_e, 0) is left
      each; then the task's w = γD cycles and the n'_e = n_e·1(w̄' > 0) others share F_e, and PS
      finishes it after T^c = (w + n'_e·min(w̄', w))/F_e. Tasks still uploading to e are not
      counted unless the caller passes ``committed_view`` (the admission estimate: ``obs_latency``).
    - C_e = S_e + T^c.
    """
    bits = np.asarray(bits, np.float64)
    w = bits * p.gamma
    x = np.asarray(uplink_wait_s)[..., None] + bits[..., None] / mean_rate
    start = x + 0.5 * p.slot_s
    n = np.asarray(n_in_service, np.float64)
    each = np.divide(backlog_cycles, n, out=np.zeros(np.broadcast_shapes(np.shape(backlog_cycles), n.shape)), where=n > 0)
    served = f_edge * start
    served = np.divide(served, n, out=np.zeros(np.broadcast_shapes(served.shape, n.shape)), where=n > 0)
    left = np.maximum(each - served, 0.0)
    n_left = np.where(left > 0, n, 0.0)
    compute = (w[..., None] + n_left * np.minimum(left, w[..., None])) / f_edge
    local = np.asarray(local_wait_s) + w / p.f_loc
    edge = start + compute
    return np.concatenate([np.broadcast_to(local[..., None], edge.shape[:-1] + (1,)), edge], axis=-1)


def mean_uplink_rate(snr_mean: np.ndarray, bandwidth_hz: float, rayleigh: bool) -> np.ndarray:
    """Ergodic mean of eq 1 over the fading, bit/s: B·E[log2(1 + SNR̄·|h|²)], floored at 1 bit/s as
    eq 1. Rayleigh (|h|² ~ Exp(1)): E[ln(1 + s·g)] = e^{1/s}·E1(1/s) exactly (E1 the exponential
    integral); without fading: B·log2(1 + SNR̄)."""
    snr = np.asarray(snr_mean, np.float64)
    if not rayleigh:
        return np.maximum(bandwidth_hz * np.log2(1.0 + snr), 1.0)
    with np.errstate(divide="ignore"):
        z = 1.0 / snr
    nats = np.where(snr > 0, _exp_e1(np.where(snr > 0, z, 1.0)), 0.0)
    return np.maximum(bandwidth_hz * nats / math.log(2.0), 1.0)


def _exp_e1(z: np.ndarray) -> np.ndarray:
    """e^z·E1(z) for z > 0, to ~1e-15 relative: the power series for z ≤ 1, the continued fraction
    e^z·E1(z) = 1/(z+1 − 1/(z+3 − 4/(z+5 − …))) evaluated backwards (100 levels) for z > 1."""
    z = np.asarray(z, np.float64)
    small = np.minimum(z, 1.0)
    term, series = np.ones_like(small), np.zeros_like(small)
    for k in range(1, 40):  # Σ_{k≥1} (−1)^{k+1} z^k / (k·k!)
        term = term * small / k
        series += (-1.0) ** (k + 1) * term / k
    e1_small = -np.euler_gamma - np.log(small) + series
    big = np.maximum(z, 1.0)
    frac = np.zeros_like(big)
    for k in range(100, 0, -1):
        frac = k * k / (big + 2 * k + 1 - frac)
    cf = 1.0 / (big + 1.0 - frac)
    return np.where(z <= 1.0, np.exp(small) * e1_small, cf)


def _costs(p: Params, generalized: bool, bits, rate, local_wait_s, f_edge, n_active, backlog_bits) -> np.ndarray:
    """``kernels.cost_rows`` over the arguments broadcast against each other and flattened to
    rows: (n,) per task, (n, E) per server; the result takes the broadcast shape back."""
    consts = (p.gamma, p.f_loc, p.deadline_s + LATE_SLACK_S, p.rho_s, generalized, p.allow_local)
    if _are_rows(bits, rate, local_wait_s, f_edge, n_active, backlog_bits):  # e.g. an Obs: no copies
        return kernels.cost_rows(bits, rate, local_wait_s, f_edge, n_active, backlog_bits, *consts)
    task = [np.asarray(x, np.float64) for x in (bits, local_wait_s)]
    srv = [np.asarray(x, np.float64) for x in (rate, f_edge, n_active, backlog_bits)]
    lead = np.broadcast_shapes(*(x.shape for x in task), *(x.shape[:-1] for x in srv))
    E = np.broadcast_shapes(*(x.shape[-1:] for x in srv))[0]
    n = math.prod(lead)

    def rows(x: np.ndarray, shape: tuple) -> np.ndarray:  # (n,) or (n, E), C-contiguous
        if x.shape != shape:
            x = np.broadcast_to(x, shape)
        return np.ascontiguousarray(x).reshape((n,) + shape[len(lead):])

    out = kernels.cost_rows(
        rows(task[0], lead), rows(srv[0], lead + (E,)), rows(task[1], lead), rows(srv[1], lead + (E,)),
        rows(srv[2], lead + (E,)), rows(srv[3], lead + (E,)), *consts,
    )
    return out.reshape(lead + (E + 1,))


def _are_rows(bits, rate, local_wait_s, f_edge, n_active, backlog_bits) -> bool:
    """True for float64 arrays of shapes (n,) and (n, E) as the kernel takes them."""
    arrays = (bits, rate, local_wait_s, f_edge, n_active, backlog_bits)
    if not all(type(x) is np.ndarray and x.dtype == np.float64 for x in arrays):
        return False
    n = bits.shape
    return local_wait_s.shape == n and len(n) == 1 and rate.ndim == 2 and rate.shape[0] == n[0] \
        and f_edge.shape == n_active.shape == backlog_bits.shape == rate.shape


def generalized_cost(latency_s: np.ndarray, p: Params) -> np.ndarray:
    """Eq 11: J = C + 1(C > τ_max)·ρ, seconds."""
    return latency_s + (latency_s > p.deadline_s + LATE_SLACK_S) * p.rho_s


def mask_local(j: np.ndarray, p: Params) -> np.ndarray:
    """Set the local entry to +inf when the scenario forbids local execution."""
    if p.allow_local:
        return j
    j = j.copy()
    j[..., 0] = np.inf
    return j
