"""Evaluation: determinism, common random numbers, metrics (seed 001 eqs 28-33)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mecoffload.eval.evaluate import evaluate, policy_seed, run_policy, sweep
from mecoffload.sim.metrics import Accumulator, check_accounting, jain_index
from mecoffload.core import errors
from mecoffload.policies.base import PolicyError, make_policy
from mecoffload.policies.oracle import oracle_costs
from mecoffload.scenario import load_scenario
from mecoffload.sim.dynamics import decide, draw_slot, observe, reset, serve
from mecoffload.sim.params import Params

SHORT = {"sim.horizon_slots": 30}


@pytest.fixture(scope="module")
def comllm4():
    """All policies on comllm, 4 episodes, full horizon (shared by several tests)."""
    sc = load_scenario("comllm")
    return evaluate(sc, ["oracle", "random", "lacs", "least-loaded", "round-robin", "nearest", "local"], episodes=4, seed=0)


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("policy", ["random", "oracle", "lacs"])
def test_run_policy_deterministic(policy):
    sc = load_scenario("comllm", SHORT)
    a = run_policy(sc, policy, episodes=3, seed=5)
    b = run_policy(sc, policy, episodes=3, seed=5)
    assert a.metrics == b.metrics
    np.testing.assert_array_equal(a.latencies, b.latencies)
    np.testing.assert_array_equal(a.max_delay_series, b.max_delay_series)
    c = run_policy(sc, policy, episodes=3, seed=6)
    assert c.metrics != a.metrics
    assert c.metrics["AL_s"] != a.metrics["AL_s"]


def test_evaluate_deterministic_and_matches_run_policy():
    sc = load_scenario("comllm", SHORT)
    r1 = evaluate(sc, ["random", "oracle", "lacs"], episodes=3, seed=1)
    r2 = evaluate(sc, ["random", "oracle", "lacs"], episodes=3, seed=1)
    assert list(r1) == ["random", "oracle", "lacs"]
    for k in r1:
        assert r1[k].metrics == r2[k].metrics
        assert r1[k].name == k
    # same numbers whether a policy runs alone or after others
    assert run_policy(sc, "lacs", episodes=3, seed=1).metrics == r1["lacs"].metrics
    r3 = evaluate(sc, ["random", "oracle", "lacs"], episodes=3, seed=2)
    for k in r1:
        assert r1[k].metrics != r3[k].metrics


def test_evaluate_rejects_unknown_policy_before_running():
    sc = load_scenario("comllm", SHORT)
    with pytest.raises(PolicyError, match="nope"):
        evaluate(sc, ["oracle", "nope"], episodes=1, seed=0)


# --------------------------------------------------------------------------- common random numbers


class _Recorder:
    """Wraps a policy and records everything exogenous in its observations."""

    def __init__(self, inner):
        self.inner, self.name, self.seen = inner, inner.name, []

    def reset(self, batch):
        self.inner.reset(batch)

    def act(self, obs, rng):
        self.seen.append((obs.env.copy(), obs.user.copy(), obs.bits.copy(), obs.rate.copy(), obs.f_edge.copy(), obs.dist.copy()))
        return self.inner.act(obs, rng)


def test_common_random_numbers_through_run_policy():
    sc = load_scenario("comllm", SHORT)
    p = Params.from_scenario(sc)
    recs = [_Recorder(make_policy(name, p)) for name in ("random", "oracle", "local")]
    runs = [run_policy(sc, r, episodes=3, seed=4) for r in recs]
    assert runs[0].metrics["tasks"] == runs[1].metrics["tasks"] == runs[2].metrics["tasks"] > 0
    assert len(recs[0].seen) == len(recs[1].seen) == len(recs[2].seen) > 0
    for a, b, c in zip(recs[0].seen, recs[1].seen, recs[2].seen):
        for x, y, z in zip(a, b, c):
            np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(x, z)
    # the policies did act differently
    assert runs[0].metrics["AL_s"] != runs[1].metrics["AL_s"]


def test_common_random_numbers_per_slot():
    sc = load_scenario("comllm", {"sim.horizon_slots": 20})
    p = Params.from_scenario(sc)
    logs = []
    for name in ("random", "oracle", "lacs"):
        pol = make_policy(name, p)
        state, exo = reset(p, 3, 9)
        pol.reset(3)
        rng = policy_seed(9)
        log = [state.f_edge.copy(), state.user_pos.copy(), state.srv_pos.copy()]
        for _ in range(p.horizon):
            arr = draw_slot(state, p, exo)
            log += [arr.user.copy(), arr.bits.copy(), arr.valid.copy(), state.fade_u.copy()]
            for k in range(arr.width):
                obs = observe(state, arr, k, p)
                decide(state, obs, np.asarray(pol.act(obs, rng)), p)
            serve(state, p)
        logs.append(log)
    assert sum(x.size for x in logs[0]) > 0
    for other in logs[1:]:
        assert len(other) == len(logs[0])
        for x, y in zip(logs[0], other):
            np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------- metrics


def test_jain_index_hand_values():
    assert jain_index(np.array([1, 1, 1, 1])) == pytest.approx(1.0)
    assert jain_index(np.array([5, 0, 0, 0])) == pytest.approx(0.25)
    assert jain_index(np.array([2, 0])) == pytest.approx(0.5)
    assert jain_index(np.array([1, 2, 3])) == pytest.approx(36 / (3 * 14))
    assert jain_index(np.array([3, 1])) == pytest.approx(16 / (2 * 10))
    assert jain_index(np.array([0, 0, 0])) == 0.0
    assert jain_index(np.array([7.0])) == pytest.approx(1.0)


def test_accumulator_decision_and_summary_by_hand():
    p = Params.from_scenario(load_scenario("comllm", {"edge.count": 2}))  # τ = 1 s
    acc = Accumulator(p, 2)
    j_all = np.array([[0.2, 0.4, 1.5], [0.6, 0.3, 0.9]])
    acc.decision(np.array([0, 1]), np.array([1, 0]), j_all)  # chose 0.4 and 0.6
    acc.decision(np.array([1]), np.array([2]), np.array([[2.0, 0.5, 1.2]]))  # chose 1.2 (late)
    np.testing.assert_allclose(acc.j_sum, [0.4, 0.6 + 1.2])
    np.testing.assert_allclose(acc.oracle_sum, [0.2, 0.3 + 0.5])
    np.testing.assert_array_equal(acc.n_dec, [1, 2])
    np.testing.assert_array_equal(acc.n_late, [0, 1])
    np.testing.assert_array_equal(acc.actions, [[0, 1, 0], [1, 0, 1]])
    state, _ = reset(p, 2, 0)
    # env 0: server 2 is the faster one; env 1: server 1 is
    state.f_edge[:] = [[10e9, 20e9], [30e9, 20e9]]
    m = acc.summary(state)
    assert m["tasks"] == 3
    assert m["AL_s"] == pytest.approx((0.4 + 0.6 + 1.2) / 3)
    assert m["AL_slots"] == pytest.approx((0.4 + 0.6 + 1.2) / 3 / 0.1)
    assert m["TDR_pct"] == pytest.approx(100 / 3)
    assert m["PR_pct"] == pytest.approx(100 * (0.2 + 0.3 + 0.5) / (0.4 + 0.6 + 1.2))
    assert m["oracle_cost_slots"] == pytest.approx((0.2 + 0.3 + 0.5) / 3 / 0.1)
    assert m["local_pct"] == pytest.approx(100 / 3)
    # LBI (eq 33) per episode, averaged: env 0 offloads to [1, 0] -> 0.5, env 1 to [0, 1] -> 0.5
    assert m["LBI_pct"] == pytest.approx(50.0)
    # per-server counts ranked by capacity within each episode: both went to the slower server
    assert m["offload_0"] == 1 and m["offload_1"] == 0 and m["offload_2"] == 2
    assert math.isnan(m["realized_mean_s"])


def test_check_accounting_detects_lost_tasks():
    p = Params.from_scenario(load_scenario("comllm"))
    state, _ = reset(p, 2, 0)
    check_accounting(state)
    state.arrived[1] = 1
    with pytest.raises(AssertionError, match="accounting"):
        check_accounting(state)


def test_oracle_pr_is_exactly_100_and_random_below(comllm4):
    assert comllm4["oracle"].metrics["PR_pct"] == 100.0
    for name in ("random", "local", "nearest", "round-robin"):
        assert comllm4[name].metrics["PR_pct"] < 100.0, name
    for run in comllm4.values():
        assert 0 < run.metrics["PR_pct"] <= 100.0 + 1e-9


def test_lacs_close_to_oracle(comllm4):
    al_o = comllm4["oracle"].metrics["AL_s"]
    al_l = comllm4["lacs"].metrics["AL_s"]
    assert abs(al_l - al_o) / al_o < 0.05
    assert comllm4["lacs"].metrics["PR_pct"] > 95.0
    assert comllm4["random"].metrics["AL_s"] > al_o


def test_metrics_are_consistent(comllm4):
    p = Params.from_scenario(load_scenario("comllm"))
    for name, run in comllm4.items():
        m = run.metrics
        n = m["tasks"]
        assert n > 0
        assert sum(m[f"offload_{e}"] for e in range(p.n_servers + 1)) == n
        assert m["completed"] + m["drops_local"] + m["drops_uplink"] + m["drops_edge"] == n
        assert m["completed"] == run.latencies.size
        assert 0 <= m["TDR_pct"] <= 100 and 0 <= m["realized_drop_pct"] <= 100
        assert 0 <= m["LBI_pct"] <= 100 + 1e-9 and 0 <= m["local_pct"] <= 100
        assert m["AL_s"] == pytest.approx(m["AL_slots"] * p.slot_s)
        assert m["oracle_cost_slots"] <= m["AL_slots"] * (1 + 1e-12)
        for e in range(1, p.n_servers + 1):
            assert 0 <= m[f"util_{e}_pct"] <= 100 + 1e-9
        assert (run.latencies > 0).all() and (run.latencies <= p.deadline_s + 1e-9).all()
        assert run.max_delay_series.shape == (p.horizon,)
        assert m["energy_per_task_j"] >= 0
        if m["completed"]:
            assert m["realized_p50_s"] <= m["realized_p95_s"] <= m["realized_p99_s"]
    # identical inputs: every policy decided the same tasks
    assert len({r.metrics["tasks"] for r in comllm4.values()}) == 1
    assert comllm4["local"].metrics["local_pct"] == 100.0
    assert comllm4["oracle"].metrics["oracle_cost_slots"] == pytest.approx(comllm4["oracle"].metrics["AL_slots"])


def test_oracle_costs_match_cost_model_on_real_observations():
    p = Params.from_scenario(load_scenario("loadbalance"))
    state, exo = reset(p, 2, 0)
    arr = draw_slot(state, p, exo)
    obs = observe(state, arr, 0, p)
    j = oracle_costs(obs, p)
    assert j.shape == (len(obs), p.n_servers + 1)
    assert np.isinf(j[:, 0]).all() and np.isfinite(j[:, 1:]).all()


def test_loadbalance_no_local_execution():
    sc = load_scenario("loadbalance", {"sim.horizon_slots": 15})
    runs = evaluate(sc, ["random", "oracle", "least-loaded"], episodes=2, seed=0)  # 'local' is refused here
    for run in runs.values():
        assert run.metrics["offload_0"] == 0 and run.metrics["local_pct"] == 0
        assert run.metrics["drops_local"] == 0
        assert np.isfinite(run.metrics["AL_s"])
    assert runs["oracle"].metrics["PR_pct"] == 100.0


def test_sweep_alias_and_fixed_size():
    sc = load_scenario("comllm", {"sim.horizon_slots": 5})
    out = sweep(sc, "E", [2, 3], ["oracle"], episodes=1, seed=0)
    assert list(out) == ["2", "3"]
    assert "offload_2" in out["2"]["oracle"] and "offload_3" not in out["2"]["oracle"]
    assert "offload_3" in out["3"]["oracle"]
    out = sweep(sc, "task.size_mbit", [1.0], ["oracle"], episodes=1, seed=0)
    assert out["1.0"]["oracle"]["tasks"] >= 0


def test_progress_callback_counts_slots():
    sc = load_scenario("comllm", {"sim.horizon_slots": 7})
    calls = []
    run_policy(sc, "oracle", episodes=1, seed=0, progress=calls.append)
    assert sum(calls) == 7


def test_bad_policy_actions_are_rejected():
    sc = load_scenario("loadbalance", {"sim.horizon_slots": 3})

    class Bad:
        name = "bad"

        def reset(self, batch):
            pass

        def act(self, obs, rng):
            return np.zeros(len(obs), np.int64)  # local, forbidden here

    with pytest.raises(errors.PolicyError, match="bad"):
        run_policy(sc, Bad(), episodes=1, seed=0)

    class Short(Bad):
        def act(self, obs, rng):
            return np.ones(len(obs) + 1, np.int64)

    with pytest.raises(errors.PolicyError):
        run_policy(sc, Short(), episodes=1, seed=0)


def test_evaluate_takes_built_policies_and_sweep_points_resolve_aliases():
    sc = load_scenario("comllm", SHORT)
    p = Params.from_scenario(sc)
    built = evaluate(sc, [make_policy("oracle", p), "random"], episodes=2, seed=3)
    assert built["oracle"].metrics == evaluate(sc, ["oracle"], episodes=2, seed=3)["oracle"].metrics
    from mecoffload.eval.evaluate import sweep_points

    points = sweep_points(sc, "E", [3, 5])
    assert [label for label, _ in points] == ["3", "5"] and points[1][1].edge.count == 5
    assert tuple(sweep_points(sc, "task.size_mbit", [2.0])[0][1].task.size_mbit) == (2.0, 2.0)
