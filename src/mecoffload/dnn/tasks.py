"""DNN-split tasks as a task family of the MEC engine: the per-(network, split, server) tables.

A DNN task is one inference of a named network (``networks[i]``). Its action is ``(k, e)``: layers
``1..k`` on the device, the activation after layer ``k`` up to server ``e``, layers ``k+1..n`` there
(``k = 0`` full offload, ``k = n`` all-local, the server then ignored). Flattened action
``a = k * E + e`` (``E`` servers), ``0 <= a < K * E`` with ``K = max n + 1``; a split ``k > n`` of
the task's own network is invalid (``valid``). The engine (``sim.dynamics.decide``) turns the
action into three stages: ``dev_s[net, k]`` s in the device's local FIFO, ``up_bits[net, k]`` bit in
its uplink FIFO towards ``e``, ``srv_s[net, k, e]`` s of server ``e``'s full rate in its processor
sharing. Times come from the roofline of ``dnn.partition.split_costs`` (no queueing); the
queue-aware estimate is ``sim.dnncost``.

Device energy (J) of a split, as Neurosurgeon (Kang et al., ASPLOS 2017, §5): the device's compute
power x device time + the radio's P_tx(r) = alpha * r + beta (Huang et al., MobiSys 2012, Table 3) x
air time at the link rate r. The engine accounts the same two terms (``Params.from_scenario``).
Units: s, bit, W, J.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .devices import DEVICES, SERVERS, UPLINKS, pick
from .partition import split_costs
from .profiles import NETWORKS, load_profile

ACTIVATIONS = {"fp32": 4.0, "int8": 1.0}
"""bytes per element of the uploaded activation"""


@dataclass(frozen=True, eq=False)
class DnnTables:
    """Per network i, split k = 0..K-1 and server e: the stages of a DNN task (padded beyond n_i)."""

    networks: tuple[str, ...]
    device: str
    servers: tuple[str, ...]
    uplink: str
    rate_bps: float  # uplink throughput (bit/s)
    p_compute_w: float  # device compute power (W)
    tx_power_w: float  # radio power at rate_bps (W), Huang's alpha * r + beta
    n_layers: np.ndarray  # (N,) int: n_i, split points 0..n_i
    dev_s: np.ndarray  # (N, K) device time of layers 1..k (s); inf beyond n_i
    up_bits: np.ndarray  # (N, K) bits crossing the link at split k (0 at k = n_i and beyond)
    srv_s: np.ndarray  # (N, K, E) server time of layers k+1..n at server e (s); inf beyond n_i
    top1: np.ndarray  # (N,) published top-1 accuracy of the fp32 model (%)

    @property
    def n_splits(self) -> int:
        """K: split points of the deepest network (n + 1)."""
        return self.dev_s.shape[1]

    @property
    def n_servers(self) -> int:
        return self.srv_s.shape[2]

    @property
    def n_actions(self) -> int:
        """K * E flattened actions ``k * E + e``."""
        return self.n_splits * self.n_servers

    @property
    def valid(self) -> np.ndarray:
        """(N, K) bool: split k exists for network i."""
        return np.arange(self.n_splits)[None, :] <= self.n_layers[:, None]

    @property
    def upload_s(self) -> np.ndarray:
        """(N, K) air time of the split's upload at the link rate (s)."""
        return self.up_bits / self.rate_bps

    @property
    def energy_j(self) -> np.ndarray:
        """(N, K) device energy of split k (J): compute + transmit; inf where k is invalid."""
        return self.p_compute_w * self.dev_s + self.tx_power_w * self.upload_s

    @property
    def latency_s(self) -> np.ndarray:
        """(N, K, E) latency of (k, e) for one device alone (s): device + upload + server, no queues."""
        return (self.dev_s + self.upload_s)[:, :, None] + self.srv_s

    def split_of(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k, e) of flattened actions."""
        a = np.asarray(action, np.int64)
        return a // self.n_servers, a % self.n_servers


def build_tables(networks: tuple[str, ...], device: str, servers: tuple[str, ...], uplink: str,
                 rate_mbps: float | None = None, activation: str = "fp32") -> DnnTables:
    """Tables for ``networks`` (profile names) on ``device``, one server class per server, ``uplink``
    (its power model; throughput ``rate_mbps``, default the link's own)."""
    dev = pick(DEVICES, device, "dnn.device")
    srvs = [pick(SERVERS, s, "dnn.servers") for s in servers]
    link = pick(UPLINKS, uplink, "dnn.uplink")
    for name in networks:
        pick(dict.fromkeys(NETWORKS), name, "dnn.networks")
    mbps = link.mbps if rate_mbps is None else float(rate_mbps)
    bpe = pick(ACTIVATIONS, activation, "dnn.activation")
    profiles = [load_profile(n) for n in networks]
    n_layers = np.array([p.n_layers for p in profiles], np.int64)
    N, K, E = len(networks), int(n_layers.max()) + 1, len(srvs)
    dev_s, up, srv_s = np.full((N, K), np.inf), np.zeros((N, K)), np.full((N, K, E), np.inf)
    top1 = np.zeros(N)
    for i, prof in enumerate(profiles):
        n1 = prof.n_layers + 1
        for e, srv in enumerate(srvs):
            c = split_costs(prof, dev, srv, link, mbps, bytes_per_element=bpe)
            srv_s[i, :n1, e] = c.server_s[0]
        dev_s[i, :n1] = c.device_s[0]
        up[i, :n1] = 8.0 * prof.act_bytes(bpe)
        top1[i] = float(prof.variants.get("fp32", {}).get("top1", float("nan")))
    return DnnTables(tuple(networks), device, tuple(servers), uplink, mbps * 1e6, float(dev.p_compute_w),
                     float(link.tx_power_w(mbps)), n_layers, dev_s, up, srv_s, top1)
