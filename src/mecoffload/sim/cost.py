"""Estimated (decision-time) cost model of seed 001, eqs 1-11, vectorised.

All functions broadcast over leading axes; the last axis of per-server arrays is the
server axis (E), and cost arrays have E+1 entries (index 0 = local execution).
Times are in seconds, sizes in bits, frequencies in Hz, workloads in cycles.

``obs_latency`` / ``oracle_costs`` / ``oracle_actions`` take the rows of a ``sim.dynamics.Obs``
(any object with its ``bits, rate, local_wait_s, f_edge, n_active, backlog_bits`` arrays).
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


def obs_latency(obs, p: Params) -> np.ndarray:
    """(n, E+1) latency C (s, eqs 2-8) of every location for the n rows of an ``Obs``."""
    return _costs(p, False, obs.bits, obs.rate, obs.local_wait_s, obs.f_edge, obs.n_active, obs.backlog_bits)


def oracle_costs(obs, p: Params) -> np.ndarray:
    """(n, E+1) generalized cost J (s, eq 11) of every location of an ``Obs``; forbidden ones are +inf."""
    return _costs(p, True, obs.bits, obs.rate, obs.local_wait_s, obs.f_edge, obs.n_active, obs.backlog_bits)


def oracle_actions(obs, p: Params) -> np.ndarray:
    """(n,) one-step oracle of seed 001 eq 15: the location with the least estimated J."""
    return np.argmin(oracle_costs(obs, p), axis=1)


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
