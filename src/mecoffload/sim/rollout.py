"""The one rollout loop of the MEC engine: B episodes in lock-step, slot by slot, decision by decision.

``decisions`` drives the dynamics (``draw_slot`` → ``observe``/``decide`` for the k-th arrival of
every env, k = 0, 1, ... → ``serve``) as a generator: it yields the ``Obs`` of every decision
round and takes the actions back with ``send``, so a learner can keep an episode running across
its updates. ``drive(stream, act)`` runs a stream with an action function instead. Optional hooks
see each slot's arrivals, the state before service and the ``SlotOutcome``.

Built on it: ``episodes`` (endless batches, for learners and state sets), ``epsilon_oracle``
(the behaviour policy that visits diverse states) and ``run_closed_loop`` (an evaluation run of a
policy: horizon, then draining, with the paper's metrics). Units: seconds, bits, Hz.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Generator, Iterable

import numpy as np

from ..core.errors import PolicyError
from .cost import obs_latency, oracle_actions, oracle_costs
from .dnnrun import dnn_hooks
from .dynamics import NO_ESTIMATE, Arrivals, Obs, SimState, SlotOutcome, decide, draw_slot, observe, reset, serve
from .metrics import Accumulator, check_accounting
from .params import Params

Stream = Generator[Obs, np.ndarray, None]
"""yields the Obs of each decision round; ``send`` it the (n,) int actions"""
Progress = Callable[[int], None]
"""called with the number of slots just simulated"""


def decisions(
    state: SimState,
    exo: np.random.Generator,
    p: Params,
    slots: int,
    *,
    arrivals: bool = True,
    on_arrivals: Callable[[Arrivals], None] | None = None,
    before_serve: Callable[[], None] | None = None,
    on_served: Callable[[SlotOutcome], None] | None = None,
    until: Callable[[], bool] | None = None,
    estimate: Callable[[Obs, np.ndarray, Params], np.ndarray] | None = None,
) -> Stream:
    """Run ``slots`` slots of ``state``; yield every decision round's Obs and decide the actions sent back.

    ``arrivals=False`` draws no tasks (draining). After each slot, ``until()`` True ends the stream.
    ``estimate(obs, actions, p)`` gives each decided task the estimated latency (s) kept with it to its
    completion record (e.g. ``chosen_estimate``; evaluations use it for the estimation error); without
    it tasks carry ``NO_ESTIMATE`` and the loop does no cost work of its own.
    """
    for _ in range(slots):
        arr = draw_slot(state, p, exo, arrivals=arrivals)
        if on_arrivals is not None:
            on_arrivals(arr)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            action = yield obs
            decide(state, obs, action, p, None if estimate is None else estimate(obs, action, p))
        if before_serve is not None:
            before_serve()
        outcome = serve(state, p)
        if on_served is not None:
            on_served(outcome)
        if until is not None and until():
            return


def episodes(p: Params, envs: int, seeds: Iterable[int], until: Callable[[], bool] | None = None) -> Stream:
    """Batches of ``envs`` episodes of ``p.horizon`` slots, one batch per seed (reset with it);
    ``until()`` True after a slot ends the stream."""
    for seed in seeds:
        state, exo = reset(p, envs, seed)
        yield from decisions(state, exo, p, p.horizon, until=until)
        if until is not None and until():
            return


def chosen_estimate(obs: Obs, action: np.ndarray, p: Params) -> np.ndarray:
    """(n,) estimated latency (s) of each row's chosen location under the scenario's cost model
    (``NO_ESTIMATE`` for a rejected task): kept with the task and compared with its realized latency."""
    a = np.asarray(action, np.int64)
    if not len(obs):
        return np.zeros(0)
    lat = obs_latency(obs, p)
    return np.where(a <= p.n_servers, lat[np.arange(len(a)), np.minimum(a, p.n_servers)], NO_ESTIMATE)


def drive(stream: Stream, act: Callable[[Obs], np.ndarray]) -> None:
    """Run ``stream`` to its end, answering every Obs with ``act(obs)``."""
    try:
        obs = next(stream)
        while True:
            obs = stream.send(act(obs))
    except StopIteration:
        pass


def epsilon_oracle(obs: Obs, p: Params, rng: np.random.Generator, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """(actions, oracle actions), each (n,): the oracle's choice (eq 15), or with probability
    ``epsilon`` a uniformly random allowed one (two draws from ``rng``: the coin, then the action)."""
    best = oracle_actions(obs, p)
    lo = 0 if p.allow_local else 1  # exploration covers the locations only, never reject
    explore = rng.random(len(obs)) < epsilon
    return np.where(explore, rng.integers(lo, p.n_servers + 1, len(obs)), best), best


# --------------------------------------------------------------------------- evaluation run


@dataclass
class PolicyRun:
    name: str
    metrics: dict
    latencies: np.ndarray  # realized latencies of completed tasks (s)
    max_delay_series: np.ndarray  # (T,) per-slot max server delay, mean over episodes (s)
    estimates: np.ndarray = field(default_factory=lambda: np.zeros(0))  # decision-time estimate of each (s; -1: none)


def policy_seed(seed: int) -> np.random.Generator:
    """The policy's own random stream (e.g. Random, LACS sampling), separate from the exogenous one."""
    return np.random.Generator(np.random.PCG64([seed, 0x9E3779B9]))


def run_closed_loop(p: Params, policy, episodes: int, seed: int, progress: Progress | None = None) -> PolicyRun:
    """``episodes`` episodes of a built policy (``act(obs, rng)``, ``reset(batch)``, optional
    ``plan_slot(state, arrivals, rng)``) in lock-step from ``reset(p, episodes, seed)``; after the
    horizon the queues drain (no arrivals) until every task has completed or been dropped."""
    state, exo = reset(p, episodes, seed)
    policy.reset(episodes)
    rng = policy_seed(seed)
    # DNN-split tasks: (k, e) actions, the DNN metrics and their queue-aware estimate (sim.dnnrun)
    acc, act, estimate = (_generic_hooks if p.dnn is None else dnn_hooks)(p, policy, episodes, rng)
    plan = getattr(policy, "plan_slot", None)  # slot-level planners (e.g. the GA) see all arrivals first

    def served(outcome: SlotOutcome) -> None:
        acc.outcome(outcome)
        if progress:
            progress(1)

    drive(decisions(state, exo, p, p.horizon, on_arrivals=None if plan is None else lambda arr: plan(state, arr, rng),
                    before_serve=lambda: acc.slot_delay(state), on_served=served, estimate=estimate), act)
    # drain: every task ends (completed or dropped) by its deadline
    drive(decisions(state, exo, p, p.deadline_slots, arrivals=False, on_served=acc.outcome, estimate=estimate), act)
    check_accounting(state)
    if state.in_flight().sum():
        raise AssertionError("tasks still in flight after draining")
    return PolicyRun(policy.name, acc.summary(state), acc.latencies(), acc.max_delay_series(), acc.estimates())


def _generic_hooks(p: Params, policy, episodes: int, rng: np.random.Generator):
    """(accumulator, act(obs), estimate(obs, a, p)) of an evaluation of generic tasks."""
    acc = Accumulator(p, episodes)
    paper = p if p.cost_model == "paper" else replace(p, cost_model="paper")  # AL_paper_slots: seed 001's leaderboard

    def act(obs: Obs) -> np.ndarray:
        a = np.asarray(policy.act(obs, rng), dtype=np.int64)
        check_actions(a, len(obs), p, policy.name)
        j = oracle_costs(obs, p)
        acc.decision(obs.env, a, j, j if paper is p else oracle_costs(obs, paper))
        return a

    return acc, act, chosen_estimate


def check_actions(a: np.ndarray, n: int, p: Params, name: str) -> None:
    """Reject a policy's answer unless it is n allowed actions (0 = local when allowed, 1..E, E+1 =
    reject when allowed)."""
    if a.shape != (n,):
        raise PolicyError(f"policy '{name}' returned {a.shape} actions for {n} tasks")
    if n and (a.min() < (0 if p.allow_local else 1) or a.max() >= p.n_actions):
        raise PolicyError(f"policy '{name}' returned an action outside the allowed range")
