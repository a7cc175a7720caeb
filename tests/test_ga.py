"""Genetic-algorithm baseline (seed 000): slot objective vs greedy, closed loop vs random,
valid actions, determinism, argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from mecoffload.eval.evaluate import run_policy
from mecoffload.policies.base import PolicyError, make_policy
from mecoffload.policies.oracle import oracle_costs
from mecoffload.scenario import load_scenario
from mecoffload.sim.dynamics import decide, draw_slot, observe, reset, serve
from mecoffload.sim.params import Params

SHORT = {"sim.horizon_slots": 30}


def _params(name: str, **overrides) -> Params:
    return Params.from_scenario(load_scenario(name, overrides or None))


def _slots(p: Params, seed: int, n_slots: int = 8, batch: int = 6):
    """(state, arrivals) at the start of successive slots of a running system (random actions)."""
    state, exo = reset(p, batch, seed)
    rng = np.random.default_rng(seed)
    lo = 0 if p.allow_local else 1
    for _ in range(n_slots):
        arr = draw_slot(state, p, exo)
        yield state.copy(), arr
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            decide(state, obs, rng.integers(lo, p.n_servers + 1, len(obs)), p)
        serve(state, p)


def _apply(state, arr, p: Params, choose):
    """Decide the slot's tasks on a copy of ``state`` with ``choose(obs, k) -> actions``.

    Returns (actions (B, A), Σ oracle J of the chosen locations (B,), max server delay (B,)),
    all computed by the simulator itself, independently of the GA's fitness code.
    """
    st = state.copy()
    B, A = arr.valid.shape
    acts = np.full((B, A), -1, np.int64)
    total = np.zeros(B)
    for k in range(A):
        obs = observe(st, arr, k, p)
        a = np.asarray(choose(obs, k), dtype=np.int64)
        acts[obs.env, k] = a
        total[obs.env] += oracle_costs(obs, p)[np.arange(len(obs)), a]
        decide(st, obs, a, p)
    return acts, total, (st.backlog_bits * p.gamma / st.f_edge).max(1)


@pytest.mark.parametrize(
    "scenario,greedy,objective",
    [("loadbalance", "min-max-delay", "max-delay"), ("comllm", "oracle", "cost")],
)
def test_slot_objective_never_worse_than_greedy(scenario, greedy, objective):
    p = _params(scenario)
    ga = make_policy("ga:pop=16,gens=8", p)
    assert ga.objective == objective  # auto: max-delay iff local execution is forbidden
    g = make_policy(greedy, p)
    rng = np.random.default_rng(0)
    improved = 0
    for state, arr in _slots(p, seed=3):
        plan = ga.plan_slot(state, arr, rng)
        if arr.width == 0:
            continue
        _, ga_cost, ga_delay = _apply(state, arr, p, lambda obs, k: plan[obs.env, k])
        _, gr_cost, gr_delay = _apply(state, arr, p, lambda obs, k: g.act(obs, None))
        ga_obj, gr_obj = (ga_delay, gr_delay) if objective == "max-delay" else (ga_cost, gr_cost)
        # the GA's own fitness is exactly what the simulator charges for its plan
        np.testing.assert_allclose(ga.best_fitness, ga_obj, rtol=1e-12, atol=0)
        assert (ga_obj <= gr_obj * (1 + 1e-12)).all(), (ga_obj, gr_obj)
        improved += int((ga_obj < gr_obj * (1 - 1e-9)).sum())
        # the plan only uses allowed locations on real tasks
        lo = 0 if p.allow_local else 1
        assert ((plan[arr.valid] >= lo) & (plan[arr.valid] <= p.n_servers)).all()
    assert improved > 0  # the search does more than copy the greedy plan


def test_fitness_of_seeds_matches_simulator():
    """Cost objective with local tasks of the same user in one slot: sequential N_e, L_e, local wait."""
    p = _params("comllm", **{"task.rate": 1.5})  # several tasks per user per slot
    ga = make_policy("ga:pop=8,gens=0", p)
    rng = np.random.default_rng(1)
    for state, arr in _slots(p, seed=4, n_slots=4, batch=3):
        ga.plan_slot(state, arr, rng)
        for plan in (rng.integers(0, p.n_servers + 1, arr.valid.shape), np.zeros(arr.valid.shape, np.int64)):
            _, cost, _ = _apply(state, arr, p, lambda obs, k: plan[obs.env, k])
            np.testing.assert_allclose(ga.fitness(plan[:, None, :])[:, 0], cost, rtol=1e-12, atol=0)


def test_act_follows_plan_and_falls_back():
    p = _params("loadbalance")
    ga = make_policy("ga:pop=8,gens=3,cx=one-point", p)
    state, arr = next(_slots(p, seed=5, n_slots=1))
    plan = ga.plan_slot(state, arr, np.random.default_rng(0))
    acts, _, _ = _apply(state, arr, p, lambda obs, k: ga.act(obs, None))
    np.testing.assert_array_equal(acts[arr.valid], plan[arr.valid])
    # no plan for these rows (hand-made envs): the greedy rule, never local
    ga.reset(4)
    obs = observe(state, arr, 0, p)
    np.testing.assert_array_equal(ga.act(obs, None), make_policy("min-max-delay", p).act(obs, None))


def test_ga_beats_random_on_loadbalance():
    sc = load_scenario("loadbalance", SHORT)
    ga = run_policy(sc, "ga", episodes=4, seed=0).metrics["avg_max_server_delay_s"]
    rnd = run_policy(sc, "random", episodes=4, seed=0).metrics["avg_max_server_delay_s"]
    assert ga < 0.5 * rnd, (ga, rnd)


@pytest.mark.parametrize("spec", ["ga:pop=8,gens=4", "ga:pop=8,gens=4,objective=max-delay,cx=one-point"])
def test_valid_actions_and_determinism_comllm(spec):
    sc = load_scenario("comllm", SHORT)  # run_policy rejects out-of-range actions with PolicyError
    a = run_policy(sc, spec, episodes=3, seed=7)
    b = run_policy(sc, spec, episodes=3, seed=7)
    assert a.metrics == b.metrics
    np.testing.assert_array_equal(a.latencies, b.latencies)
    c = run_policy(sc, spec, episodes=3, seed=8)
    assert c.metrics != a.metrics


def test_deterministic_loadbalance_and_never_local():
    sc = load_scenario("loadbalance", SHORT)
    a = run_policy(sc, "ga:pop=8,gens=4", episodes=3, seed=1).metrics
    assert a == run_policy(sc, "ga:pop=8,gens=4", episodes=3, seed=1).metrics
    assert a["offload_0"] == 0 and a["tasks"] > 0


def test_arguments():
    p = _params("comllm")
    ga = make_policy("ga:pop=16,gens=5,mut=0.2,pc=1,cx=onepoint,elite=1,tour=3,objective=max-delay", p)
    assert (ga.pop, ga.gens, ga.mut, ga.pc, ga.cx, ga.elite, ga.tour, ga.objective) == (
        16, 5, 0.2, 1.0, "one-point", 1, 3, "max-delay",
    )
    d = make_policy("ga", p)
    assert (d.pop, d.gens, d.mut, d.cx, d.objective) == (32, 20, 0.1, "uniform", "cost")
    assert make_policy("ga", _params("loadbalance")).objective == "max-delay"
    assert make_policy("ga:pop=8", p).name == "ga:pop=8"


@pytest.mark.parametrize(
    "spec",
    [
        "ga:pop",
        "ga:pop=",
        "ga:pop=x",
        "ga:pop=1",
        "ga:gens=-1",
        "ga:mut=1.5",
        "ga:mut=abc",
        "ga:pc=-0.1",
        "ga:cx=two-point",
        "ga:elite=0",
        "ga:pop=4,elite=5",
        "ga:tour=0",
        "ga:objective=speed",
        "ga:size=3",
        "ga:pop=8,pop=9",
        "ga:pop=2.5",
    ],
)
def test_bad_arguments(spec):
    with pytest.raises(PolicyError) as exc:
        make_policy(spec, _params("comllm"))
    msg = str(exc.value)
    assert msg.startswith("ga argument") and "\n" not in msg
