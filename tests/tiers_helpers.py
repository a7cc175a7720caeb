"""Small hand-made tier scenarios and workloads for the tier tests."""

from __future__ import annotations

import numpy as np

from mecoffload.tiers.config import validate_tier_scenario
from mecoffload.tiers.dynamics import REJECT
from mecoffload.tiers.workload import Layout, Workload


def scenario(edge_vms=(dict(count=1, cores=1, mips=1000.0),), n_servers=1, cloud_vms=(), wlan=None, man=None, wan=None,
             apps=None, **kw):
    fixed = {"model": "per_task", "bandwidth_mbps": [80.0, 80.0]}
    data = {
        "sim": {"slot_s": 0.1, "horizon_s": 10.0, "warmup_s": 0.0, "max_drain_s": 60.0},
        "devices": {"count": 2},
        "apps": apps or [dict(name="a", usage_pct=100, interarrival_s=1.0, delay_sensitivity=0.5, upload_kb=0,
                              download_kb=0, length_mi=1000, vm_util_edge_pct=10, vm_util_cloud_pct=10, size_dist="fixed")],
        "edge": [{"name": f"e{i}", "hosts": [{"vms": list(edge_vms)}]} for i in range(n_servers)],
        "cloud": [{"vms": list(cloud_vms)}] if cloud_vms else [],
        "network": {"wlan": wlan or fixed, "man": man or {**fixed, "scope": "global"}, "wan": wan or fixed},
    }
    for k, v in kw.items():
        node = data
        keys = k.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = v
    return validate_tier_scenario(data)


def workload(sc, tasks, n_dev=2, init_ap=None, moves=()):
    """tasks: list of (t_arr, device, app, length_mi, up_kb, down_kb) in one env (seed 0)."""
    lay = Layout.from_scenario(sc)
    tasks = sorted(tasks)
    t = np.array([x[0] for x in tasks], float)
    app = np.array([x[2] for x in tasks], np.int64)
    mv = sorted(moves)
    return Workload(
        env=np.zeros(len(tasks), np.int64), device=np.array([x[1] for x in tasks], np.int64), app=app, t_arr=t,
        length_mi=np.array([x[3] for x in tasks], float), up_kb=np.array([x[4] for x in tasks], float),
        down_kb=np.array([x[5] for x in tasks], float), due_s=t + lay.app_deadline_s[app],
        dev_app=np.zeros((1, n_dev), np.int64),
        init_ap=np.array([init_ap if init_ap is not None else [0] * n_dev], np.int64),
        envs=((n_dev, 0),),
        move_t=np.array([m[0] for m in mv], float), move_env=np.zeros(len(mv), np.int64),
        move_dev=np.array([m[1] for m in mv], np.int64), move_ap=np.array([m[2] for m in mv], np.int64),
    )


class Fixed:
    """Always the given VM (or the first feasible VM of a list, REJECT if none)."""

    name = "fixed"
    defers = False

    def __init__(self, vms):
        self.vms = list(vms) if isinstance(vms, (list, tuple)) else [vms]

    def reset(self, batch):
        pass

    def act(self, obs, rng):
        out = np.full(len(obs), REJECT)
        for v in reversed(self.vms):
            out = np.where(obs.vm_feasible[:, v], v, out)
        if len(self.vms) == 1:
            return np.full(len(obs), self.vms[0])
        return out
