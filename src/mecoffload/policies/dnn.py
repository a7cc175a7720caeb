"""Policies of DNN-split tasks (``dnn`` scenarios, docs/dnn.md): action ``k * E + e`` = split k, server e.

- ``dnn-local``: every inference on the device (k = n).
- ``dnn-edge-nearest`` / ``dnn-edge-least-loaded``: full offload (k = 0) to the nearest server, or to
  the one with the least remaining edge work (cycles in service and heading there, over F_e).
- ``neurosurgeon``: per task the (k, e) of least latency for the task alone at the current bandwidth,
  ignoring every other user (Kang et al., ASPLOS 2017, Algorithm 1, latency objective, with the server
  choice added: the fastest for that split).
- ``dnn-oracle``: load-aware, the (k, e) of least queue-aware estimate (``sim.dnncost``): the device's
  local FIFO wait, its own uplink FIFO wait and the processor-sharing contention of the tasks in
  service at e and heading to e. Decisions are sequential within a slot: with ``plan_slot`` the whole
  slot of every env is decided at once by a compiled loop in arrival order, each decision added to
  the state the next one sees (the engine's decision rounds give the same ordering without it).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import PolicyError
from ..sim.dnncost import alone_latency, plan_rows, queue_oracle
from ..sim.dnnstate import dnn_pending
from ..sim.dynamics import Arrivals, Obs, SimState
from ..sim.params import Params
from .base import register


class _DnnPolicy:
    """Base: refuses a scenario without DNN-split tasks."""

    name = "dnn"
    dnn = True  # decides DNN actions (sim.dnnrun checks it)

    def __init__(self, p: Params, arg: str | None = None):
        if p.dnn is None:
            raise PolicyError(f"policy '{self.name}' cannot run on this scenario: it decides DNN-split tasks, which need a "
                              "[dnn] section (dnn-wifi, dnn-lte, dnn-3g)")
        if arg:
            raise PolicyError(f"policy '{self.name}' takes no argument (got '{arg[:40]}')")
        self.p, self.t = p, p.dnn

    @staticmethod
    def runs_on(p: Params) -> bool:
        return p.dnn is not None

    def reset(self, batch: int) -> None:
        pass


@register("dnn-local", "DNN tasks: every inference on the device (split k = n)")
class DnnLocal(_DnnPolicy):
    name = "dnn-local"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return self.t.n_layers[np.asarray(obs.net, np.int64)] * self.t.n_servers


@register("dnn-edge-nearest", "DNN tasks: full offload (k = 0) to the nearest server")
class DnnEdgeNearest(_DnnPolicy):
    name = "dnn-edge-nearest"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return np.argmin(obs.dist, axis=1)


@register("dnn-edge-least-loaded", "DNN tasks: full offload (k = 0) to the server with the least remaining work")
class DnnEdgeLeastLoaded(_DnnPolicy):
    name = "dnn-edge-least-loaded"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return np.argmin((obs.backlog_cycles + obs.pending_cycles) / obs.f_edge, axis=1)


@register("neurosurgeon", "DNN tasks: per task the (split, server) of least latency alone at the current bandwidth, "
                          "ignoring other users (Kang et al. 2017)")
class Neurosurgeon(_DnnPolicy):
    name = "neurosurgeon"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        lat = alone_latency(obs, self.p)
        return np.argmin(lat.reshape(len(obs), -1), axis=1)


@register("dnn-oracle", "DNN tasks: load-aware, the (split, server) of least queue-aware estimate (local FIFO, own "
                        "uplink FIFO, processor sharing at e), sequential within a slot")
class DnnOracle(_DnnPolicy):
    name = "dnn-oracle"

    def __init__(self, p: Params, arg: str | None = None):
        super().__init__(p, arg)
        self._plan: np.ndarray | None = None
        self._valid: np.ndarray | None = None
        self._k = 0

    def reset(self, batch: int) -> None:
        self._plan = None

    def plan_slot(self, state: SimState, arr: Arrivals, rng: np.random.Generator) -> np.ndarray:
        """Decide every arrival of the slot, env by env in arrival order; returns the plan (B, A)."""
        self._plan, self._valid, self._k = plan_slot(state, arr, self.p), arr.valid, 0
        return self._plan

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        k, self._k = self._k, self._k + 1
        if self._plan is not None and k < self._plan.shape[1] and np.array_equal(obs.env, np.flatnonzero(self._valid[:, k])):
            return self._plan[obs.env, k]
        return queue_oracle(obs, self.p)[0]  # without a plan (or draining): each row alone


def slot_state(state: SimState, p: Params) -> tuple[np.ndarray, ...]:
    """Per env the state the queue-aware estimate reads, at the start of a slot: local wait (B,U) s, uplink
    wait (B,U) s (bits queued / mean rate to their server, as ``Obs.uplink_wait_s``), mean rate (B,U,E)
    bit/s, F (B,E) Hz, competitors at each server (B,E: in service + heading there) and their cycles (B,E)."""
    s = state
    n_up = np.arange(s.uq_bits.shape[-1]) < s.uq_n[..., None]
    rate_q = np.take_along_axis(s.mean_rate, s.uq_dest, axis=2)
    uw = np.where(n_up, s.uq_bits / rate_q, 0.0).sum(-1)
    cyc, cnt = dnn_pending(s)
    return (s.local_wait_cyc / p.f_loc, uw, s.mean_rate, s.f_edge, (s.eq_n + cnt).astype(np.float64),
            s.eq_cyc.sum(-1) + cyc)


def plan_slot(state: SimState, arr: Arrivals, p: Params) -> np.ndarray:
    """(B, A) actions of the sequential queue-aware oracle for all of a slot's arrivals (invalid: 0)."""
    t = p.dnn
    b, j = np.nonzero(arr.valid)  # row order: env, then arrival order (the engine's decision rounds)
    out = np.zeros(arr.valid.shape, np.int64)
    if b.size:
        act, _ = plan_rows(b, arr.user[b, j], arr.net[b, j], *slot_state(state, p), t.dev_s, t.up_bits, t.srv_s,
                           t.n_layers, p.slot_s, True)
        out[b, j] = act
    return out
