"""Seed 000's objective as a greedy rule: minimise the maximum server delay after the decision.

Server delay d_e = L_e·γ / F_e (s): time server e needs to clear the work sent to it. The
device's own delay (local wait + Dγ/f_loc) counts as one more "server" when the task stays
local. Ties in the resulting maximum are broken by the task's own estimated latency under the
scenario's cost model (``cost.model``).
"""

from __future__ import annotations

import numpy as np

from ..sim.cost import obs_latency
from ..sim.dynamics import Obs
from ..sim.params import Params
from .base import allowed_mask, register
from .specs import no_argument


def server_delay(obs: Obs, p: Params) -> np.ndarray:
    """(B,E) seconds to clear each server's backlog at full capacity."""
    return obs.backlog_bits * p.gamma / obs.f_edge


@register("min-max-delay", "seed 000: the choice that minimises the resulting maximum server delay")
class MinMaxDelayPolicy:
    name = "min-max-delay"

    def __init__(self, p: Params, arg: str | None = None):
        no_argument(self.name, arg)
        self.p = p

    def reset(self, batch: int) -> None:
        pass

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        p = self.p
        d = server_delay(obs, p)  # (B,E)
        add = obs.bits[:, None] * p.gamma / obs.f_edge
        E = d.shape[1]
        after = d[:, None, :] + np.eye(E + 1)[:, 1:][None] * add[:, None, :]  # (B,A,E)
        worst = after.max(-1)
        local_delay = obs.local_wait_s + obs.bits * p.gamma / p.f_loc
        worst[:, 0] = np.maximum(worst[:, 0], local_delay)
        worst = np.where(allowed_mask(obs, p), worst, np.inf)
        own = obs_latency(obs, p)  # the task's own estimated latency under the scenario's cost model
        tie = worst <= worst.min(1, keepdims=True) * (1 + 1e-9) + 1e-12
        return np.argmin(np.where(tie, own, np.inf), axis=1)
