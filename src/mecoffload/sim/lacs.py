"""Look-Ahead Collaborative Simulation (seed 001, §IV-E, eqs 22-26), vectorised.

For every candidate action a of every env: apply the virtual transition of eq 22 (one slot
of service at the effective rate, plus the task on the chosen server), sample K future tasks
of size U[lo·D, hi·D] (eq 23), give each its best generalized cost under the virtual state
(eq 24), average (eq 25). The shaped reward is -(J(a) + λ·C_impact(a)) (eq 26).
Costs in seconds.
"""

from __future__ import annotations

import numpy as np

from .cost import estimated_j
from .dynamics import Obs
from .params import Params


def lacs_terms(obs: Obs, p: Params, rng: np.random.Generator, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (J, C_impact), both (B, E+1) in seconds; J of forbidden actions is +inf."""
    k = p.lacs_k if k is None else k
    B, E = obs.rate.shape
    j_now = estimated_j(obs.bits, obs.rate, obs.local_wait_s, obs.f_edge, obs.n_active, obs.backlog_bits, p)
    # eq 22: one slot of normal service for every server, then the task joins the chosen one
    f_eff = obs.f_edge / (obs.n_active + 1.0)
    served = np.maximum(obs.backlog_bits - f_eff * p.slot_s / p.gamma, 0.0)  # (B,E)
    eye = np.eye(E + 1, dtype=bool)[:, 1:]  # (A,E): candidate a adds the task to server a
    v_backlog = served[:, None, :] + eye[None] * obs.bits[:, None, None]  # (B,A,E)
    v_n = obs.n_active[:, None, :] + eye[None]
    task_loc = obs.bits * p.gamma / p.f_loc
    v_wait = np.maximum(obs.local_wait_s[:, None] + np.eye(E + 1)[0][None] * task_loc[:, None] - p.slot_s, 0.0)  # (B,A)
    # eq 23: K future tasks around the current size
    fut = obs.bits[:, None] * rng.uniform(p.lacs_lo, p.lacs_hi, (B, k))  # (B,K)
    j_fut = estimated_j(
        fut[:, None, :],  # (B,1,K)
        obs.rate[:, None, None, :],
        v_wait[:, :, None],
        obs.f_edge[:, None, None, :],
        v_n[:, :, None, :],
        v_backlog[:, :, None, :],
        p,
    )  # (B,A,K,A')
    best = j_fut.min(-1)  # eq 24
    impact = best.mean(-1)  # eq 25
    return j_now, impact


def lacs_reward(obs: Obs, action: np.ndarray, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Eq 26 in slots: -(J + λ·C_impact)/Δt for the given actions, shape (B,)."""
    j, impact = lacs_terms(obs, p, rng)
    b = np.arange(j.shape[0])
    return -(j[b, action] + p.lacs_weight * impact[b, action]) / p.slot_s
