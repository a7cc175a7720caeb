"""Rewards of one offloading decision (seed 001): the one-step −J (eqs 11, 14) and the LACS-shaped
−(J + λ·C_impact) (§IV-E, eqs 22-26). The Gymnasium env, the set-network GRPO and the LLM GRPO
all take their rewards from here.

A *cost function* ``cost(obs, p, rng) -> (n, E+1)`` gives the cost of every action of the n rows
of an ``Obs`` in slots (Δt); ``reward(costs, actions, cap)`` turns it into the reward of chosen
actions, −min(cost, cap). ``COSTS`` names them: ``"j"`` (one-step) and ``"lacs"``.

LACS (Look-Ahead Collaborative Simulation), for every candidate action a of every env: apply the
virtual transition of eq 22 (one slot of service at the effective rate, plus the task on the
chosen server), sample K future tasks of size U[lo·D, hi·D] (eq 23), give each its best
generalized cost under the virtual state (eq 24), average (eq 25). Costs in seconds unless a
name says slots.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .cost import estimated_j, generalized_cost, mask_local, oracle_costs, queue_costs
from .dynamics import Obs
from .params import Params

CostFn = Callable[[Obs, Params, np.random.Generator], np.ndarray]


def lacs_terms(obs: Obs, p: Params, rng: np.random.Generator, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (J, C_impact), both (B, A) in seconds (A = E+1 actions, E+2 with reject); J of forbidden
    actions is +inf. Under ``cost.model = "queue"`` the virtual state and the future tasks' costs use
    the queue-aware model (``_queue_impact``); a rejected task adds nothing to the virtual state."""
    k = p.lacs_k if k is None else k
    B, E = obs.rate.shape
    j_now = oracle_costs(obs, p)
    to_srv, to_loc = _candidates(p, E)  # (A,E) bool, (A,) 0/1
    fut = obs.bits[:, None] * rng.uniform(p.lacs_lo, p.lacs_hi, (B, k))  # eq 23: K future tasks, (B,K)
    task_loc = obs.bits * p.gamma / p.f_loc
    v_wait = np.maximum(obs.local_wait_s[:, None] + to_loc[None] * task_loc[:, None] - p.slot_s, 0.0)  # (B,A)
    if p.cost_model == "queue":
        return j_now, _queue_impact(obs, p, fut, v_wait, to_srv)
    # eq 22: one slot of normal service for every server, then the task joins the chosen one
    f_eff = obs.f_edge / (obs.n_active + 1.0)
    served = np.maximum(obs.backlog_bits - f_eff * p.slot_s / p.gamma, 0.0)  # (B,E)
    v_backlog = served[:, None, :] + to_srv[None] * obs.bits[:, None, None]  # (B,A,E)
    v_n = obs.n_active[:, None, :] + to_srv[None]
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


def _candidates(p: Params, E: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each action puts the task: (A, E) bool "joins server e", (A,) 1.0 for local; the
    reject action (when allowed) is a row of zeros."""
    eye = np.eye(p.n_actions, E + 1)
    return eye[:, 1:].astype(bool), eye[:, 0]


def _queue_impact(obs: Obs, p: Params, fut: np.ndarray, v_wait: np.ndarray, to_srv: np.ndarray) -> np.ndarray:
    """Eqs 22-25 under the queue-aware model, (B, A) s. Virtual transition of one slot: the device's
    uplink FIFO sends Δt of its queue (plus the task's D/R̄ when it is offloaded), every server works
    Δt·F_e off its tasks in service, the task joins the chosen server's service (γD cycles); then each
    future task of the same device gets its best queue-aware J."""
    up = obs.bits[:, None, None] / obs.mean_rate[:, None, :]  # (B,1,E) the task's own upload time
    v_up = np.maximum(obs.uplink_wait_s[:, None] + (to_srv[None] * up).sum(-1) - p.slot_s, 0.0)  # (B,A)
    left = np.maximum(obs.backlog_cycles - obs.f_edge * p.slot_s, 0.0)  # (B,E)
    n_left = np.where(left > 0, obs.n_in_service, 0.0)
    v_cycles = left[:, None, :] + to_srv[None] * (obs.bits * p.gamma)[:, None, None]  # (B,A,E)
    v_n = n_left[:, None, :] + to_srv[None]
    lat = queue_costs(fut[:, None, :], v_wait[:, :, None], obs.mean_rate[:, None, None, :], v_up[:, :, None],
                      obs.f_edge[:, None, None, :], v_n[:, :, None, :], v_cycles[:, :, None, :], p)  # (B,A,K,E+1)
    best = mask_local(generalized_cost(lat, p), p).min(-1)  # eq 24
    return best.mean(-1)  # eq 25


def lacs_cost_s(obs: Obs, p: Params, rng: np.random.Generator, k: int | None = None,
                weight: float | None = None) -> np.ndarray:
    """(B, E+1) J + λ·C_impact in seconds (λ = ``p.lacs_weight`` unless ``weight``); its argmin is LACS."""
    j, impact = lacs_terms(obs, p, rng, k)
    return j + (p.lacs_weight if weight is None else weight) * impact


def j_slots(obs: Obs, p: Params, rng: np.random.Generator | None = None) -> np.ndarray:
    """Eqs 11, 14: (n, E+1) estimated generalized cost J/Δt of every action, slots (``rng`` unused)."""
    return oracle_costs(obs, p) / p.slot_s


def lacs_slots(obs: Obs, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Eq 26: (n, E+1) (J + λ·C_impact)/Δt of every action, slots (K future tasks drawn from ``rng``)."""
    return lacs_cost_s(obs, p, rng) / p.slot_s


COSTS: dict[str, CostFn] = {"j": j_slots, "lacs": lacs_slots}
"""cost functions by name: the one-step cost (eq 14) and the LACS-shaped cost (eq 26)"""


def reward(costs: np.ndarray, actions: np.ndarray, cap: float = np.inf) -> np.ndarray:
    """−min(cost, cap) of the chosen actions: ``actions`` (n,) gives (n,), (n, G) gives (n, G)."""
    a = np.asarray(actions)
    taken = np.take_along_axis(costs, a[:, None] if a.ndim == 1 else a, 1)
    return -np.minimum(taken[:, 0] if a.ndim == 1 else taken, cap)


def lacs_reward(obs: Obs, action: np.ndarray, p: Params, rng: np.random.Generator) -> np.ndarray:
    """Eq 26 in slots: -(J + λ·C_impact)/Δt for the given actions, shape (B,)."""
    return reward(lacs_slots(obs, p, rng), action)
