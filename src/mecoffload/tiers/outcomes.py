"""How a task ends, for both three-tier engines (``tiers.dynamics.TierSim`` and
``ecs.engine.EcsSim``): task states, the one set of failure reasons, the accounting check and
the aggregation of per-environment figures over seeds.

Every task ends exactly once: ``DONE`` or ``FAILED`` with one reason. An engine produces the
reasons its semantics allow (``TierSim.reasons``: all five; ``EcsSim.reasons``: no
``deadline``, EdgeCloudSim enforces none); metrics and accounting list that subset.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

# task states (int8 arrays ``status``); FUTURE = not arrived or not yet decided
FUTURE, OVERFLOW, UPLOAD, RUNNING, DONE, FAILED, PROCESSED = range(7)
"""FUTURE (EdgeCloudSim engine: any state before processing ended), OVERFLOW (deferred,
waiting for a decision), UPLOAD, RUNNING, DONE, FAILED, PROCESSED (EdgeCloudSim engine:
processing ended, result not yet back)"""

REASONS = ("vm_capacity", "bandwidth", "deadline", "mobility", "unfinished")
"""failure reasons, indexed by the codes below (``reason`` arrays; -1 = not failed)"""
R_VM, R_BW, R_DEADLINE, R_MOBILITY, R_UNFINISHED = range(5)

TIERS = ("local_edge", "remote_edge", "cloud")
"""tier of a placed task (``tier`` arrays of TierSim; EcsSim uses 0 edge, 1 cloud)"""


class TaskRecord:
    """Mixin of both engines: the per-task outcome arrays (``status``, ``reason``, ``tier``,
    ``vm``, and the times ``t_ready`` = upload end, ``t_pe`` = processing end, ``t_end`` = result
    back or failure, s) and how a task fails."""

    reasons: tuple[str, ...] = REASONS

    def _init_outcomes(self, T: int) -> None:
        self.status = np.zeros(T, np.int8)
        self.reason = np.full(T, -1, np.int8)
        self.tier = np.full(T, -1, np.int8)
        self.vm = np.full(T, -1, np.int64)
        self.t_ready = np.full(T, np.nan)
        self.t_pe = np.full(T, np.nan)
        self.t_end = np.full(T, np.nan)

    def _fail(self, ids: np.ndarray, reason: int, t: np.ndarray | float) -> None:
        """Tasks ``ids`` fail with ``reason`` (a code of :data:`REASONS`) at time ``t``."""
        self.status[ids] = FAILED
        self.reason[ids] = reason
        self.t_end[ids] = t


def check_accounting(status: np.ndarray, reason: np.ndarray, t_end: np.ndarray, reasons: Iterable[str],
                     label: str) -> dict:
    """Every task ended exactly once: completed + failed (each with one of ``reasons``) =
    generated, and every task has an end time. Returns the counts; raises AssertionError if not."""
    names = tuple(reasons)
    n = int(status.size)
    done = int((status == DONE).sum())
    failed = int((status == FAILED).sum())
    codes = [REASONS.index(r) for r in names]
    by_reason = np.bincount(reason[status == FAILED].astype(np.int64), minlength=len(REASONS))[codes]
    if done + failed != n or int(by_reason.sum()) != failed or np.isnan(t_end).any():
        raise AssertionError(f"{label} accounting broken: generated {n}, completed {done}, failed {failed} "
                             f"({int(by_reason.sum())} with a reason)")
    return {"generated": n, "completed": done, "failed": failed, **{r: int(k) for r, k in zip(names, by_reason)}}


def aggregate(per_env: list[dict], is_count, std_keys: Iterable[str]) -> dict:
    """Figures of several environments (normally the seeds of one device count) as one dict:
    counts (``is_count(key)``) summed, every other figure averaged over the environments where
    it is finite (NaN where none is), ``<key>_std`` (over environments) of ``std_keys``, and
    ``seeds``."""
    out: dict = {}
    for key in per_env[0]:
        vals = np.array([p[key] for p in per_env], float)
        ok = vals[np.isfinite(vals)]
        out[key] = int(vals.sum()) if is_count(key) else (float(ok.mean()) if ok.size else float("nan"))
    for key in std_keys:
        vals = np.array([p[key] for p in per_env], float)
        out[f"{key}_std"] = float(np.nanstd(vals)) if np.isfinite(vals).any() else float("nan")
    out["seeds"] = len(per_env)
    return out
