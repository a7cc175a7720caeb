"""Live monitoring of the decision service (seed 004's monitoring loop): Prometheus metrics and
realized-vs-estimated latency statistics per policy.

Every decision's estimated latency (s) of the chosen option is kept under its ``decision_id`` (the
newest ``KEEP`` of them); ``POST /v1/outcome`` reports what really happened and the error
realized - estimated (s) goes into a histogram and the per-policy running means of ``stats()``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

KEEP = 200_000  # decisions whose estimate is kept for a later outcome (~100 B each)
LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
"""request latency histogram buckets, s"""
TASK_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
"""task latency buckets, s (comllm: slot 0.1 s, deadline 1 s)"""
ERROR_BUCKETS = (-1.0, -0.5, -0.2, -0.1, -0.05, -0.02, 0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
"""realized - estimated latency buckets, s"""


class Monitor:
    """Prometheus metrics of one service (its own registry) and the outcome bookkeeping."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        disable_created_metrics()  # no *_created timestamps: smaller /metrics, nothing the dashboard reads
        self.registry = r = CollectorRegistry()
        self.requests = Counter("mecoffload_requests", "HTTP requests by path and status", ["path", "status"], registry=r)
        self.latency = Histogram("mecoffload_request_seconds", "request latency, s", ["path"], buckets=LATENCY_BUCKETS,
                                 registry=r)
        self.decisions = Counter("mecoffload_decisions", "decisions by location (local, server_<e> 0-based, reject)",
                                 ["location"], registry=r)
        self.invalid = Counter("mecoffload_validation_errors", "requests refused with 422, by path", ["path"], registry=r)
        self.outcomes = Counter("mecoffload_outcomes", "reported outcomes by policy and result", ["policy", "result"],
                                registry=r)
        self.realized = Histogram("mecoffload_realized_latency_seconds", "realized latency of reported tasks, s",
                                  ["policy"], buckets=TASK_BUCKETS, registry=r)
        self.estimated = Histogram("mecoffload_estimated_latency_seconds", "estimated latency of the same tasks, s",
                                   ["policy"], buckets=TASK_BUCKETS, registry=r)
        self.error = Histogram("mecoffload_outcome_error_seconds", "realized - estimated latency, s", ["policy"],
                               buckets=ERROR_BUCKETS, registry=r)
        self.policy = Gauge("mecoffload_policy_info", "the policy being served (1)", ["policy"], registry=r)
        self.ready = Gauge("mecoffload_ready", "1 when the service takes decisions", registry=r)
        self._lock = threading.Lock()
        self._by_action: dict[tuple[int, int], object] = {}  # (action, E) -> its decisions counter child
        self._pending: OrderedDict[int, tuple[str, float]] = OrderedDict()
        self._next = 0
        self._stats: dict[str, list[float]] = {}  # policy -> [n, completed, dropped, sum est, sum real, sum |err|, sum err]

    def serving(self, spec: str, previous: str | None) -> None:
        if previous is not None:
            self.policy.labels(previous).set(0)
        self.policy.labels(spec).set(1)

    def record(self, spec: str, action: np.ndarray, n_servers: int, chosen_s: np.ndarray) -> range:
        """Count the decisions ``action`` (0 = local, e = server e-1, E+1 = reject) whose estimated
        latencies are ``chosen_s`` (s; nan for a rejection); return their decision ids."""
        counts = np.bincount(action, minlength=1).tolist()
        for a, c in enumerate(counts):
            if c:
                child = self._by_action.get((a, n_servers))
                if child is None:
                    label = "local" if a == 0 else f"server_{a - 1}" if a <= n_servers else "reject"
                    child = self._by_action[(a, n_servers)] = self.decisions.labels(label)
                child.inc(c)
        with self._lock:
            ids = range(self._next, self._next + len(action))
            self._next += len(action)
            self._pending.update(zip(ids, ((spec, c) for c in chosen_s.tolist())))
            while len(self._pending) > KEEP:
                self._pending.popitem(last=False)
        return ids

    def outcome(self, decision_id: int, realized_s: float | None) -> tuple[str, float, float | None] | None:
        """Book an outcome (None = dropped); (policy, estimate s, error s or None), or None for an unknown id."""
        with self._lock:
            entry = self._pending.get(decision_id)
            if entry is None or entry[1] != entry[1]:  # unknown, or a rejected task (no estimate)
                return None
            del self._pending[decision_id]
            spec, est = entry
            s = self._stats.setdefault(spec, [0.0] * 7)
            s[0] += 1
            err = None if realized_s is None else realized_s - est
            if err is None:
                s[2] += 1
            else:
                s[1] += 1
                s[3] += est
                s[4] += realized_s
                s[5] += abs(err)
                s[6] += err
        self.outcomes.labels(spec, "dropped" if err is None else "completed").inc()
        if err is not None:
            self.realized.labels(spec).observe(realized_s)
            self.estimated.labels(spec).observe(est)
            self.error.labels(spec).observe(err)
        return spec, est, err

    def stats(self) -> dict[str, dict]:
        """Per policy: outcomes, completed, dropped, drop %, mean estimated / realized latency (s),
        mean error and mean absolute error (s) over the completed ones (null without data)."""
        with self._lock:
            items = {k: list(v) for k, v in self._stats.items()}
        out = {}
        for spec, (n, done, dropped, est, real, abs_err, err) in items.items():
            mean = (lambda x: x / done) if done else (lambda x: None)
            out[spec] = {"outcomes": int(n), "completed": int(done), "dropped": int(dropped),
                         "drop_pct": 100.0 * dropped / n if n else None, "mean_estimated_s": mean(est),
                         "mean_realized_s": mean(real), "mean_error_s": mean(err), "mean_abs_error_s": mean(abs_err)}
        return out

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
