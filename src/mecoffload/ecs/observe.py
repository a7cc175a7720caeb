"""What a tier policy sees inside the EdgeCloudSim engine: a :class:`~mecoffload.tiers.obs.TierObs`
of tasks at their creation (tier and VM are then fixed; EdgeCloudSim has no waiting queue, so
there is no deadline slack and no waiting time). Delays from the M/M/1 tables at the device's
access point, utilisation in %, work in MI.
"""

from __future__ import annotations

import numpy as np

from ..tiers.network import KB_TO_MBIT
from ..tiers.obs import TierObs


def tier_obs(sim, ids: np.ndarray) -> TierObs:
    """The observation rows of tasks ``ids`` of :class:`~.engine.EcsSim` ``sim`` now."""
    vl = sim.lists
    V, N = vl.n_vm, vl.n_servers
    vms = sim.vms
    b, e, app = sim.env[ids], sim.env_w[ids], sim.app[ids]
    ap = sim.ap_sub[ids]
    n = ids.size
    rows = b[:, None] * V + np.arange(V)[None, :]
    util = vms.util[rows]
    req = sim.req_tab[app]
    p = sim.app_cores[app]
    t0 = sim.t0
    backlog = vms.virtual_backlog(rows, t0)
    rate_if = vms.r_cap[rows] / np.maximum(vms.npes[rows] + p[:, None], vms.r_cores[rows])
    D = N + (1 if vl.has_cloud else 0)
    lan = 2.0 * sim.sc.network.lan_internal_delay_s
    local = np.arange(N)[None, :] == ap[:, None]
    up = np.repeat(sim.wlan_up[e, ap][:, None], D, 1)
    dn = np.where(local, sim.wlan_dn[e, ap][:, None], sim.wlan_dn[e, ap][:, None] + lan)
    if vl.has_cloud:
        up[:, N] = sim.cloud_up[e, ap]
        dn = np.concatenate([dn, sim.cloud_dn[e, ap][:, None]], 1)
    mbit = (sim.up_kb[ids] * KB_TO_MBIT)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        uplink = np.where(np.isfinite(up) & (up > 0), mbit / up, 0.0)
    dc_of = np.eye(D)[vl.vm_dc]
    dc_util = (util @ dc_of) / np.maximum(dc_of.sum(0), 1)[None, :]
    probe = sim.cloud_up[e, ap] if vl.has_cloud else np.full(n, np.inf)
    return TierObs(
        env=b, task=ids, device=sim.device[ids], app=app, length_mi=sim.length[ids], up_kb=sim.up_kb[ids],
        down_kb=sim.down_kb[ids], sens=sim.app_sens[app],
        slack_s=np.full(n, np.inf), wait_s=np.zeros(n), cores=p, mem_mb=np.zeros(n), local_dc=ap,
        vm_util=util, vm_req=req, vm_feasible=(req <= 100.0 - util + 1e-9) & (p[:, None] <= vms.r_cores[rows]),
        vm_jobs=vms.cnt[rows].astype(float), vm_backlog_mi=backlog, proc_est=sim.length[ids][:, None] / rate_if,
        up_est=up, down_est=dn, uplink_mbps=uplink, dc_util=dc_util, man_delay_s=np.full(n, lan),
        wan_uplink_mbps=np.where(np.isfinite(probe), 1.0 / probe, 0.0), t_now=t0, cpu_max=100.0, lay=sim.lay,
    )
