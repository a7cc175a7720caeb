"""Tier policies: ``act(obs: TierObs, rng) -> (n,) VM index`` (or ``DEFER`` / ``REJECT``), the
:class:`~.obs.TierPolicy` protocol of both three-tier engines.

Registry: :data:`TIER_POLICIES` (a :class:`mecoffload.core.registry.Registry`), used through
``make_tier_policy(spec, scenario)``; ``tier_policies()`` lists the native ones. ``dl-tier``
(torch to train; :mod:`.dlnet`) and ``ecs`` (EdgeCloudSim's orchestrators;
:mod:`mecoffload.ecs.orchestrators`) are declared by name and imported on first use. Any other
name, or ``mec:NAME``, is a policy of the main registry (``mecoffload.policies``) run through
:mod:`.adapter` with every datacenter as a server (e.g. ``oracle``, ``lacs``, ``mec:random``,
``mec:least-loaded``). VM choice inside a tier: :mod:`.choice`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..core.errors import PolicyError, clip
from ..core.registry import Registry
from ..policies.base import available
from ..policies.specs import no_argument
from .adapter import ObsPolicyAdapter
from .choice import least_loaded, mean_edge_util, pick
from .config import TierScenario
from .fuzzy import ALMUTAIRI, FLORES, SONMEZ_CLOUD, SONMEZ_EDGE
from .obs import DEFER, REJECT, TierObs

TierFactory = Callable[[TierScenario, "str | None"], object]
TIER_POLICIES: Registry[TierFactory] = Registry("tier policy", PolicyError)
"""name -> factory(scenario, argument or None) of the native tier policies"""

TIER_POLICIES.lazy("dl-tier", "mecoffload.tiers.dlnet:DlTier",
                   "seed 002 Algorithm 1: TierSelectionNN (rule labels) + VMCompatibilityNN, overflow queue "
                   "(dl-tier:FOLDER loads weights; dl-tier:desc = most sensitive first)")
TIER_POLICIES.lazy("ecs", "mecoffload.ecs.orchestrators:EcsTierPolicy",
                   "an EdgeCloudSim orchestrator: ecs:SCENARIO/POLICY, e.g. ecs:TWO_TIER_WITH_EO/NEXT_FIT "
                   "(SINGLE_TIER, TWO_TIER, TWO_TIER_WITH_EO x NEXT_FIT, FIRST_FIT, BEST_FIT, WORST_FIT, RANDOM_FIT, "
                   "NETWORK_BASED, UTILIZATION_BASED, HYBRID)")


def register_tier(name: str, help: str):
    """Decorator adding a tier policy factory ``(scenario, arg) -> policy`` to :data:`TIER_POLICIES`."""
    return TIER_POLICIES.register(name, help)


def tier_policies() -> dict[str, str]:
    """name -> description of the native tier policies (dl-tier and ecs included)."""
    return TIER_POLICIES.help()


def make_tier_policy(spec: str, sc: TierScenario):
    """``name`` or ``name:arg`` of a native tier policy, else a main-registry policy via the adapter."""
    name, _, arg = spec.partition(":")
    if name == "mec":
        if not arg:
            raise PolicyError("mec:NAME needs a policy of `mecoffload policies`, e.g. mec:least-loaded")
        pol = ObsPolicyAdapter(arg, sc)
    elif name in TIER_POLICIES:
        pol = TIER_POLICIES.get(name)(sc, arg or None)
    elif name in available():
        pol = ObsPolicyAdapter(spec, sc)
    else:
        allowed = sorted(set(TIER_POLICIES.names()) | set(available()))
        raise PolicyError(f"unknown tier policy '{name}' (allowed: {', '.join(allowed)}, or mec:NAME)")
    pol.name = spec
    return pol


class _Base:
    """A native tier policy without argument (``random:xyz`` is a PolicyError); ``name`` is its
    registry name."""

    name = ""
    defers = False

    def __init__(self, sc: TierScenario, arg: str | None = None):
        no_argument(self.name, arg)
        self.sc = sc

    def reset(self, batch: int) -> None:
        pass


# --------------------------------------------------------------------------- baselines


@TIER_POLICIES.register("random", "a uniformly random VM of any tier; fails if it cannot take the task (EdgeCloudSim RANDOM_FIT over all VMs)")
class TierRandom(_Base):
    name = "random"
    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, obs.n_vm, len(obs))


@TIER_POLICIES.register("utilization-based", "edge unless the mean edge VM utilisation exceeds 80% (then cloud); least-loaded VM (EdgeCloudSim UTILIZATION_BASED)")
class UtilizationBased(_Base):
    name = "utilization-based"
    threshold = 80.0

    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        cloud = (mean_edge_util(obs) > self.threshold) & obs.lay.vm_cloud.any()
        allowed = np.where(cloud[:, None], obs.lay.vm_cloud[None, :], ~obs.lay.vm_cloud[None, :])
        return least_loaded(obs, allowed, cloud.astype(np.int64))


@TIER_POLICIES.register("flores", "fuzzy edge/cloud choice of Flores et al. (EdgeCloudSim FUZZY_COMPETITOR) that ignores resource use; flores:util feeds it the edge CPU availability")
class Flores(_Base):
    name = "flores"
    def __init__(self, sc: TierScenario, arg: str | None = None):
        super().__init__(sc)
        if arg not in (None, "util"):
            raise PolicyError(f"flores argument '{clip(arg, 60)}': must be util (flores:util) or none (flores)")
        self.use_util = arg == "util"

    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        cpu = 100.0 - mean_edge_util(obs) if self.use_util else np.full(len(obs), 100.0)
        data = np.minimum(obs.up_kb + obs.down_kb, 2500.0) / 2500.0
        cloud = (FLORES(cpu, data, obs.wan_uplink_mbps, obs.sens) > 50) & obs.lay.vm_cloud.any()
        allowed = np.where(cloud[:, None], obs.lay.vm_cloud[None, :], ~obs.lay.vm_cloud[None, :])
        return least_loaded(obs, allowed, cloud.astype(np.int64))


@TIER_POLICIES.register("sonmez", "two-stage fuzzy workload orchestrator of Sonmez et al. (nearest/remote edge, then edge/cloud; EdgeCloudSim FUZZY_BASED)")
class Sonmez(_Base):
    name = "sonmez"
    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        lay = obs.lay
        n, N = len(obs), lay.n_servers
        r = np.arange(n)
        edge_util = obs.dc_util[:, :N]
        nearest = edge_util[r, obs.local_dc]
        remote = np.where(np.arange(N)[None, :] == obs.local_dc[:, None], np.inf, edge_util)
        best_remote = remote.argmin(1)
        best_remote_util = np.where(np.isfinite(remote.min(1)), remote.min(1), 100.0)
        go_remote = (SONMEZ_EDGE(nearest, best_remote_util, obs.man_delay_s) > 50) & (N > 1)
        host = np.where(go_remote, best_remote, obs.local_dc)
        host_util = np.where(go_remote, best_remote_util, nearest)
        cloud = (SONMEZ_CLOUD(host_util, obs.length_mi, obs.wan_uplink_mbps, obs.sens) > 50) & lay.vm_cloud.any()
        target = np.where(cloud, lay.n_dc - 1, host)
        allowed = lay.vm_dc[None, :] == target[:, None]
        return least_loaded(obs, allowed, target)


@TIER_POLICIES.register("almutairi", "fuzzy tier choice from VM utilisation, task length, network demand and delay sensitivity (Almutairi & Aldossary); next tier if full")
class Almutairi(_Base):
    name = "almutairi"
    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        lay = obs.lay
        r = np.arange(len(obs))
        local_util = obs.dc_util[r, obs.local_dc]
        s = ALMUTAIRI.strengths(local_util, obs.length_mi, obs.up_kb + obs.down_kb, obs.sens)  # (n, 3)
        # remote edge = the least utilised other edge datacenter
        N = lay.n_servers
        remote = np.where(np.arange(N)[None, :] == obs.local_dc[:, None], np.inf, obs.dc_util[:, :N])
        best_remote = remote.argmin(1) if N > 1 else obs.local_dc
        dc_of_tier = np.stack([obs.local_dc, best_remote, np.full(len(obs), lay.n_dc - 1)], 1)
        has = np.array([True, N > 1, bool(lay.vm_cloud.any())])
        s = np.where(has[None, :], s, -1.0)
        prefs = np.argsort(-(s + 1e-6 * np.array([2, 1, 0])[None, :]), axis=1, kind="stable")  # ties: local first
        out = np.full(len(obs), REJECT)
        for j in range(3):  # preferred tier first, next tier if it has no feasible VM
            todo = out == REJECT
            if not todo.any():
                break
            t = prefs[:, j]
            dc = dc_of_tier[r, t]
            allowed = (lay.vm_dc[None, :] == dc[:, None]) & (s[r, t] >= 0)[:, None]
            cand = least_loaded(obs, allowed, dc)
            out = np.where(todo, cand, out)
        return out


@TIER_POLICIES.register("least-utilized", "the least utilised feasible VM of any tier (a tier-blind load balancer)")
class LeastUtilized(_Base):
    name = "least-utilized"
    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        return least_loaded(obs, np.ones((len(obs), obs.n_vm), bool))


@TIER_POLICIES.register("min-service", "greedy: the feasible VM with the least estimated service time (upload + PS processing + download); defers when none meets the deadline")
class MinService(_Base):
    name = "min-service"
    defers = True

    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        est = obs.est_service()
        meets = est <= obs.slack_s[:, None]
        a = pick(obs, -est, meets)
        return np.where(a == REJECT, DEFER, a)
