"""One-step oracle of seed 001 eq 15: argmin over locations of the estimated J (eq 11)."""

from __future__ import annotations

import numpy as np

from ..sim.cost import oracle_costs
from ..sim.dynamics import Obs
from ..sim.params import Params
from .base import register
from .specs import COST_MODEL_ARG, parse_policy_args, with_cost_model


@register("oracle", "eq 15: the location with the least estimated generalized cost J (oracle:model=queue: under the "
                    "queue-aware model whatever the scenario's cost.model)")
class OraclePolicy:
    name = "oracle"

    def __init__(self, p: Params, arg: str | None = None):
        self.p = with_cost_model(p, parse_policy_args("oracle", arg, COST_MODEL_ARG))

    def reset(self, batch: int) -> None:
        pass

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return np.argmin(oracle_costs(obs, self.p), axis=1)
