"""Realized rewards: what happened to each decided task, credited back to its decision.

A decision's realized cost (in slots Δt, like the estimated rewards of ``sim.rewards``) is known
only when its task ends:

- completed: its realized latency / Δt (``SlotOutcome.latency_s``, matched to the decision by the
  env's task id ``SlotOutcome.task_id`` = the env's count of tasks decided before it);
- dropped: τ + ρ/Δt (deadline plus the deadline penalty, the cost of a late task in eq 11). A task
  decided in slot a and not completed by the end of slot a + τ − 1 was dropped (the kernel drops it
  there), so drops are credited without per-task drop records;
- rejected (admission control, action E+1): the same τ + ρ/Δt, known at decision time.

``RealizedCredit`` keeps the decisions still in flight of B envs (flat arrays, no per-task
objects) and collects (env, task id, cost) triples as outcomes become known; ``pop`` hands them
over. ``OffloadEnv(reward="realized")`` and the DQN learner use it. Every decided task is credited
exactly once (when its outcome is known), unless its env is reset first (``forget``).
"""

from __future__ import annotations

import numpy as np

from .dynamics import SlotOutcome
from .params import Params

_KEY = np.int64(1) << np.int64(40)  # key = env·2⁴⁰ + task id


def drop_cost_slots(p: Params) -> float:
    """Realized cost of a dropped or rejected task, slots: τ + ρ/Δt."""
    return float(p.deadline_slots + p.rho_s / p.slot_s)


def completed_cost_slots(latency_s: np.ndarray, p: Params) -> np.ndarray:
    """Realized cost of completed tasks, slots: latency / Δt."""
    return np.asarray(latency_s, np.float64) / p.slot_s


class RealizedCredit:
    """Decisions in flight of B envs and the realized costs (slots) of those that ended."""

    def __init__(self, p: Params):
        self.p = p
        self.drop = drop_cost_slots(p)
        z = lambda: np.zeros(0, np.int64)  # noqa: E731
        self.env, self.id, self.slot = z(), z(), z()  # in flight
        self._out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._mark = 0  # outcomes in _out before it were already handed out by ``fresh``

    def decided(self, env: np.ndarray, task_id: np.ndarray, slot: np.ndarray, action: np.ndarray) -> None:
        """n decisions just taken: env, their task ids, their slot, the actions (E+1 = reject)."""
        env, task_id, slot = (np.asarray(x, np.int64) for x in (env, task_id, slot))
        rej = np.asarray(action) == self.p.n_servers + 1 if self.p.allow_reject else np.zeros(len(env), bool)
        if rej.any():
            self._out.append((env[rej], task_id[rej], np.full(int(rej.sum()), self.drop)))
        keep = ~rej
        self.env = np.concatenate([self.env, env[keep]])
        self.id = np.concatenate([self.id, task_id[keep]])
        self.slot = np.concatenate([self.slot, slot[keep]])

    def served(self, rows: np.ndarray, outcome: SlotOutcome, t_after: np.ndarray) -> None:
        """One slot served for the envs ``rows`` (row i of the served batch = env rows[i]); t_after:
        their slot index after the service (``SimState.t``)."""
        rows = np.asarray(rows, np.int64)
        env = rows[outcome.lat_env]
        if len(env):
            keys = env * _KEY + outcome.task_id
            self._out.append((env, np.asarray(outcome.task_id, np.int64), completed_cost_slots(outcome.latency_s, self.p)))
            self._remove(np.isin(self.env * _KEY + self.id, keys))
        t_now = np.full(int(max(rows.max(initial=-1), self.env.max(initial=-1))) + 1, np.iinfo(np.int64).min)
        t_now[rows] = t_after
        late = self.slot + self.p.deadline_slots <= t_now[self.env]  # unfinished at the end of slot a+τ−1
        if late.any():
            self._out.append((self.env[late], self.id[late], np.full(int(late.sum()), self.drop)))
            self._remove(late)

    def forget(self, rows: np.ndarray) -> None:
        """Envs ``rows`` were reset: their decisions in flight will never be credited."""
        self._remove(np.isin(self.env, rows))

    def pop(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(env, task id, realized cost in slots) of every outcome known since the last pop."""
        parts, self._out, self._mark = self._out, [], 0
        return _joined(parts)

    def fresh(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like ``pop`` but only the outcomes since the last ``fresh`` (or ``pop``), which stay for ``pop``."""
        parts, self._mark = self._out[self._mark:], len(self._out)
        return _joined(parts)

    def in_flight(self) -> int:
        return len(self.env)

    def _remove(self, mask: np.ndarray) -> None:
        keep = ~mask
        self.env, self.id, self.slot = self.env[keep], self.id[keep], self.slot[keep]


def _joined(parts: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate(x) for x in zip(*parts))
