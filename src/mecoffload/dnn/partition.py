"""Latency and device energy of every split point of a network, vectorised over uplink rates.

For split ``k`` (layers ``1..k`` on the device, ``k+1..n`` on the server, see
:mod:`mecoffload.dnn.profiles`) at uplink throughput ``r`` (bit/s):

    latency(k) = T_dev(k) + 8 * bytes(k) / r + T_srv(k)                               (s)
    energy(k)  = p_compute * T_dev(k) + P_tx(r) * 8 * bytes(k) / r  [+ p_idle * T_srv(k)]   (J)

with ``T_dev(k)`` the device time of layers ``1..k`` and ``T_srv(k)`` the server time of layers
``k+1..n`` (roofline per layer, :mod:`mecoffload.dnn.devices`). No queueing: one device alone with
one server (the load-aware part belongs to the MEC engine). The Neurosurgeon rule (Kang et al.,
ASPLOS 2017, Algorithm 1) picks the ``k`` of least latency, or of least device energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import UserError
from .devices import Processor, Uplink
from .profiles import KINDS, Profile
from .variants import variant_layer_times

OBJECTIVES = ("latency", "energy")


def layer_times(profile: Profile, proc: Processor, variant: str = "fp32") -> np.ndarray:
    """Roofline time (s) of each layer of ``profile`` on ``proc``, shape ``(n,)``; a compressed
    ``variant`` (int8 / pruned) as :mod:`mecoffload.dnn.variants` says."""
    if variant != "fp32":
        return variant_layer_times(profile, proc, variant)
    compute = sum(2.0 * profile.macs[k] / proc.rate[k] for k in KINDS)
    memory = (4.0 * profile.params + 8.0 * profile.other) / proc.mem_bw
    return np.maximum(compute, memory)


@dataclass(frozen=True)
class SplitCosts:
    """Per uplink rate (rows) and split point ``k = 0..n`` (columns): times (s) and energy (J)."""

    mbps: np.ndarray
    device_s: np.ndarray
    upload_s: np.ndarray
    server_s: np.ndarray
    energy_j: np.ndarray

    @property
    def latency_s(self) -> np.ndarray:
        return self.device_s + self.upload_s + self.server_s

    def best(self, objective: str = "latency") -> np.ndarray:
        """The Neurosurgeon split per rate: argmin of latency or of device energy (ties: fewer device layers)."""
        if objective not in OBJECTIVES:
            raise UserError(f"objective must be one of {', '.join(OBJECTIVES)} (got '{objective}')")
        return np.argmin(self.latency_s if objective == "latency" else self.energy_j, axis=1)

    def at(self, k: np.ndarray) -> dict[str, np.ndarray]:
        """Latency (s) and energy (J) per rate at split ``k`` (one index per row)."""
        rows = np.arange(len(self.mbps))
        return {"latency_s": self.latency_s[rows, k], "energy_j": self.energy_j[rows, k]}


def split_costs(profile: Profile, device: Processor, server: Processor, uplink: Uplink,
                mbps: np.ndarray | float | None = None, bytes_per_element: float = 4.0,
                input_bytes_per_element: float = 1.0, include_idle: bool = False, variant: str = "fp32") -> SplitCosts:
    """Costs of every split at each uplink throughput in ``mbps`` (Mbit/s; default: the link's own).

    ``bytes_per_element`` is 4 for fp32 activations, 1 for int8-quantised uploads; the full offload
    (``k = 0``) sends the 8-bit camera image (``input_bytes_per_element = 1``; 4 sends the fp32 tensor).
    ``variant`` (fp32 / int8 / pruned) sets the layer times on both sides (``dnn.variants``); the
    caller chooses the bytes (an int8 model uploads 1 B per element)."""
    rates = np.atleast_1d(np.asarray(uplink.mbps if mbps is None else mbps, dtype=np.float64))
    if not np.all(np.isfinite(rates)) or rates.min() <= 0:
        raise UserError("uplink throughput must be > 0 Mbit/s")
    if device.p_compute_w is None:
        raise UserError(f"device '{device.name}' has no compute power: energy cannot be computed")
    if include_idle and device.p_idle_w is None:
        raise UserError(f"device '{device.name}' has no published idle power: run without idle energy")
    td, ts = layer_times(profile, device, variant), layer_times(profile, server, variant)
    t_dev = np.concatenate([[0.0], np.cumsum(td)])                 # (n+1,) layers 1..k on the device
    t_srv = np.concatenate([np.cumsum(ts[::-1])[::-1], [0.0]])     # (n+1,) layers k+1..n on the server
    bits = 8.0 * profile.act_bytes(bytes_per_element, input_bytes_per_element)              # (n+1,) 0 at k = n
    upload = bits[None, :] / (rates[:, None] * 1e6)                # (B, n+1)
    tx_w = uplink.alpha_w_per_mbps * rates + uplink.beta_w         # (B,)
    shape = upload.shape
    energy = device.p_compute_w * t_dev[None, :] + tx_w[:, None] * upload
    if include_idle:
        energy = energy + device.p_idle_w * t_srv[None, :]
    return SplitCosts(rates, np.broadcast_to(t_dev, shape).copy(), upload,
                      np.broadcast_to(t_srv, shape).copy(), energy)


def neurosurgeon_summary(costs: SplitCosts, objective: str = "latency") -> dict[str, np.ndarray]:
    """Per rate: the chosen split, its latency / energy, and the gains over all-local (k = n) and
    all-edge (k = 0): latency speed-up (x) and device-energy reduction (%)."""
    k = costs.best(objective)
    chosen = costs.at(k)
    n = costs.latency_s.shape[1] - 1
    local, edge = costs.latency_s[:, n], costs.latency_s[:, 0]
    e_local, e_edge = costs.energy_j[:, n], costs.energy_j[:, 0]
    return {"split": k, "n_layers": np.full_like(k, n), **chosen,
            "local_latency_s": local, "edge_latency_s": edge, "local_energy_j": e_local, "edge_energy_j": e_edge,
            "speedup_vs_local": local / chosen["latency_s"], "speedup_vs_edge": edge / chosen["latency_s"],
            "energy_reduction_vs_local_pct": 100.0 * (1.0 - chosen["energy_j"] / e_local),
            "energy_reduction_vs_edge_pct": 100.0 * (1.0 - chosen["energy_j"] / e_edge)}
