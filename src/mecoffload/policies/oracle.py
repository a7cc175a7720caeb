"""One-step oracle of seed 001 eq 15: argmin over locations of the estimated J (eq 11)."""

from __future__ import annotations

import numpy as np

from ..sim.cost import oracle_costs
from ..sim.dynamics import Obs
from ..sim.params import Params
from .base import register
from .specs import no_argument


@register("oracle", "eq 15: the location with the least estimated generalized cost J")
class OraclePolicy:
    name = "oracle"

    def __init__(self, p: Params, arg: str | None = None):
        no_argument(self.name, arg)
        self.p = p

    def reset(self, batch: int) -> None:
        pass

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return np.argmin(oracle_costs(obs, self.p), axis=1)
