"""WLAN / MAN / WAN delay models, vectorised over transfers.

Every link type has instances (one per access point, or one global) whose capacity C (Mbps)
is redrawn every slot from U[lo, hi] (seed 002: "bandwidth varies between 10-100 Mbps").
A transfer's delay is fixed when it starts, from the state of its link at that moment (as in
EdgeCloudSim): see :class:`~mecoffload.tiers.config.LinkSpec` for the three models. Routes:

- device -> its local edge datacenter: WLAN;
- device -> a remote edge datacenter: WLAN then MAN (store and forward);
- device -> cloud: WLAN (``network.cloud_via_wlan``) then WAN (+ propagation).

Results come back the same way in reverse, through the device's access point at that time.
Units: KB, Mbps, s. 1 KB = 8e-3 Mbit.

:class:`LinkState` holds the links of a batch of environments (link row = env·L + link id):
capacities drawn every epoch from each environment's own stream, transfers in flight on
shared links, the mm1 offered load, and per-route tables of the current state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sim.arrays import group_rank
from .arrays import scatter_add
from .config import LinkSpec, TierScenario
from .workload import Layout, env_rngs

WLAN, MAN, WAN = 0, 1, 2
KB_TO_MBIT = 8e-3


@dataclass(frozen=True)
class LinkLayout:
    """Global link ids inside one environment: [WLAN instances | MAN instances | WAN instances]."""

    specs: tuple[LinkSpec, LinkSpec, LinkSpec]
    n_ap: int
    offset: tuple[int, int, int]
    count: tuple[int, int, int]
    cloud_via_wlan: bool

    @classmethod
    def from_scenario(cls, sc: TierScenario) -> "LinkLayout":
        n_ap = len(sc.edge)
        specs = (sc.network.wlan, sc.network.man, sc.network.wan)
        count = tuple(n_ap if s.scope == "per_ap" else 1 for s in specs)
        offset = (0, count[0], count[0] + count[1])
        return cls(specs, n_ap, offset, count, sc.network.cloud_via_wlan)  # type: ignore[arg-type]

    @property
    def n_links(self) -> int:
        return sum(self.count)

    def link_of(self, kind: int, ap: np.ndarray) -> np.ndarray:
        """Link id of type ``kind`` used by access point(s) ``ap``."""
        if self.count[kind] == 1:
            return np.full(np.shape(ap), self.offset[kind], np.int64)
        return self.offset[kind] + np.asarray(ap, np.int64)

    def kind_of_link(self) -> np.ndarray:
        return np.repeat(np.arange(3), self.count)

    def lo_hi(self) -> tuple[np.ndarray, np.ndarray]:
        """(L,) lower and upper capacity bounds (Mbps) of every link id."""
        k = self.kind_of_link()
        lo = np.array([s.bandwidth_mbps[0] for s in self.specs])[k]
        hi = np.array([s.bandwidth_mbps[1] for s in self.specs])[k]
        return lo, hi

    def array(self, attr: str) -> np.ndarray:
        """(L,) a numeric LinkSpec attribute per link id."""
        return np.array([getattr(s, attr) for s in self.specs])[self.kind_of_link()]

    def model_codes(self) -> np.ndarray:
        codes = {"per_task": 0, "shared": 1, "mm1": 2}
        return np.array([codes[s.model] for s in self.specs])[self.kind_of_link()]


def hop_delay(
    model: np.ndarray,
    cap_mbps: np.ndarray,
    n_active: np.ndarray,
    load_kbps: np.ndarray,
    size_kb: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Delay (s, without propagation) of transfers of ``size_kb`` on links in the given state.

    All arguments broadcast. model: 0 per_task, 1 shared, 2 mm1. n_active: transfers already on
    the link (shared). load_kbps: recent offered load λ·s̄ in KB/s (mm1), so ρ = 8e-3·load / C.
    Returns (delay_s, effective per-transfer bandwidth in Mbps).
    """
    mbit = size_kb * KB_TO_MBIT
    rho = np.where(model == 2, load_kbps * KB_TO_MBIT / cap_mbps, 0.0)
    share = np.where(model == 1, cap_mbps / (n_active + 1.0), cap_mbps)
    eff = np.where(model == 2, cap_mbps * np.maximum(1.0 - rho, 0.0), share)
    with np.errstate(divide="ignore", invalid="ignore"):
        delay = np.where(eff > 0, mbit / np.where(eff > 0, eff, 1.0), np.inf)
    return delay, eff


class LinkState:
    """The links of B environments: this epoch's capacities, transfers on shared links and
    the mm1 offered load (arrays over link rows env·L + l), plus the routes of every
    (env, access point, datacenter) as link rows in transfer order."""

    def __init__(self, layout: LinkLayout, lay: Layout, seeds: list[int], dt: float):
        B, L = len(seeds), layout.n_links
        self.layout, self.lay, self.B, self.dt = layout, lay, B, dt
        self.model = np.tile(layout.model_codes(), B)
        self.prop = np.tile(layout.array("propagation_s"), B)
        self.fail = np.tile(layout.array("fail_delay_s"), B)
        lo, hi = layout.lo_hi()
        self.lo, self.hi = np.tile(lo, B), np.tile(hi, B)
        self.alpha = np.tile(np.minimum(dt / layout.array("mm1_window_s"), 1.0), B)
        self.cap = (self.lo + self.hi) / 2
        self.n_act = np.zeros(B * L)
        self.load_kbps = np.zeros(B * L)  # mm1: recent offered load, KB/s
        self.kb_sum = np.zeros(B * L)  # KB started on each link in this epoch
        self.tr_link = np.zeros(0, np.int64)
        self.tr_end = np.zeros(0)
        self.dirty = True
        self._rng = [env_rngs(sd)[2] for sd in seeds]
        self._block = np.zeros((B, 0, L))
        self._pos = 0
        N, D = lay.n_servers, lay.n_dc
        self.route_up = self.route(np.arange(B)[:, None, None], np.arange(N)[None, :, None], np.arange(D)[None, None, :], True)
        self.route_dn = self.route_up[..., ::-1].copy()
        self.eff = self.cap.copy()

    def draw(self) -> None:
        """This epoch's capacities: U[lo, hi] per link instance, from each env's own stream."""
        L = self.layout.n_links
        if self._pos >= self._block.shape[1]:
            self._block = np.stack([r.random((256, L)) for r in self._rng])
            self._pos = 0
        u = self._block[:, self._pos, :].reshape(-1)
        self._pos += 1
        self.cap = self.lo + u * (self.hi - self.lo)

    def epoch_start(self, t0: float) -> None:
        """New capacities; transfers that ended by ``t0`` leave their shared links."""
        self.draw()
        if self.tr_end.size:
            live = self.tr_end > t0
            self.tr_link, self.tr_end = self.tr_link[live], self.tr_end[live]
        self.n_act = np.bincount(self.tr_link, minlength=self.cap.size).astype(float)
        self.dirty = True

    def epoch_end(self) -> None:
        """mm1: offered load per link, exponentially weighted over ``mm1_window_s``."""
        self.load_kbps += self.alpha * (self.kb_sum / self.dt - self.load_kbps)
        self.kb_sum[:] = 0.0

    def route(self, env: np.ndarray, ap: np.ndarray, dc: np.ndarray, upload: bool) -> np.ndarray:
        """(..., 2) link rows of the hops between access point ``ap`` and datacenter ``dc``
        in transfer order (-1 = no hop)."""
        L = self.layout.n_links
        lk = self.layout
        cloud = self.lay.dc_cloud[dc]
        local = (dc == ap) & ~cloud
        wl = env * L + lk.link_of(WLAN, ap)
        other = np.where(cloud, env * L + lk.link_of(WAN, ap), env * L + lk.link_of(MAN, ap))
        first_wlan = np.where(cloud & ~lk.cloud_via_wlan, -1, wl)
        h_a = np.where(local, wl, first_wlan)  # device side hop
        h_b = np.where(local, -1, other)  # backbone hop
        if upload:
            return np.stack([h_a, h_b], -1)
        return np.stack([h_b, h_a], -1)

    def start(self, hops: np.ndarray, size_kb: np.ndarray, t_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Register transfers (m, 2 hops in order) starting at t_start; returns (total s incl.
        propagation, failed). On a shared link the transfers of this call see each other."""
        self.tables()
        valid = hops >= 0
        h = np.where(valid, hops, 0)
        model = self.model[h]
        eff = self.eff[h]
        shared = valid & (model == 1)
        if shared.any():
            key = np.where(shared, hops, -1)
            rank = np.zeros(hops.shape)
            for j in range(hops.shape[1]):
                rank[:, j] = np.where(shared[:, j], group_rank(key[:, j]), 0)
            eff = np.where(shared, self.cap[h] / (self.n_act[h] + rank + 1.0), eff)
        mbit = (size_kb * KB_TO_MBIT)[:, None]
        with np.errstate(divide="ignore"):
            d = np.where(eff > 0, mbit / np.maximum(eff, 1e-300), np.inf)
        failed = (valid & ((d > self.fail[h]) | ~np.isfinite(d))).any(1)
        per = np.where(valid, d + self.prop[h], 0.0)
        total = per.sum(1)
        reg = shared & ~failed[:, None]
        if reg.any():
            ends = t_start[:, None] + np.cumsum(per, 1)
            self.tr_link = np.concatenate([self.tr_link, hops[reg]])
            self.tr_end = np.concatenate([self.tr_end, ends[reg]])
            scatter_add(self.n_act, hops[reg], 1.0)
            self.dirty = True
        mm1 = valid & (model == 2)
        if mm1.any():
            scatter_add(self.kb_sum, hops[mm1], np.broadcast_to(size_kb[:, None], hops.shape)[mm1])
        return total, failed

    def tables(self) -> None:
        """Per (env, access point, datacenter) route constants of the current link state:
        seconds per Mbit (``tab_inv``), propagation (``tab_prop``), largest transfer (Mbit) that
        does not fail (``tab_max``), bottleneck Mbps (``tab_bott``); per (env, access point) the
        MAN delay of 1 Mbit (``tab_man``, s) and the WAN per-transfer Mbps (``tab_wan``)."""
        if not self.dirty:
            return
        B, N, L = self.B, self.lay.n_servers, self.layout.n_links
        _, eff = hop_delay(self.model, self.cap, self.n_act, self.load_kbps, 1.0)
        self.eff = eff
        hops = self.route_up
        valid = hops >= 0
        h = np.where(valid, hops, 0)
        e = eff[h]
        with np.errstate(divide="ignore"):
            inv = np.where(valid, 1.0 / np.maximum(e, 1e-300), 0.0)
        self.tab_inv = np.where(np.isfinite(inv) & (inv < 1e299), inv, np.inf).sum(-1)
        self.tab_prop = np.where(valid, self.prop[h], 0.0).sum(-1)
        self.tab_max = np.where(valid, self.fail[h] * e, np.inf).min(-1)
        self.tab_bott = np.where(valid, e, np.inf).min(-1)
        env = np.arange(B)[:, None] * L
        man = env + self.layout.link_of(MAN, np.arange(N))[None, :]
        wan = env + self.layout.link_of(WAN, np.arange(N))[None, :]
        self.tab_man = 1.0 / np.maximum(eff[man], 1e-300) + self.prop[man]
        self.tab_wan = eff[wan]
        self.dirty = False
