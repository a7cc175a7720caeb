"""EdgeCloudSim's orchestrators as the engine runs them: ``SCENARIO/POLICY`` names and their codes.

- simulation scenarios (EdgeCloudSim BasicEdgeOrchestrator.getDeviceToOffload):
  ``SINGLE_TIER`` every task goes to the edge; ``TWO_TIER`` and ``TWO_TIER_WITH_EO`` a task
  goes to the cloud with its application's ``prob_cloud_selection``;
- VM policies (getVmToOffload): with ``SINGLE_TIER`` / ``TWO_TIER`` the VMs of the edge server
  at the device's access point, with ``TWO_TIER_WITH_EO`` (edge orchestrator) the VMs of all
  edge servers, chosen by ``FIRST_FIT`` (first VM that can take the task), ``NEXT_FIT`` (the
  next one after the last chosen, round robin), ``BEST_FIT`` (least free CPU that suffices),
  ``WORST_FIT`` (most free CPU) or ``RANDOM_FIT`` (one random VM; the task fails if it is full).
  A VM can take a task if its utilisation plus the task's ``vm_utilization_on_edge/cloud`` is
  at most 100 %. Cloud tasks go to the least loaded cloud VM;
- EdgeCloudSim sample_app2's orchestrator: ``NETWORK_BASED`` (cloud when the WAN bandwidth
  probe gives more than 6 Mbps), ``UTILIZATION_BASED`` (cloud when the mean edge VM
  utilisation is above 80 %), ``HYBRID`` (both); the least loaded VM of all edge servers
  (or of the cloud). With ``SINGLE_TIER`` every task stays at the edge.

These are EdgeCloudSim's built-in semantics, part of the scenario (``orchestrator_policies`` x
``simulation_scenarios``): :mod:`.engine` executes them vectorised from the codes below (tier
when the task is created, VM when its upload ends). The same orchestrators as a tier policy of
either engine: :class:`~.orchestrators.EcsTierPolicy` (``ecs:SCENARIO/POLICY``).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import PolicyError
from .model import ORCH_POLICIES, SIM_SCENARIOS

SINGLE, TWO, EO = 0, 1, 2
P_NEXT, P_RANDOM, P_FIRST, P_BEST, P_WORST, P_NET, P_UTIL, P_HYBRID = range(8)
R_FIRST, R_NEXT_DC, R_NEXT_EO, R_BEST, R_WORST, R_RANDOM_DC, R_RANDOM_EO, R_FIXED = range(8)
WAN_BW_THRESHOLD_MBPS = 6.0
EDGE_UTIL_THRESHOLD_PCT = 80.0
RULE_KIND = np.array([0, 1, 1, 0, 1, 2, 2, 2])  # per rule: 0 concentrate (FIRST, BEST), 1 spread (NEXT, WORST), 2 single VM
K_CONC, K_SPREAD, K_SINGLE = 0, 1, 2


def parse_orchestrator(spec: str) -> tuple[int, int]:
    """``SCENARIO/POLICY`` -> (scenario code, policy code)."""
    scn, _, pol = spec.partition("/")
    scn, pol = scn.strip().upper(), pol.strip().upper()
    if scn not in SIM_SCENARIOS or pol not in ORCH_POLICIES:
        raise PolicyError(f"unknown EdgeCloudSim orchestrator '{spec}' (SCENARIO/POLICY with SCENARIO in "
                              f"{', '.join(SIM_SCENARIOS)} and POLICY in {', '.join(ORCH_POLICIES)})")
    return SIM_SCENARIOS.index(scn), ORCH_POLICIES.index(pol)


def edge_rule(scn: int, pol: int) -> int:
    """VM selection rule on the edge for an orchestrator."""
    if pol >= P_NET:
        return R_WORST
    global_ = scn == EO
    return {P_NEXT: R_NEXT_EO if global_ else R_NEXT_DC, P_RANDOM: R_RANDOM_EO if global_ else R_RANDOM_DC,
            P_FIRST: R_FIRST, P_BEST: R_BEST, P_WORST: R_WORST}[pol]


def edge_global(scn: int, pol: int) -> bool:
    """True when the edge VM list is every edge server's VMs (else the local server's)."""
    return scn == EO or pol >= P_NET
