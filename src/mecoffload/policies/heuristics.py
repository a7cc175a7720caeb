"""Simple heuristics: random (seed 000 "uniform"), local, nearest (seed 000 "distance"),
least-loaded and round-robin."""

from __future__ import annotations

import numpy as np

from ..sim.dynamics import Obs
from ..sim.params import Params
from .base import allowed_mask, register
from .specs import no_argument


class _Stateless:
    """A policy without state or argument (``random:xyz`` is a PolicyError)."""

    name = ""

    def __init__(self, p: Params, arg: str | None = None):
        no_argument(self.name, arg)
        self.p = p

    def reset(self, batch: int) -> None:
        pass


@register("random", "uniform over the allowed locations 0..E (seed 000 'uniform', seed 001 'Random')")
class RandomPolicy(_Stateless):
    name = "random"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        m = allowed_mask(obs, self.p)
        u = rng.random(m.shape)
        return np.argmax(np.where(m, u, -1.0), axis=1)


@register("local", "always execute on the device (edge server 1 when local execution is forbidden)")
class LocalPolicy(_Stateless):
    name = "local"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return np.full(obs.bits.shape[0], 0 if self.p.allow_local else 1)


@register("nearest", "offload to the closest edge server (seed 000 'distance')")
class NearestPolicy(_Stateless):
    name = "nearest"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return np.argmin(obs.dist, axis=1) + 1


@register("least-loaded", "offload to the server whose backlog clears soonest (L_e·γ/F_e; queue model: the later of "
                          "that and the task's arrival there); ties: fastest")
class LeastLoadedPolicy(_Stateless):
    name = "least-loaded"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        p = self.p
        delay = obs.backlog_bits * p.gamma / obs.f_edge  # s until the work sent to e is done
        if p.cost_model == "queue":  # ... or until the task gets there, if later (own FIFO radio, mean rate)
            arrive = obs.uplink_wait_s[:, None] + obs.bits[:, None] / obs.mean_rate + 0.5 * p.slot_s
            delay = np.maximum(delay, arrive)
        return np.argmin(delay - 1e-15 * obs.f_edge, axis=1) + 1


@register("round-robin", "cycle over the edge servers 1..E, one counter per environment")
class RoundRobinPolicy(_Stateless):
    name = "round-robin"

    def reset(self, batch: int) -> None:
        self.counter = np.zeros(batch, np.int64)

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        if not hasattr(self, "counter") or self.counter.shape[0] <= obs.env.max(initial=0):
            self.reset(int(obs.env.max(initial=0)) + 1)
        a = self.counter[obs.env] % obs.n_servers + 1
        self.counter[obs.env] += 1
        return a
