"""Realized returns for group-relative learners: branch the simulation, try G actions, measure what happens.

GRPO (eqs 17-19) needs a reward for each of G actions sampled *in the same state*. A realized
outcome is known only after the simulation has run on (``sim.realized``), so ``branch_costs``
copies every env of a decision round G times (``sim.envbatch.take_rows``), decides the pending
task with the g-th sampled action in copy g, and runs all n·G copies on with a fixed continuation
policy (the current network, greedy). Every copy of an env sees the same arrivals, task sizes and
fading (common random numbers: the slot is drawn once per env and repeated), and the dynamics are
deterministic, so the costs of the G copies differ *only* because of the sampled action: the
group advantage (eq 18) is the exact effect of the action under the continuation policy.

The realized (team) cost of a copy, in slots: the sum, over the env's tasks decided from the
branched one to the end of the window (``window_slots`` slots, the branch slot first), of their
realized costs (latency/Δt when completed, τ + ρ/Δt when dropped or rejected:
``sim.realized``); tasks arriving after the window are simulated (they share the servers with the
window's tasks) but not counted. With a window of one slot and one task per slot that is the task's own
realized latency; a longer window also charges a decision for the congestion it leaves to the
next tasks of its device and servers (which the one-step estimate cannot see). The copies run
``window_slots + τ − 1`` slots, after which every task of the window has completed or been
dropped. Units: slots unless a name says otherwise.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

import numpy as np

from ..sim.dynamics import Arrivals, Obs, SimState, decide, draw_slot, observe, reset, serve
from ..sim.envbatch import take_rows
from ..sim.params import Params
from ..sim.realized import completed_cost_slots, drop_cost_slots

Act = Callable[[Obs], np.ndarray]
"""continuation policy: (n,) actions for the rows of an Obs"""


def branch_costs(state: SimState, arr: Arrivals, k: int, obs: Obs, actions: np.ndarray, p: Params, act: Act,
                 window_slots: int, seed: int) -> np.ndarray:
    """(n, G) realized team cost (slots) of deciding row i's task (the k-th arrival of env obs.env[i]
    in the current slot of ``state``) with ``actions[i, g]``, then following ``act``.

    ``state`` is not modified. ``seed`` drives the copies' future arrivals and fading (one draw per
    env, shared by its G copies)."""
    n, G = actions.shape
    if n == 0:
        return np.zeros((0, G))
    rows = np.repeat(np.asarray(obs.env, np.int64), G)
    br = take_rows(state, rows)
    first = br.arrived.copy()  # id of the branched task in each copy
    end = np.full(n * G, np.iinfo(np.int64).max)  # first id after the window, known at its end
    slot_arr = Arrivals(arr.user[rows], arr.bits[rows], arr.valid[rows], None if arr.net is None else arr.net[rows])
    o = observe(br, slot_arr, k, p)
    decide(br, o, actions.reshape(-1), p)
    _finish_slot(br, slot_arr, k + 1, p, act)
    exo = np.random.Generator(np.random.PCG64(seed))
    done_cost, done_n = np.zeros(n * G), np.zeros(n * G)
    n_slots = window_slots + p.deadline_slots - 1
    for s in range(n_slots):
        if s == window_slots - 1:
            end = br.arrived.copy()
        out = serve(br, p)
        mine = (out.task_id >= first[out.lat_env]) & (out.task_id < end[out.lat_env])
        done_cost += np.bincount(out.lat_env[mine], completed_cost_slots(out.latency_s[mine], p), n * G)
        done_n += np.bincount(out.lat_env[mine], minlength=n * G)
        if s < n_slots - 1:  # later arrivals keep competing with the window's tasks
            _finish_slot(br, _draw_shared(br, G, p, exo), 0, p, act)
    cost = done_cost + (end - first - done_n) * drop_cost_slots(p)
    return cost.reshape(n, G)


def _finish_slot(br: SimState, arr: Arrivals, k0: int, p: Params, act: Act) -> None:
    """Decide the arrivals k0, k0+1, ... of the current slot with the continuation policy."""
    for k in range(k0, arr.width):
        o = observe(br, arr, k, p)
        if len(o):
            decide(br, o, act(o), p)


def _draw_shared(br: SimState, G: int, p: Params, exo: np.random.Generator) -> Arrivals:
    """Draw the next slot once per env (every G-th copy) and give it to all G copies of the env.
    ``draw_slot`` reads the shapes of the queue counts and mean SNRs, the slot index and the on/off
    state of an arrival schedule, and redraws the fading and that state."""
    one = SimpleNamespace(lq_n=br.lq_n[::G], fade_u=br.fade_u[::G].copy(), snr_mean=br.snr_mean[::G], t=br.t[::G],
                          arr_on=br.arr_on[::G].copy())
    a = draw_slot(one, p, exo)
    br.fade_u = np.ascontiguousarray(np.repeat(one.fade_u, G, axis=0))
    br.arr_on = np.repeat(one.arr_on, G, axis=0)
    net = None if a.net is None else np.repeat(a.net, G, 0)
    return Arrivals(np.repeat(a.user, G, 0), np.repeat(a.bits, G, 0), np.repeat(a.valid, G, 0), net)


class Episodes:
    """B on-policy episodes advanced decision round by decision round, with the state, the slot's
    arrivals and the round index k exposed for ``branch_costs``. Episode batch i is reset with seed
    ``seed·100003 + i`` and runs ``params[i % len(params)]`` (e.g. several arrival rates)."""

    def __init__(self, params: list[Params], envs: int, seed: int):
        self.params, self.envs, self.seed, self.count = params, envs, seed, 0
        self.state: SimState | None = None
        self._next_slot()

    def _next_slot(self) -> None:
        """Draw slots (serving those without arrivals) until one has a task; a new batch at the horizon."""
        while True:
            if self.state is None or self.state.t[0] >= self.p.horizon:
                self.p = self.params[self.count % len(self.params)]
                self.state, self.exo = reset(self.p, self.envs, self.seed * 100_003 + self.count)
                self.count += 1
            self.arr, self.k = draw_slot(self.state, self.p, self.exo), 0
            if self.arr.width:
                return
            serve(self.state, self.p)

    def obs(self) -> Obs:
        """Observation of the current round (the k-th arrival of every env that has one)."""
        return observe(self.state, self.arr, self.k, self.p)

    def send(self, obs: Obs, action: np.ndarray) -> None:
        """Decide the round's tasks and move to the next round (serving the slot when it is done)."""
        decide(self.state, obs, action, self.p)
        self.k += 1
        if self.k >= self.arr.width:
            serve(self.state, self.p)
            self._next_slot()


class Hindsight:
    """Transitions of n envs waiting for their realized cost (``OffloadVectorEnv(reward="realized")``
    and its ``pop_credits``): a transition is released, with its task's own realized cost (slots),
    when that task's outcome is known. Keys: (episode of the env, env, task id); transitions of an
    episode that was reset before their outcome are discarded."""

    def __init__(self, n: int):
        self.n = n
        self.episode = np.zeros(n, np.int64)
        self.key = np.zeros(0, np.int64)
        self.rows: tuple[np.ndarray, ...] | None = None  # obs, action, next_obs, done

    def _keys(self, env: np.ndarray, task_id: np.ndarray) -> np.ndarray:
        return ((self.episode[env] * self.n + env) << 24) + task_id

    def add(self, env: np.ndarray, task_id: np.ndarray, *rows: np.ndarray) -> None:
        """Transitions (obs, action, next_obs, done) of the tasks ``task_id`` decided by envs ``env``."""
        self.key = np.concatenate([self.key, self._keys(env, task_id)])
        self.rows = rows if self.rows is None else tuple(np.concatenate([a, b]) for a, b in zip(self.rows, rows))

    def reset_envs(self, envs: np.ndarray) -> None:
        """Envs ``envs`` start a new episode: their waiting transitions will never be credited."""
        if not len(envs):
            return
        old = np.isin(self.key >> 24, self.episode[envs] * self.n + envs)
        self._keep(~old)
        self.episode[envs] += 1

    def credit(self, env: np.ndarray, task_id: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, ...]:
        """Release the transitions of the credited tasks: (obs, action, cost, next_obs, done)."""
        keys = self._keys(np.asarray(env, np.int64), np.asarray(task_id, np.int64))
        order = np.argsort(self.key, kind="stable")
        pos = np.searchsorted(self.key[order], keys)
        pos = np.minimum(pos, max(len(order) - 1, 0))
        hit = (len(order) > 0) & (self.key[order[pos]] == keys) if len(order) else np.zeros(len(keys), bool)
        idx = order[pos[hit]]
        obs, action, next_obs, done = (a[idx] for a in self.rows) if self.rows is not None else ((),) * 4
        out = (obs, action, np.asarray(cost)[hit], next_obs, done)
        gone = np.zeros(len(self.key), bool)
        gone[idx] = True
        self._keep(~gone)
        return out

    def waiting(self) -> int:
        return len(self.key)

    def _keep(self, mask: np.ndarray) -> None:
        self.key = self.key[mask]
        if self.rows is not None:
            self.rows = tuple(a[mask] for a in self.rows)
