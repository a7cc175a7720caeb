"""Policy protocol and registry.

A policy maps a batch of observations (one pending task per env) to actions
(0 = local, e = edge server e). Make one with ``make_policy("name[:arg]", params)``.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from ..sim.dynamics import Obs
from ..sim.params import Params


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


class PolicyError(ValueError):
    """Unknown policy or bad policy argument; message is one line for the user."""


_REGISTRY: dict[str, tuple[Callable[[Params, str | None], Policy], str]] = {}


def register(name: str, help: str):
    def deco(factory):
        _REGISTRY[name] = (factory, help)
        return factory

    return deco


def _load_all() -> None:
    """Import every module of this package so that their @register decorators run.

    Modules that need optional heavy dependencies (torch, transformers) must import them
    inside the factory, not at module level, so that listing policies never needs them.
    """
    import importlib
    import pkgutil

    from .. import policies

    for mod in pkgutil.iter_modules(policies.__path__):
        if mod.name != "base":
            importlib.import_module(f"{policies.__name__}.{mod.name}")


def available() -> dict[str, str]:
    """name -> one-line description of every registered policy."""
    _load_all()
    return {k: v[1] for k, v in sorted(_REGISTRY.items())}


def make_policy(spec: str, params: Params) -> Policy:
    """Build a policy from ``name`` or ``name:argument`` (e.g. a checkpoint path)."""
    _load_all()
    name, _, arg = spec.partition(":")
    if name not in _REGISTRY:
        raise PolicyError(f"unknown policy '{name}' (allowed: {', '.join(sorted(_REGISTRY))})")
    pol = _REGISTRY[name][0](params, arg or None)
    pol.name = spec
    return pol


def allowed_mask(obs: Obs, p: Params) -> np.ndarray:
    """(B, E+1) bool: actions the scenario allows."""
    m = np.ones((obs.rate.shape[0], obs.rate.shape[1] + 1), bool)
    m[:, 0] = p.allow_local
    return m


BASELINE_ORDER = ["random", "local", "nearest", "least-loaded", "round-robin", "oracle", "lacs", "min-max-delay", "ga"]


def expand_specs(specs: list[str], scenario_name: str, checkpoints: str = "checkpoints") -> list[str]:
    """Replace ``all`` by every policy that needs no argument plus every learned policy with a
    checkpoint for this scenario at ``checkpoints/<kind>-<scenario>/`` (e.g. checkpoints/setnet-comllm)."""
    from pathlib import Path

    out: list[str] = []
    for spec in specs:
        if spec != "all":
            out.append(spec)
            continue
        names = list(available())
        out += [n for n in BASELINE_ORDER if n in names]
        for kind in sorted(n for n in names if n not in BASELINE_ORDER):
            folder = Path(checkpoints) / f"{kind}-{scenario_name}"
            if (folder / "config.json").exists():
                out.append(f"{kind}:{folder}")
    return list(dict.fromkeys(out))
