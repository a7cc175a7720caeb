"""Policy protocol and registry.

A policy maps a batch of observations (one pending task per env) to actions
(0 = local, e = edge server e). Make one with ``make_policy("name[:arg]", params)``; a new
policy is a class (or factory) ``(params, arg) -> Policy`` decorated with ``@register(name, help)``
in a module of this package. The registry is a :class:`mecoffload.core.registry.Registry`.
"""

from __future__ import annotations

import pkgutil
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from ..core.errors import PolicyError
from ..core.registry import Registry
from ..core.resources import check_memory
from ..sim.dynamics import Obs
from ..sim.params import Params
from ..sim.scenario import Scenario, evaluation_memory_bytes


class Policy(Protocol):
    name: str

    def reset(self, batch: int) -> None:
        """Called at the start of every evaluation batch."""

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        """Return int actions of shape (n,), one per row of ``obs``."""


# Optional: a policy may also define ``plan_slot(state, arrivals, rng)``. The evaluation loop
# calls it once per slot, before the slot's tasks are decided one by one, with the state at
# the start of the slot and all of the slot's arrivals (read-only). Used by slot-level
# planners such as the genetic algorithm.


POLICIES: Registry[Callable[[Params, str | None], Policy]] = Registry(
    "policy", PolicyError, modules=[f"{__package__}.{m.name}" for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                                    if m.name != "base"])
"""name -> factory(params, argument or None) of every MEC policy. The modules of this package are
imported on first use (their ``@register`` decorators fill it); policies defined in higher layers
are declared by name below and imported only when used. Modules that need optional heavy
dependencies (torch, transformers) import them inside the factory, so that listing policies never
needs them."""

register = POLICIES.register

# LLM policies (``mecoffload.llm.policy``; the 'llm' extra), reached by name only
POLICIES.lazy("llm-zeroshot", "mecoffload.llm.policy:zero_shot_policy",
              "pretrained LLM prompted with the goal, no training (seed 000): llm-zeroshot:BACKBONE")
POLICIES.lazy("llm-sft", "mecoffload.llm.policy:sft_policy",
              "LLM fine-tuned on oracle labels with LoRA (seed 001 SFT): llm-sft:FOLDER")
POLICIES.lazy("llm-grpo", "mecoffload.llm.policy:grpo_policy",
              "LLM SFT + GRPO with the one-step reward -J (seed 001): llm-grpo:FOLDER")
POLICIES.lazy("comllm", "mecoffload.llm.policy:comllm_policy",
              "LLM SFT + GRPO with the LACS reward (seed 001 COMLLM): comllm:FOLDER")


def available() -> dict[str, str]:
    """name -> one-line description of every registered policy."""
    return POLICIES.help()


def make_policy(spec: str, params: Params) -> Policy:
    """Build a policy from ``name`` or ``name:argument`` (e.g. a checkpoint path)."""
    name, _, arg = spec.partition(":")
    pol = POLICIES.get(name)(params, arg or None)
    pol.name = spec
    return pol


def policy_memory_bytes(policy: Policy, batch: int) -> int:
    """A policy's own memory estimate for ``batch`` environments (its ``memory_bytes(batch)``,
    e.g. the genetic algorithm's), 0 for policies without large arrays of their own."""
    estimate = getattr(policy, "memory_bytes", None)
    return int(estimate(batch)) if callable(estimate) else 0


def check_evaluation_memory(sc: Scenario, episodes: int, policies: list[Policy], what: str = "this evaluation") -> None:
    """Refuse (UserError, before any work) an evaluation of the built ``policies`` on ``episodes``
    episodes whose memory estimate (the simulation's plus the largest policy's own) exceeds the
    free memory."""
    est = evaluation_memory_bytes(sc, episodes, len(policies))
    est += max((policy_memory_bytes(pol, episodes) for pol in policies), default=0)
    check_memory(est, what, "use fewer episodes (-n), users, slots or a smaller GA population")


def allowed_mask(obs: Obs, p: Params) -> np.ndarray:
    """(B, E+1) bool: actions the scenario allows."""
    m = np.ones((obs.rate.shape[0], obs.rate.shape[1] + 1), bool)
    m[:, 0] = p.allow_local
    return m


BASELINE_ORDER = ["random", "local", "nearest", "least-loaded", "round-robin", "oracle", "lacs", "min-max-delay", "ga"]
DNN_ORDER = ["dnn-local", "dnn-edge-nearest", "dnn-edge-least-loaded", "neurosurgeon", "dnn-oracle"]
"""``all`` on a DNN-split scenario (``policies.dnn``)"""
QUEUE_VARIANTS = ["oracle:model=queue", "lacs:model=queue"]
"""in ``all`` after the baselines: the one-step oracle and LACS deciding with the queue-aware cost model"""


def runs_on(name: str, params: Params) -> bool:
    """Whether policy ``name`` can run on a scenario with ``params``: its factory's optional
    ``runs_on(params)`` (e.g. ``local`` needs local execution to be allowed); True without one."""
    check = getattr(POLICIES.get(name), "runs_on", None)
    return bool(check(params)) if callable(check) else True


def expand_specs(specs: list[str], scenario: Scenario, checkpoints: str = "checkpoints") -> list[str]:
    """Replace ``all`` by every policy that needs no argument, the queue-model variants of oracle and
    LACS, and every learned policy with a checkpoint for this scenario at ``checkpoints/<kind>-<scenario>/``
    or ``checkpoints/<kind>-realized-<scenario>/`` (e.g. checkpoints/setnet-comllm; a DNN-split policy's at
    ``checkpoints/<kind>-<link>/`` or ``checkpoints/<kind>-realized-<link>/``, e.g. checkpoints/setnet-dnn-wifi on
    dnn-wifi), skipping those that
    cannot run on ``scenario`` (:func:`runs_on`: ``local`` where local execution is forbidden). A policy
    named explicitly is kept; building it gives its error."""
    out: list[str] = []
    params: Params | None = None
    for spec in specs:
        if spec != "all":
            out.append(spec)
            continue
        params = params or Params.from_scenario(scenario)
        names = list(available())
        if params.dnn is not None:  # DNN-split tasks: the policies of their (v, k, e) actions, and a learned
            out += [n for n in DNN_ORDER if n in names]  # one at checkpoints/<kind>-<link> (setnet-dnn-wifi on dnn-wifi)
            link = scenario.name.removeprefix("dnn-")
            out += [f"{k}:{folder}" for k in sorted(set(names) - set(DNN_ORDER)) if getattr(POLICIES.get(k), "dnn", False)
                    for folder in (Path(checkpoints) / f"{k}-{link}", Path(checkpoints) / f"{k}-realized-{link}")
                    if (folder / "config.json").exists()]
            continue
        out += [n for n in BASELINE_ORDER if n in names and runs_on(n, params)] + QUEUE_VARIANTS
        for kind in sorted(n for n in names if n not in BASELINE_ORDER):
            for folder in (Path(checkpoints) / f"{kind}-{scenario.name}", Path(checkpoints) / f"{kind}-realized-{scenario.name}"):
                if (folder / "config.json").exists() and runs_on(kind, params):
                    out.append(f"{kind}:{folder}")
    return list(dict.fromkeys(out))
