"""Policies of DNN-split tasks (``dnn`` scenarios, docs/dnn.md): action ``(v * K + k) * E + e`` = model
variant v, split k, server e (``dnn.tasks``). Every policy chooses only among the variants the task's
network may run (``DnnTables.allowed``: published, within ``dnn.max_top1_loss`` of its fp32 top-1).

- ``dnn-local``: every inference on the device (k = n), in the allowed variant of least device time.
- ``dnn-edge-nearest`` / ``dnn-edge-least-loaded``: full offload (k = 0) to the nearest server, or to
  the one with the least remaining edge work (cycles in service and heading there, over F_e), in the
  allowed variant of least server time there.
- ``neurosurgeon``: per task the (v, k, e) of least latency for the task alone at the current bandwidth,
  ignoring every other user (Kang et al., ASPLOS 2017, Algorithm 1, latency objective, with the server
  and variant choice added); ``neurosurgeon:fp32`` (any variant name) keeps to that one variant
  where the network may run it — the variant-blind rule.
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


@register("dnn-local", "DNN tasks: every inference on the device (split k = n), allowed variant of least device time")
class DnnLocal(_DnnPolicy):
    name = "dnn-local"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        t = self.t
        net = np.asarray(obs.net, np.int64)
        n = t.n_layers[net]
        if t.n_variants == 1:
            return n * t.n_servers
        cols = np.arange(t.n_variants)[None, :] * t.n_splits + n[:, None]
        v = np.argmin(np.take_along_axis(t.dev_s[net], cols, axis=1), axis=1)  # inf where not allowed
        return t.action(v, n, 0)


def _full_offload(t, obs: Obs, e: np.ndarray) -> np.ndarray:
    """Full offload (k = 0) to server e per row, in the allowed variant of least server time there."""
    if t.n_variants == 1:
        return e
    net = np.asarray(obs.net, np.int64)
    srv = t.srv_s[net][:, ::t.n_splits, :]  # (n, V, E): columns v * K + 0
    v = np.argmin(srv[np.arange(len(e)), :, e], axis=1)  # inf where not allowed
    return t.action(v, 0, e)


@register("dnn-edge-nearest", "DNN tasks: full offload (k = 0) to the nearest server")
class DnnEdgeNearest(_DnnPolicy):
    name = "dnn-edge-nearest"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return _full_offload(self.t, obs, np.argmin(obs.dist, axis=1))


@register("dnn-edge-least-loaded", "DNN tasks: full offload (k = 0) to the server with the least remaining work")
class DnnEdgeLeastLoaded(_DnnPolicy):
    name = "dnn-edge-least-loaded"

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return _full_offload(self.t, obs, np.argmin((obs.backlog_cycles + obs.pending_cycles) / obs.f_edge, axis=1))


@register("neurosurgeon", "DNN tasks: per task the (variant, split, server) of least latency alone at the current "
                          "bandwidth, ignoring other users (Kang et al. 2017); neurosurgeon:fp32 keeps to one variant")
class Neurosurgeon(_DnnPolicy):
    name = "neurosurgeon"

    def __init__(self, p: Params, arg: str | None = None):
        super().__init__(p, None)
        self.only: int | None = None
        if arg:
            if arg not in self.t.variants:
                raise PolicyError(f"neurosurgeon: the argument is one variant of the scenario, "
                                  f"{', '.join(self.t.variants)} (got '{arg[:40]}')")
            self.only = self.t.variants.index(arg)

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        t = self.t
        lat = alone_latency(obs, self.p)
        if self.only is not None and t.n_variants > 1:  # variant-blind: that variant where allowed, else any
            lat = lat.reshape(len(obs), t.n_variants, t.n_splits, t.n_servers)
            keep = t.allowed[np.asarray(obs.net, np.int64), self.only]
            lat = np.where(keep[:, None, None, None] & (np.arange(t.n_variants) != self.only)[None, :, None, None],
                           np.inf, lat)
        return np.argmin(lat.reshape(len(obs), -1), axis=1)


@register("dnn-oracle", "DNN tasks: load-aware, the (variant, split, server) of least queue-aware estimate (local FIFO, own "
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
                           t.n_layers, t.allowed, p.slot_s, True)
        out[b, j] = act
    return out
