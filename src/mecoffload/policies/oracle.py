"""One-step oracle of seed 001 eq 15: argmin over locations of the estimated J (eq 11)."""

from __future__ import annotations

import numpy as np

from ..sim.cost import oracle_costs
from ..sim.dynamics import Obs
from ..sim.params import Params
from .base import register
from .specs import COST_MODEL_ARG, Arg, parse_policy_args, with_cost_model

ORACLE_ARGS = {**COST_MODEL_ARG, "uploads": Arg(str, choices=("compete", "ignore"))}
"""``oracle:model=paper|queue,uploads=compete|ignore``: the cost model (default the scenario's), and
under the queue model whether tasks still uploading to a server compete for it (``sim.cost.committed_view``;
default: compete exactly when the scenario allows rejecting, the admission estimate)"""


@register("oracle", "eq 15: the location with the least estimated generalized cost J (oracle:model=queue: under the "
                    "queue-aware model whatever the scenario's cost.model; uploads=compete|ignore: tasks still "
                    "uploading to a server compete for it, default with cost.allow_reject)")
class OraclePolicy:
    name = "oracle"

    def __init__(self, p: Params, arg: str | None = None):
        given = parse_policy_args("oracle", arg, ORACLE_ARGS)
        self.p = with_cost_model(p, given)
        self.uploads = None if "uploads" not in given else given["uploads"] == "compete"

    def reset(self, batch: int) -> None:
        pass

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return np.argmin(oracle_costs(obs, self.p, self.uploads), axis=1)
