"""Estimated (decision-time) cost model of seed 001, eqs 1-11, vectorised.

All functions broadcast over leading axes; the last axis of per-server arrays is the
server axis (E), and cost arrays have E+1 entries (index 0 = local execution).
Times are in seconds, sizes in bits, frequencies in Hz, workloads in cycles.
"""

from __future__ import annotations

import numpy as np

from .params import Params


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
    d = bits[..., None]
    f_eff = f_edge / (n_active + 1.0)  # eq 4
    edge = d / rate + (backlog_bits * p.gamma) / f_eff + (d * p.gamma) / f_eff  # eqs 2, 5, 6, 7
    local = local_wait_s + bits * p.gamma / p.f_loc  # eq 3
    return np.concatenate([local[..., None], edge], axis=-1)


def generalized_cost(latency_s: np.ndarray, p: Params) -> np.ndarray:
    """Eq 11: J = C + 1(C > τ_max)·ρ, seconds."""
    return latency_s + (latency_s > p.tau_s + 1e-12) * p.rho_s


def mask_local(j: np.ndarray, p: Params) -> np.ndarray:
    """Set the local entry to +inf when the scenario forbids local execution."""
    if p.allow_local:
        return j
    j = j.copy()
    j[..., 0] = np.inf
    return j
