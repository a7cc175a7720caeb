"""B episodes over one batched ``SimState``, each at its own slot: the engine under the Gymnasium envs.

Every env has a pointer to the pending task of its current slot. Deciding it advances the
pointer; an env whose slot is exhausted is served and its next slot (with at least one arrival)
drawn. Envs of one batch advance through slots independently: the envs whose slot is exhausted
are gathered into a sub-batch ``SimState`` (rows of every array), served and drawn there, and
scattered back. The dynamics treat envs independently (every array is batch-first and all queue
operations are row-wise), so serving a sub-batch is the same as serving those envs in the full
batch. Units: seconds, bits, Hz.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .dynamics import Arrivals, Obs, SimState, decide, draw_slot, observe, reset, serve
from .params import Params


def take_rows(state: SimState, rows: np.ndarray) -> SimState:
    """Sub-batch holding copies of the given env rows (shared scalars are shared)."""
    return SimState(
        **{f.name: (a[rows] if (a := getattr(state, f.name)).ndim else a) for f in dataclasses.fields(state)}
    )


def pad_last(a: np.ndarray, width: int) -> np.ndarray:
    """Zero-pad the last (queue) axis; the dynamics keep 0 beyond each queue's length."""
    if a.shape[-1] >= width:
        return a
    pad = np.zeros(a.shape[:-1] + (width - a.shape[-1],), a.dtype)
    return np.concatenate([a, pad], axis=-1)


def put_rows(state: SimState, rows: np.ndarray, sub: SimState) -> None:
    """Write ``sub`` (a sub-batch, possibly with wider or narrower queues) into ``state`` rows."""
    for f in dataclasses.fields(state):
        a, s = getattr(state, f.name), getattr(sub, f.name)
        if not a.ndim:
            continue
        if a.shape[1:] != s.shape[1:]:  # a queue grew in one of them: widen the other
            width = max(a.shape[-1], s.shape[-1])
            a, s = pad_last(a, width), pad_last(s, width)
            setattr(state, f.name, a)
        a[rows] = s


class EnvBatch:
    """B environments over one ``SimState``, each with its own slot and pending-task pointer.

    Invariant between calls: every env has a pending task, the ``ptr``-th arrival of its
    current slot (slots without arrivals are served and skipped).
    """

    def __init__(self, p: Params, batch: int, seed: int, credit=None):
        """``credit``: optional ``sim.realized.RealizedCredit`` told of every decision and service."""
        self.p, self.B, self.credit = p, batch, credit
        self.state, self.exo = reset(p, batch, seed)
        self.user = np.zeros((batch, 1), np.int64)  # arrivals of each env's current slot
        self.bits = np.zeros((batch, 1))
        self.net = np.zeros((batch, 1), np.int64) if p.dnn is not None else None  # network of each DNN task
        self.count = np.zeros(batch, np.int64)
        self.ptr = np.zeros(batch, np.int64)
        self._next_slot(np.arange(batch), serve_first=False)

    def _next_slot(self, rows: np.ndarray, serve_first: bool) -> None:
        """For the (sorted, distinct) env ``rows``: serve the current slot (if ``serve_first``)
        and draw the next one, repeating while an env's new slot has no arrival."""
        p = self.p
        while rows.size:
            whole = rows.size == self.B
            sub = self.state if whole else take_rows(self.state, rows)
            if serve_first:
                outcome = serve(sub, p)
                if self.credit is not None:
                    self.credit.served(rows, outcome, sub.t)
            arr = draw_slot(sub, p, self.exo)
            if not whole:
                put_rows(self.state, rows, sub)
            self._store(rows, arr)
            rows = rows[self.count[rows] == 0]
            serve_first = True

    def _store(self, rows: np.ndarray, arr: Arrivals) -> None:
        w = arr.width
        if w > self.user.shape[1]:
            self.user = pad_last(self.user, w)
            self.bits = pad_last(self.bits, w)
            self.net = None if self.net is None else pad_last(self.net, w)
        self.user[rows, :w] = arr.user
        self.bits[rows, :w] = arr.bits
        if self.net is not None:
            self.net[rows, :w] = arr.net
        self.count[rows] = arr.valid.sum(1)
        self.ptr[rows] = 0

    def observe(self) -> Obs:
        """Observation of every env's pending task (row i = env i)."""
        b = np.arange(self.B)
        k = self.ptr
        net = None if self.net is None else self.net[b, k][:, None]
        arr = Arrivals(self.user[b, k][:, None], self.bits[b, k][:, None], np.ones((self.B, 1), bool), net)
        return observe(self.state, arr, 0, self.p)

    def decide(self, obs: Obs, action: np.ndarray) -> None:
        """Decide the pending task of the envs ``obs.env`` (sorted), then advance exhausted slots."""
        b = obs.env
        if self.credit is not None:
            ids, slots = self.state.arrived[b].copy(), self.state.t[b].copy()
        decide(self.state, obs, action, self.p)
        if self.credit is not None:
            self.credit.decided(b, ids, slots, action)
        self.ptr[b] += 1
        self._next_slot(b[self.ptr[b] >= self.count[b]], serve_first=True)

    def reset_rows(self, rows: np.ndarray, seed: int) -> None:
        """Fresh layouts (drawn from ``seed``) and empty queues for ``rows``, at slot 0."""
        if self.credit is not None:
            self.credit.forget(rows)
        fresh, _ = reset(self.p, rows.size, seed)
        put_rows(self.state, rows, fresh)
        self._next_slot(rows, serve_first=False)


