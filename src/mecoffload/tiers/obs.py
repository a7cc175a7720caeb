"""What a tier policy sees and how it answers: :class:`TierObs` (one row per pending task),
the :class:`TierPolicy` protocol and the two special actions ``DEFER`` and ``REJECT``.

Both three-tier engines (:class:`~mecoffload.tiers.dynamics.TierSim`, seed 002 semantics, and
:class:`~mecoffload.ecs.engine.EcsSim`, EdgeCloudSim semantics) build :class:`TierObs` rows and
take decisions only through this protocol; the policies themselves live in
:mod:`mecoffload.tiers.policies` (registry ``TIER_POLICIES``), never imported by an engine.
Units: s, MI, KB, Mbps, % (utilisation).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np

from ..core.errors import PolicyError
from .workload import Layout

DEFER, REJECT = -1, -2
"""actions besides a VM index: DEFER = overflow queue (decided again next epoch; TierSim only),
REJECT = no VM (the task fails ``vm_capacity``)"""


class TierPolicy(Protocol):
    """``act(obs, rng) -> (n,)`` VM index of the row's environment, ``DEFER`` or ``REJECT``.

    Optional attributes: ``defers`` (True: tasks that lose every admission race are deferred
    instead of failed) and ``sort_key(sens) -> key``: the order in which a slot's pending tasks
    are decided (lowest key first, ties by arrival), from their delay sensitivities T_s.
    """

    name: str

    def reset(self, batch: int) -> None:
        """Called once before a run with the number of environments of the batch."""

    def act(self, obs: "TierObs", rng: np.random.Generator) -> np.ndarray:
        """One action per row of ``obs``."""


@dataclass
class TierObs:
    """What a tier policy sees: one row per pending task (rows of several envs may mix).

    Per-VM columns are the VMs of the row's environment, numbered as in :class:`Layout`;
    per-datacenter columns are edge datacenters 0..N-1 then the cloud.
    """

    env: np.ndarray  # (n,)
    task: np.ndarray  # (n,) task id
    device: np.ndarray  # (n,)
    app: np.ndarray  # (n,)
    length_mi: np.ndarray  # (n,) L, MI
    up_kb: np.ndarray  # (n,) D_up, KB
    down_kb: np.ndarray  # (n,) D_down, KB
    sens: np.ndarray  # (n,) delay sensitivity T_s
    slack_s: np.ndarray  # (n,) time left until the task is due (arrival + deadline_s), s (inf = none)
    wait_s: np.ndarray  # (n,) time waited since arrival (deferred tasks), s
    cores: np.ndarray  # (n,) required cores
    mem_mb: np.ndarray  # (n,)
    local_dc: np.ndarray  # (n,) the device's access point = its local edge datacenter
    vm_util: np.ndarray  # (n,V) VM utilisation (%), incl. reservations
    vm_req: np.ndarray  # (n,V) utilisation (%) this task needs on each VM
    vm_feasible: np.ndarray  # (n,V) bool: C3 and C4 hold and enough cores
    vm_jobs: np.ndarray  # (n,V) tasks assigned (uploading or running)
    vm_backlog_mi: np.ndarray  # (n,V) remaining work assigned to the VM, MI
    proc_est: np.ndarray  # (n,V) processing time if placed now (PS share), s
    up_est: np.ndarray  # (n,D) upload delay to each datacenter now, s (inf: would fail)
    down_est: np.ndarray  # (n,D) download delay from each datacenter now, s
    uplink_mbps: np.ndarray  # (n,D) bottleneck per-transfer bandwidth towards each datacenter, Mbps
    dc_util: np.ndarray  # (n,D) mean utilisation of the datacenter's VMs (%)
    man_delay_s: np.ndarray  # (n,) MAN delay of a 1 Mbit transfer (incl. propagation), s
    wan_uplink_mbps: np.ndarray  # (n,) WAN per-transfer bandwidth now (EdgeCloudSim's 1 Mbit probe), Mbps
    t_now: float
    cpu_max: float  # admission threshold CPU_max (%)
    lay: Layout

    def __len__(self) -> int:
        return self.env.shape[0]

    @property
    def n_vm(self) -> int:
        return self.vm_util.shape[1]

    @property
    def tier_dc(self) -> np.ndarray:
        """(n,D) tier of every datacenter for this row: 0 local edge, 1 remote edge, 2 cloud."""
        d = np.arange(self.lay.n_dc)
        t = np.where(self.lay.dc_cloud[d][None, :], 2, np.where(d[None, :] == self.local_dc[:, None], 0, 1))
        return t

    @property
    def tier_vm(self) -> np.ndarray:
        """(n,V) tier of every VM for this row."""
        return self.tier_dc[:, self.lay.vm_dc]

    def est_service(self) -> np.ndarray:
        """(n,V) estimated service time if placed on each VM now: upload + processing + download, s."""
        d = self.lay.vm_dc
        return self.up_est[:, d] + self.proc_est + self.down_est[:, d]

    def take(self, idx: np.ndarray) -> "TierObs":
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = v[idx] if isinstance(v, np.ndarray) else v
        return TierObs(**kw)


def checked_actions(policy: TierPolicy, a: np.ndarray, n: int, n_vm: int) -> np.ndarray:
    """``a`` as int64 actions, or a :class:`PolicyError` naming the policy if it does not
    return ``n`` values in REJECT..n_vm-1."""
    a = np.asarray(a, dtype=np.int64)
    if a.shape != (n,) or (a.size and (a.min() < REJECT or a.max() >= n_vm)):
        raise PolicyError(f"tier policy '{getattr(policy, 'name', policy)}' returned invalid actions "
                              f"(need shape ({n},), values in -2..{n_vm - 1})")
    return a
