"""One-step oracle of seed 001 eq 15: argmin over locations of the estimated J (eq 11)."""

from __future__ import annotations

import numpy as np

from ..sim.cost import doomed_to_local, oracle_costs
from ..sim.dynamics import Obs
from ..sim.params import Params
from .base import register
from .specs import COST_MODEL_ARG, Arg, parse_policy_args, with_cost_model

ORACLE_ARGS = {**COST_MODEL_ARG, "uploads": Arg(str, choices=("compete", "ignore")),
               "doomed": Arg(str, choices=("local", "argmin"))}
"""``oracle:model=paper|queue,uploads=compete|ignore,doomed=local|argmin``: the cost model (default the
scenario's); under the queue model whether tasks still uploading to a server compete for it
(``sim.cost.committed_view``; default: compete exactly when the scenario allows rejecting, the
admission estimate); where a task goes that no location can serve in time: ``argmin`` (default, eq 15)
or ``local`` (its own CPU, ``sim.cost.doomed_to_local``; a rejection stays a rejection)"""


@register("oracle", "eq 15: the location with the least estimated generalized cost J (oracle:model=queue: under the "
                    "queue-aware model whatever the scenario's cost.model; uploads=compete|ignore: tasks still "
                    "uploading to a server compete for it, default with cost.allow_reject; doomed=local: a task no location "
                    "serves in time runs on its own CPU)")
class OraclePolicy:
    name = "oracle"

    def __init__(self, p: Params, arg: str | None = None):
        given = parse_policy_args("oracle", arg, ORACLE_ARGS)
        self.p = with_cost_model(p, given)
        self.uploads = None if "uploads" not in given else given["uploads"] == "compete"
        self.doomed_local = given.get("doomed") == "local"

    def reset(self, batch: int) -> None:
        pass

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        j = oracle_costs(obs, self.p, self.uploads)
        a = np.argmin(j, axis=1)
        return doomed_to_local(j, a, self.p) if self.doomed_local else a
