"""DNN-split tasks as a task family of the MEC engine: the per-(network, variant, split, server) tables.

A DNN task is one inference of a named network (``networks[i]``). Its action is ``(v, k, e)``: model
variant ``variants[v]`` (fp32 / int8 / pruned, ``dnn.variants``), layers ``1..k`` on the device, the
activation after layer ``k`` up to server ``e``, layers ``k+1..n`` there (``k = 0`` full offload,
``k = n`` all-local, the server then ignored). Flattened action ``a = (v * K + k) * E + e`` (``E``
servers, ``K = max n + 1``), ``0 <= a < V * K * E``; with one variant it is the old ``k * E + e``. The
tables hold the variant and split axes flattened into one **column** ``j = v * K + k`` (so
``a = j * E + e``): ``dev_s[net, j]`` s in the device's local FIFO, ``up_bits[net, j]`` bit in its
uplink FIFO towards ``e``, ``srv_s[net, j, e]`` s of server ``e``'s full rate in its processor sharing.
A column is invalid (``valid``) for a split ``k > n`` of the task's network, a variant the network does
not have, or a variant whose published top-1 is more than ``max_top1_loss`` points below the network's
fp32 top-1 (the task's minimum accuracy); invalid columns hold inf times. Times come from the roofline
of ``dnn.partition.split_costs`` (no queueing); the queue-aware estimate is ``sim.dnncost``.

Device energy (J) of a split, as Neurosurgeon (Kang et al., ASPLOS 2017, §5): the device's compute
power x device time + the radio's P_tx(r) = alpha * r + beta (Huang et al., MobiSys 2012, Table 3) x
air time at the link rate r. The engine accounts the same two terms (``Params.from_scenario``).
Units: s, bit, W, J, top-1 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import UserError
from .devices import DEVICES, SERVERS, UPLINKS, pick
from .partition import split_costs
from .profiles import NETWORKS, load_profile
from .variants import VARIANTS, has_variant

ACTIVATIONS = {"fp32": 4.0, "int8": 1.0}
"""bytes per element of the uploaded activation"""


@dataclass(frozen=True, eq=False)
class DnnTables:
    """Per network i, column j = v * K + k (variant v, split k) and server e: the stages of a DNN task
    (padded with inf times beyond n_i and for the invalid variants of network i)."""

    networks: tuple[str, ...]
    device: str
    servers: tuple[str, ...]
    uplink: str
    rate_bps: float  # uplink throughput (bit/s)
    p_compute_w: float  # device compute power (W)
    tx_power_w: float  # radio power at rate_bps (W), Huang's alpha * r + beta
    n_layers: np.ndarray  # (N,) int: n_i, split points 0..n_i
    dev_s: np.ndarray  # (N, V*K) device time of layers 1..k of variant v (s); inf where invalid
    up_bits: np.ndarray  # (N, V*K) bits crossing the link at split k (0 at k = n_i, beyond it and where invalid)
    srv_s: np.ndarray  # (N, V*K, E) server time of layers k+1..n at server e (s); inf where invalid
    top1: np.ndarray  # (N, V) published top-1 accuracy of each variant (%; 0 where the network has none)
    variants: tuple[str, ...] = ("fp32",)  # V model variants, in the order of the action's v
    allowed: np.ndarray | None = None  # (N, V) bool: variant exists for network i and meets its minimum top-1
    max_top1_loss: float = 1.0  # points of top-1 below the network's fp32 a task accepts

    def __post_init__(self):
        if self.allowed is None:  # every variant allowed (tables built by hand)
            object.__setattr__(self, "allowed", np.ones((len(self.n_layers), len(self.variants)), bool))
        if self.top1.ndim == 1:
            object.__setattr__(self, "top1", self.top1[:, None])

    @property
    def n_variants(self) -> int:
        """V: model variants of the scenario."""
        return len(self.variants)

    @property
    def n_splits(self) -> int:
        """K: split points of the deepest network (n + 1)."""
        return self.dev_s.shape[1] // self.n_variants

    @property
    def n_columns(self) -> int:
        """V * K columns ``j = v * K + k`` of the tables."""
        return self.dev_s.shape[1]

    @property
    def n_servers(self) -> int:
        return self.srv_s.shape[2]

    @property
    def n_actions(self) -> int:
        """V * K * E flattened actions ``(v * K + k) * E + e``."""
        return self.n_columns * self.n_servers

    @property
    def valid(self) -> np.ndarray:
        """(N, V*K) bool: column j = v * K + k exists for network i (k <= n_i, variant v allowed)."""
        k = np.arange(self.n_columns) % self.n_splits
        return (k[None, :] <= self.n_layers[:, None]) & np.repeat(self.allowed, self.n_splits, axis=1)

    @property
    def upload_s(self) -> np.ndarray:
        """(N, V*K) air time of the split's upload at the link rate (s)."""
        return self.up_bits / self.rate_bps

    @property
    def energy_j(self) -> np.ndarray:
        """(N, V*K) device energy of column j (J): compute + transmit; inf where invalid."""
        return self.p_compute_w * self.dev_s + self.tx_power_w * self.upload_s

    @property
    def latency_s(self) -> np.ndarray:
        """(N, V*K, E) latency of (j, e) for one device alone (s): device + upload + server, no queues."""
        return (self.dev_s + self.upload_s)[:, :, None] + self.srv_s

    def column_of(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(column j = v * K + k, server e) of flattened actions."""
        a = np.asarray(action, np.int64)
        return a // self.n_servers, a % self.n_servers

    def decode(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(variant v, split k, server e) of flattened actions."""
        j, e = self.column_of(action)
        return j // self.n_splits, j % self.n_splits, e

    def split_of(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(split k, server e) of flattened actions."""
        _, k, e = self.decode(action)
        return k, e

    def action(self, v, k, e) -> np.ndarray:
        """Flattened actions ``(v * K + k) * E + e``."""
        return (np.asarray(v, np.int64) * self.n_splits + k) * self.n_servers + e


def _allowed(top1: np.ndarray, has: np.ndarray, fp32: np.ndarray, loss: float) -> np.ndarray:
    """(N, V) variants a task of network i may run: published, and within ``loss`` points of its fp32 top-1."""
    return has & (top1 >= fp32[:, None] - loss - 1e-9)


def build_tables(networks: tuple[str, ...], device: str, servers: tuple[str, ...], uplink: str,
                 rate_mbps: float | None = None, activation: str = "fp32", variants: tuple[str, ...] = ("fp32",),
                 max_top1_loss: float = 1.0) -> DnnTables:
    """Tables for ``networks`` (profile names) on ``device``, one server class per server, ``uplink``
    (its power model; throughput ``rate_mbps``, default the link's own), the model ``variants`` (each
    task runs one whose top-1 is at most ``max_top1_loss`` points below its network's fp32)."""
    dev = pick(DEVICES, device, "dnn.device")
    srvs = [pick(SERVERS, s, "dnn.servers") for s in servers]
    link = pick(UPLINKS, uplink, "dnn.uplink")
    for name in networks:
        pick(dict.fromkeys(NETWORKS), name, "dnn.networks")
    if not variants or len(set(variants)) != len(variants) or any(v not in VARIANTS for v in variants):
        raise UserError(f"dnn.variants: distinct names from {', '.join(VARIANTS)} (got {', '.join(map(str, variants))[:80]})")
    if not 0.0 <= max_top1_loss <= 100.0:
        raise UserError(f"dnn.max_top1_loss: top-1 points in [0, 100] (got {max_top1_loss})")
    mbps = link.mbps if rate_mbps is None else float(rate_mbps)
    bpe = pick(ACTIVATIONS, activation, "dnn.activation")
    profiles = [load_profile(n) for n in networks]
    n_layers = np.array([p.n_layers for p in profiles], np.int64)
    N, K, E, V = len(networks), int(n_layers.max()) + 1, len(srvs), len(variants)
    dev_s, up, srv_s = np.full((N, V * K), np.inf), np.zeros((N, V * K)), np.full((N, V * K, E), np.inf)
    top1, has = np.zeros((N, V)), np.zeros((N, V), bool)
    fp32 = np.array([float(p.variants["fp32"]["top1"]) for p in profiles])
    for i, prof in enumerate(profiles):
        for v, var in enumerate(variants):
            has[i, v] = has_variant(prof, var)
            top1[i, v] = float(prof.variants[var]["top1"]) if has[i, v] else 0.0
    allowed = _allowed(top1, has, fp32, max_top1_loss)
    for i, prof in enumerate(profiles):
        if not allowed[i].any():
            raise UserError(f"dnn.variants: network '{prof.name}' has no variant among {', '.join(variants)} within "
                            f"dnn.max_top1_loss = {max_top1_loss:g} points of its fp32 top-1 (add fp32 or raise the loss)")
        for v in np.flatnonzero(allowed[i]):
            _fill(prof, variants[v], v * K, dev, srvs, link, mbps, bpe, dev_s[i], up[i], srv_s[i])
    return DnnTables(tuple(networks), device, tuple(servers), uplink, mbps * 1e6, float(dev.p_compute_w),
                     float(link.tx_power_w(mbps)), n_layers, dev_s, up, srv_s, top1, tuple(variants), allowed,
                     float(max_top1_loss))


def _fill(prof, variant: str, col: int, dev, srvs, link, mbps: float, bpe: float, dev_s, up, srv_s) -> None:
    """Write one network's columns ``col .. col + n`` of one variant (device s, upload bits, server s per server)."""
    n1 = prof.n_layers + 1
    b = 1.0 if variant == "int8" else bpe  # an int8 model's activations are int8
    for e, srv in enumerate(srvs):
        c = split_costs(prof, dev, srv, link, mbps, bytes_per_element=b, variant=variant)
        srv_s[col:col + n1, e] = c.server_s[0]
    dev_s[col:col + n1] = c.device_s[0]
    up[col:col + n1] = 8.0 * prof.act_bytes(b)
