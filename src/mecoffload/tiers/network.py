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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import LinkSpec, TierScenario

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
