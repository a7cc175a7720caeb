"""EdgeCloudSim's figures from a finished :class:`~.engine.EcsSim`, per environment, vectorised.

Counted tasks: created at or after the warm-up (EdgeCloudSim's ``isInWarmUpPeriod``). As in
EdgeCloudSim's SimLogger:

- ``failed_pct`` = failed / (completed + failed); failures by reason: ``vm_capacity`` (no VM
  could take the task), ``bandwidth`` (an upload or download failed), ``mobility`` (the device
  left its access point before the result came back), ``unfinished`` (still running when the
  run was cut, 0 normally), each in % of the counted tasks;
- ``service_time_s`` = creation -> result back, ``network_delay_s`` = upload + download,
  ``processing_time_s`` = service - network (time on the VM), over completed tasks, overall and
  on the edge / the cloud; ``lan_delay_s`` (WLAN, edge tasks) and ``wan_delay_s`` (cloud tasks);
- ``edge_vm_util_pct`` / ``cloud_vm_util_pct``: the mean over VMs of their CPU utilisation (sum
  of the running tasks' requirements), sampled every ``vm_load_check_interval`` over the whole
  run, warm-up included, as EdgeCloudSim samples it.
"""

from __future__ import annotations

import numpy as np

from ..tiers.outcomes import REASONS as CODES
from ..tiers.outcomes import R_VM, aggregate as _aggregate
from ..tiers.outcomes import check_accounting as _check
from .engine import CLOUD, DONE, EDGE, FAILED, REASONS, EcsSim

FIGURES = (
    ("tasks", "tasks"), ("completed_pct", "completed %"), ("failed_pct", "failed %"),
    ("fail_vm_capacity_pct", "fail VM %"), ("fail_bandwidth_pct", "fail BW %"), ("fail_mobility_pct", "fail mob %"),
    ("service_time_s", "service s"), ("processing_time_s", "proc s"), ("network_delay_s", "net s"),
    ("edge_service_time_s", "edge serv s"), ("cloud_service_time_s", "cloud serv s"),
    ("edge_vm_util_pct", "edge util %"), ("cloud_vm_util_pct", "cloud util %"),
)


def _div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def env_figures(sim: EcsSim) -> list[dict]:
    """One dict of figures per environment of the batch."""
    B = sim.B
    m = sim.t_arr >= sim.sc.sim.warmup_s
    env = sim.env[m]
    st, rs, tier = sim.status[m], sim.reason[m], sim.tier[m]
    done, failed = st == DONE, st == FAILED
    svc = np.where(done, sim.t_end[m] - sim.t_arr[m], 0.0)
    net = np.where(done, sim.up_d[m] + sim.down_d[m], 0.0)
    proc = svc - net

    def count(mask):
        return np.bincount(env[mask], minlength=B).astype(float)

    def total(x, mask):
        return np.bincount(env[mask], weights=x[mask], minlength=B)

    n = count(np.ones(env.size, bool))
    n_done, n_fail = count(done), count(failed)
    out = {
        "tasks": n, "completed": n_done, "failed": n_fail,
        "completed_pct": 100 * _div(n_done, n_done + n_fail), "failed_pct": 100 * _div(n_fail, n_done + n_fail),
        "service_time_s": _div(total(svc, done), n_done), "network_delay_s": _div(total(net, done), n_done),
        "processing_time_s": _div(total(proc, done), n_done),
    }
    for name in REASONS:
        k = count(failed & (rs == CODES.index(name)))
        out[f"fail_{name}"] = k
        out[f"fail_{name}_pct"] = 100 * _div(k, n)
    for t, name in ((EDGE, "edge"), (CLOUD, "cloud")):
        at = tier == t
        d = done & at
        nd = count(d)
        out[f"{name}_tasks"] = count(at)
        out[f"{name}_completed"] = nd
        out[f"{name}_failed"] = count(failed & at)
        out[f"{name}_service_time_s"] = _div(total(svc, d), nd)
        out[f"{name}_processing_time_s"] = _div(total(proc, d), nd)
        out[f"{name}_network_delay_s"] = _div(total(net, d), nd)
        out[f"fail_vm_capacity_{name}"] = count(failed & at & (rs == R_VM))
    out["lan_delay_s"] = out["edge_network_delay_s"]
    out["wan_delay_s"] = out["cloud_network_delay_s"]
    k = max(sim.n_samples, 1)
    out["edge_vm_util_pct"] = sim.load_edge / k
    out["cloud_vm_util_pct"] = sim.load_cloud / k if sim.has_cloud else np.zeros(B)
    return [{key: float(v[b]) for key, v in out.items()} for b in range(B)]


COUNTS = ("tasks", "completed", "failed", "edge_tasks", "cloud_tasks", "edge_completed", "cloud_completed",
          "edge_failed", "cloud_failed") + tuple(f"fail_{r}" for r in REASONS)


def _is_count(key: str) -> bool:
    return key in COUNTS or key.startswith("fail_vm_capacity_") and not key.endswith("pct")


def aggregate(per_env: list[dict]) -> dict:
    """Figures over several environments (the seeds of one device count): counts summed,
    the rest averaged (NaN where no environment has a value); ``*_std`` of the main ones."""
    return _aggregate(per_env, _is_count, ("failed_pct", "service_time_s"))


def check_accounting(sim: EcsSim) -> dict:
    """Every task ended exactly once: completed + failed by reason = generated (raises if not)."""
    return _check(sim.status, sim.reason, sim.t_end, REASONS, "EdgeCloudSim")
