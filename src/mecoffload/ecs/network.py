"""EdgeCloudSim's MM1Queue network model: transfer delays as a function of the device count.

The delay of an M/M/1 link at access point a with n_a devices there (all devices, active or
not, as EdgeCloudSim counts them) is ``1 / (mu - lambda n_a) + propagation``, with mu =
bandwidth / mean task size and lambda = 1 / mean inter-arrival (the arrival rate, 1/s), both
computed from the applications as EdgeCloudSim's MM1Queue computes them. A transfer fails
(``inf``) when the queue is unstable or the delay exceeds ``network.fail_delay_s``. Units: s,
KB (1000 bytes), Mbps.
"""

from __future__ import annotations

import numpy as np

from .model import EcsScenario

WLAN_UP, WLAN_DOWN, WAN_UP, WAN_DOWN, CLOUD_UP, CLOUD_DOWN = range(6)
"""rows of :func:`delay_table`: WLAN up/down, WAN up/down, cloud (WLAN + WAN) up/down"""


def mm1_parameters(sc: EcsScenario) -> dict:
    """EdgeCloudSim MM1Queue.initialize(): mean inter-arrival (WLAN, WAN) and mean task sizes.

    Reproduces EdgeCloudSim's arithmetic exactly, including its WAN mean, which accumulates the
    running WLAN sum (``WanPoissonMean += WlanPoissonMean * 100 / p_cloud * weight``) and is not
    divided by the number of applications."""
    wlan_mean = wan_mean = avg_in = avg_out = 0.0
    k = 0
    for a in sc.active_apps():
        w = a.usage_pct / 100.0
        wlan_mean += a.interarrival_s * w
        wan_mean += wlan_mean * (100.0 / a.prob_cloud_pct if a.prob_cloud_pct > 0 else np.inf) * w
        avg_in += a.upload_kb * w
        avg_out += a.download_kb * w
        k += 1
    return {"wlan_mean_s": wlan_mean / k, "wan_mean_s": wan_mean, "avg_in_kb": avg_in / k, "avg_out_kb": avg_out / k}


def delay_table(sc: EcsScenario, max_devices: int) -> np.ndarray:
    """(6, max_devices + 1) transfer delay (s, ``inf`` = fails) for every device count at an
    access point; rows as in ``WLAN_UP`` ... ``CLOUD_DOWN``."""
    p = mm1_parameters(sc)
    net = sc.network
    bps = np.array([net.wlan_mbps, net.wlan_mbps, net.wan_mbps, net.wan_mbps]) * 1e6 / 8.0
    size = np.array([p["avg_in_kb"], p["avg_out_kb"], p["avg_in_kb"], p["avg_out_kb"]]) * 1000.0
    mu = np.where(size > 0, bps / np.where(size > 0, size, 1.0), np.inf)[:, None, None]
    means = np.array([p["wlan_mean_s"], p["wlan_mean_s"], p["wan_mean_s"], p["wan_mean_s"]])
    ok = np.isfinite(means) & (means > 0)
    arrival_rate = np.where(ok, 1.0 / np.where(ok, means, 1.0), 0.0)[:, None, None]
    prop = np.array([0.0, 0.0, net.wan_propagation_s, net.wan_propagation_s])[:, None, None]
    cnt = np.arange(max_devices + 1, dtype=float)[None, None, :]
    gap = mu - arrival_rate * cnt
    with np.errstate(divide="ignore"):
        d = np.where(gap > 0, 1.0 / np.where(gap > 0, gap, 1.0), np.inf) + prop
    d = np.where(d <= net.fail_delay_s, d, np.inf)[:, 0, :]
    return np.concatenate([d, d[0:1] + d[2:3], d[1:2] + d[3:4]])
