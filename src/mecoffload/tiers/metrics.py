"""Seed 002 §V metrics of a finished :class:`TierSim`, overall and per tier.

Only tasks arriving in [warmup, horizon) count. Times are means over completed tasks:

- ``service_time_s``: arrival -> result back at the device (network + processing + waiting);
- ``network_delay_s``: upload + download, every hop incl. propagation;
- ``processing_time_s``: upload end -> processing end (time on the VM, shared);
- ``waiting_time_s``: arrival -> dispatch (deferral in the overflow queue);
- ``failure_pct``: failed / generated, also by reason (``fail_<reason>_pct``);
- ``vm_util_pct``: EdgeCloudSim's VM CPU utilisation, the sum of the running tasks' required
  utilisations (capped at 100 %), averaged over slots and VMs (``edge_`` = MEC VMs, seed 002
  Fig. 8; ``cloud_``), ``*_busy_pct``: fraction of the VM's cores actually busy;
- ``tier_<t>_pct``: share of the generated tasks assigned to each tier, and per tier the same
  times and failure rates (``<tier>_service_time_s`` ...).

Numbers are computed per environment (= per seed) and averaged; ``*_std`` are the standard
deviations over seeds of the main ones.
"""

from __future__ import annotations

import numpy as np

from .dynamics import TierSim
from .outcomes import DONE, FAILED, REASONS, TIERS, aggregate
from .outcomes import check_accounting as _check

COUNTS = ("tasks", "completed", "failed")
MAIN = ("service_time_s", "network_delay_s", "processing_time_s", "failure_pct", "edge_vm_util_pct")


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else float("nan")


def env_metrics(sim: TierSim, b: int) -> dict:
    wl, sc = sim.wl, sim.sc
    m = (wl.env == b) & (wl.t_arr >= sc.sim.warmup_s) & (wl.t_arr < sc.sim.horizon_s)
    n = int(m.sum())
    done = m & (sim.status == DONE)
    failed = m & (sim.status == FAILED)
    service = sim.t_end - wl.t_arr
    net = sim.net_up + sim.net_down
    proc = sim.t_pe - sim.t_ready
    wait = sim.t_disp - wl.t_arr
    out = {
        "tasks": n,
        "completed": int(done.sum()),
        "failed": int(failed.sum()),
        "service_time_s": _mean(service[done]),
        "network_delay_s": _mean(net[done]),
        "processing_time_s": _mean(proc[done]),
        "waiting_time_s": _mean(wait[done]),
        "service_p95_s": float(np.percentile(service[done], 95)) if done.any() else float("nan"),
        "failure_pct": 100.0 * failed.sum() / max(n, 1),
    }
    for r, name in enumerate(REASONS):
        out[f"fail_{name}_pct"] = 100.0 * (failed & (sim.reason == r)).sum() / max(n, 1)
    for t, name in enumerate(TIERS):
        at = m & (sim.tier == t)
        d = at & (sim.status == DONE)
        out[f"tier_{name}_pct"] = 100.0 * at.sum() / max(n, 1)
        out[f"{name}_service_time_s"] = _mean(service[d])
        out[f"{name}_network_delay_s"] = _mean(net[d])
        out[f"{name}_processing_time_s"] = _mean(proc[d])
        out[f"{name}_failure_pct"] = 100.0 * (at & (sim.status == FAILED)).sum() / max(int(at.sum()), 1)
    V = sim.lay.n_vm
    rows = slice(b * V, (b + 1) * V)
    k = max(sim.n_samples, 1)
    util = sim.util_sum[rows] / k
    busy = 100.0 * sim.busy_sum[rows] / k
    cloud = sim.lay.vm_cloud
    out["edge_vm_util_pct"] = _mean(util[~cloud])
    out["cloud_vm_util_pct"] = _mean(util[cloud])
    out["vm_util_pct"] = _mean(util)
    out["edge_busy_pct"] = _mean(busy[~cloud])
    out["cloud_busy_pct"] = _mean(busy[cloud])
    span = sc.sim.horizon_s - sc.sim.warmup_s
    out["throughput_tasks_per_s"] = out["completed"] / span
    return out


def summarize(sim: TierSim, envs: list[int] | None = None) -> dict:
    """Metrics averaged over environments (default: all; normally the seeds of one device
    count), plus ``*_std`` over them."""
    envs = list(range(sim.B)) if envs is None else envs
    out = aggregate([env_metrics(sim, b) for b in envs], lambda key: key in COUNTS, MAIN)
    out["decisions_per_task"] = sim.decisions / max(sim.wl.n_tasks, 1)
    return out


def summarize_by_devices(sim: TierSim) -> dict[int, dict]:
    """{device count: metrics over that count's seeds}."""
    groups: dict[int, list[int]] = {}
    for b, (n, _) in enumerate(sim.envs):
        groups.setdefault(n, []).append(b)
    return {n: summarize(sim, idx) for n, idx in sorted(groups.items())}


def check_accounting(sim: TierSim) -> dict:
    """Every generated task ended exactly once: completed + failed (all reasons) = generated."""
    return _check(sim.status, sim.reason, sim.t_end, REASONS, "tier")
