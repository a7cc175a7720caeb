"""Run any policy of the main registry (``mecoffload.policies``: oracle, lacs, random,
least-loaded, ...) on the three-tier engine.

Each datacenter (edge datacenters 0..N-1, then the cloud) is one "server" of an
:class:`~mecoffload.sim.dynamics.Obs` and local execution is forbidden (IoT devices offload
everything). The mapping keeps seed 001's cost model meaningful with γ = 1 (one "cycle" per
"bit"):

- ``bits`` = task length in instructions (MI·1e6), so D·γ / f_eff is the processing time;
- ``rate[e]`` = bits / (estimated upload + download delay to e), so D / R is the network delay;
- ``f_edge[e]`` = min(total MIPS of e, core MIPS · (N_e + 1))·1e6 instructions/s, so the
  processor-sharing share F / (N + 1) never exceeds one core (CloudSim's per-core cap);
- ``n_active[e]`` = tasks assigned to e (uploading or running), ``backlog_bits[e]`` = their
  remaining instructions; ``dist[e]`` = estimated network delay (``nearest`` = least delay);
- the deadline τ of eq 11 is the scenario's mean app ``deadline_s`` (one value for all rows),
  in slots of ``sim.slot_s``; the deadline penalty ρ = 10·τ (:data:`RHO_PER_DEADLINE`);
- every other constant of :class:`~mecoffload.sim.params.Params` (LACS K, λ and future-size
  range among them) is the MEC scenario's default (:data:`MEC_DEFAULTS`).

The chosen datacenter's least-loaded feasible VM runs the task (``REJECT`` if none).
Rows of one environment are given to the policy together, so per-environment stateful
policies (round-robin) see several tasks at once; slot planners (``ga``) are not supported.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..policies.base import make_policy
from ..sim.scenario import Scenario
from ..sim.dynamics import Obs
from ..sim.params import Params
from .choice import least_loaded
from .config import TierScenario
from ..core.errors import PolicyError
from .obs import TierObs
from .workload import Layout

MEC_DEFAULTS = Params.from_scenario(Scenario())
"""``Params`` of the default MEC scenario: the constants the tier view does not set (LACS)"""

RHO_PER_DEADLINE = 10.0
"""deadline penalty ρ of eq 11 in units of τ (the MEC scenario counts ρ in slots; a tier slot
is far shorter than a task, so the adapter scales ρ with the deadline instead)"""


def tier_params(sc: TierScenario) -> Params:
    """Seed 001 ``Params`` of the datacenter-as-server view (only cost-relevant fields matter)."""
    lay = Layout.from_scenario(sc)
    deadlines = lay.app_deadline_s[np.isfinite(lay.app_deadline_s)]
    deadline_s = float(deadlines.mean()) if deadlines.size else 1e6
    slot = sc.sim.slot_s
    cap = np.bincount(lay.vm_dc, weights=lay.vm_capacity, minlength=lay.n_dc) * 1e6
    sizes = lay.app_len * 1e6
    return replace(
        MEC_DEFAULTS,
        n_users=sc.devices.count, n_servers=lay.n_dc, slot_s=slot, horizon=max(int(sc.sim.horizon_s / slot), 1),
        history=1, f_loc=1.0, kappa=0.0, tx_power_w=0.0, area_m=1.0,
        f_edge_lo=float(cap.min()), f_edge_hi=float(cap.max()), placement="random", bandwidth_hz=1.0,
        snr_ref=1.0, ref_distance_m=1.0, path_loss_exp=0.0, rayleigh=False,
        size_lo_bit=float(sizes.min()), size_hi_bit=float(sizes.max()), gamma=1.0,
        deadline_slots=max(int(round(deadline_s / slot)), 1), arrival="poisson", rate=0.0, rho_s=RHO_PER_DEADLINE * deadline_s,
        allow_local=False,
    )


def to_obs(obs: TierObs) -> Obs:
    """The datacenter-as-server :class:`Obs` of a tier observation (see module docstring)."""
    lay = obs.lay
    n, D = len(obs), lay.n_dc
    onehot = np.eye(D)[lay.vm_dc]  # (V,D)
    bits = obs.length_mi * 1e6
    net = obs.up_est + obs.down_est  # (n,D)
    rate = bits[:, None] / np.maximum(np.where(np.isfinite(net), net, 1e9), 1e-9)
    jobs = obs.vm_jobs @ onehot
    cap = (np.ones((n, 1)) * lay.vm_capacity[None, :]) @ onehot
    core = np.stack([lay.vm_mips[lay.vm_dc == d].max() for d in range(D)])
    f = np.minimum(cap, core[None, :] * (jobs + 1.0)) * 1e6
    return Obs(
        env=obs.env, bits=bits, user=obs.device, local_wait_s=np.full(n, np.inf), rate=rate, f_edge=f,
        n_active=jobs, backlog_bits=(obs.vm_backlog_mi @ onehot) * 1e6, hist=np.zeros((n, D, 1)),
        dist=np.where(np.isfinite(net), net, 1e9),
    )


class ObsPolicyAdapter:
    """A main-registry policy deciding the datacenter; the least-loaded feasible VM in it runs the task."""

    defers = False

    def __init__(self, spec: str, sc: TierScenario):
        self.params = tier_params(sc)
        self.inner = make_policy(spec, self.params)
        if hasattr(self.inner, "plan_slot"):
            raise PolicyError(f"policy '{spec}' plans whole slots on the seed 001 simulator; it cannot run on tiers")
        self.name = spec

    def reset(self, batch: int) -> None:
        self.inner.reset(batch)

    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        if len(obs) == 0:
            return np.zeros(0, np.int64)
        a = np.asarray(self.inner.act(to_obs(obs), rng), dtype=np.int64)
        dc = np.clip(a - 1, 0, obs.lay.n_dc - 1)
        allowed = obs.lay.vm_dc[None, :] == dc[:, None]
        return least_loaded(obs, allowed, dc)
