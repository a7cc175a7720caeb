"""LACS look-ahead planner (seed 001 eqs 22-26): argmin of J + λ·C_impact."""

from __future__ import annotations

import numpy as np

from ..sim.dynamics import Obs
from ..sim.lacs import lacs_terms
from ..sim.params import Params
from .base import PolicyError, register


@register("lacs", "look-ahead planner: argmin J + λ·C_impact over K sampled future tasks (lacs:K,λ to override)")
class LacsPolicy:
    name = "lacs"

    def __init__(self, p: Params, arg: str | None = None):
        self.p, self.k, self.weight = p, p.lacs_k, p.lacs_weight
        if arg:
            try:
                k, w = arg.split(",")
                self.k, self.weight = int(k), float(w)
            except ValueError:
                raise PolicyError(f"lacs argument '{arg}': expected K,λ such as lacs:3,0.3") from None
            if self.k < 1 or self.weight < 0:
                raise PolicyError(f"lacs argument '{arg}': K must be >= 1 and λ >= 0")

    def reset(self, batch: int) -> None:
        pass

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        j, impact = lacs_terms(obs, self.p, rng, self.k)
        return np.argmin(j + self.weight * impact, axis=1)
