"""LACS look-ahead planner (seed 001 eqs 22-26): argmin of J + λ·C_impact."""

from __future__ import annotations

import numpy as np

from ..sim.dynamics import Obs
from ..sim.lacs import lacs_terms
from ..sim.params import Params
from .base import register
from .specs import COST_MODEL_ARG, Arg, parse_policy_args, with_cost_model


LACS_ARGS = {"k": Arg(int, 1, 64), "lambda": Arg(float, 0.0, 100.0), **COST_MODEL_ARG}
"""``lacs:k=K,lambda=λ`` (or positional ``lacs:K,λ``): K sampled future tasks (eq 23), 1..64, and the
weight λ of C_impact (eq 26), 0..100 — the bounds of the scenario's ``lacs.k`` and ``lacs.weight`` —
and ``model=paper|queue`` (the cost model it plans with; default the scenario's)"""


@register("lacs", "look-ahead planner: argmin J + λ·C_impact over K sampled future tasks (lacs:k=3,lambda=0.3 or lacs:3,0.3)")
class LacsPolicy:
    name = "lacs"

    def __init__(self, p: Params, arg: str | None = None):
        given = parse_policy_args("lacs", arg, LACS_ARGS, positional=("k", "lambda"), aliases={"K": "k", "weight": "lambda"})
        self.p, self.k, self.weight = with_cost_model(p, given), given.get("k", p.lacs_k), given.get("lambda", p.lacs_weight)

    def reset(self, batch: int) -> None:
        pass

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        j, impact = lacs_terms(obs, self.p, rng, self.k)
        return np.argmin(j + self.weight * impact, axis=1)
