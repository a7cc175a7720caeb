"""The queue-aware cost model (cost.model = "queue"), the Obs queue view, admission control
(cost.allow_reject) and the estimation error of a cost model against the queue simulation."""

import dataclasses

import numpy as np
import pytest

from mecoffload.core.errors import ScenarioError
from mecoffload.eval.evaluate import evaluate
from mecoffload.sim.cost import _exp_e1, estimated_j, mean_uplink_rate, oracle_costs, queue_costs
from mecoffload.sim.dynamics import decide, draw_slot, observe, reset, serve
from mecoffload.sim.metrics import check_accounting, estimation_error
from mecoffload.sim.params import Params
from mecoffload.sim.rollout import decisions, drive
from mecoffload.sim.scenario import load_scenario


def params(*sets: str) -> Params:
    return Params.from_scenario(load_scenario("comllm", list(sets)))


def test_queue_costs_by_hand():
    p = params("cost.model=queue")  # Δt = 0.1 s, γ = 297 cycles/bit, f_loc = 2 GHz
    d, gamma = 2e6, p.gamma
    w = d * gamma
    # server 1: 2 tasks in service with 4e9 cycles: both finish before the task gets there
    # server 2: 2 tasks with 1.6e10 cycles: 5e9 cycles left each when it arrives
    c = queue_costs(np.array([d]), np.array([0.02]), np.array([[1e7, 1e7]]), np.array([0.05]),
                    np.array([[2e10, 2e10]]), np.array([[2.0, 2.0]]), np.array([[4e9, 1.6e10]]), p)
    start = 0.05 + d / 1e7 + 0.05  # own FIFO wait + D/R̄ + half a slot of hand-over
    assert c.shape == (1, 3)
    assert c[0, 0] == pytest.approx(0.02 + w / p.f_loc)
    assert c[0, 1] == pytest.approx(start + w / 2e10)
    assert c[0, 2] == pytest.approx(start + 3 * w / 2e10)  # w < 5e9 left: each of the 2 gets w too


def test_mean_rate_is_the_ergodic_mean():
    rng = np.random.default_rng(1)
    g = rng.exponential(size=2_000_000)
    for snr in (0.5, 20.0, 3e4):
        mc = 1e6 * np.log2(1 + snr * g).mean()
        assert mean_uplink_rate(np.array(snr), 1e6, True) == pytest.approx(mc, rel=2e-3)
    assert mean_uplink_rate(np.array(7.0), 1e6, False) == pytest.approx(3e6)
    # e^z E1(z): two known values (Abramowitz & Stegun 5.1): E1(1) = 0.219383934395520, E1(0.5) = 0.559773594776161
    assert _exp_e1(np.array([1.0, 0.5])) == pytest.approx(np.exp([1.0, 0.5]) * [0.219383934395520, 0.559773594776161], rel=1e-13)


def _one_round(p: Params, seed: int = 0, slots: int = 12):
    state, exo = reset(p, 6, seed)
    for _ in range(slots):
        arr = draw_slot(state, p, exo)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            decide(state, obs, np.argmin(oracle_costs(obs, p), axis=1), p)
        serve(state, p)
    arr = draw_slot(state, p, exo)
    return state, observe(state, arr, 0, p)


def test_obs_queue_view_matches_the_state():
    p = params("task.rate=0.8")
    state, obs = _one_round(p)
    b, u = obs.env, obs.user
    assert np.array_equal(obs.n_uploading + obs.n_in_service, obs.n_active)
    assert np.array_equal(obs.n_in_service, state.eq_n[b].astype(float))
    np.testing.assert_allclose(obs.backlog_cycles, state.eq_cyc[b].sum(-1))
    np.testing.assert_allclose(obs.uplink_bits, state.uq_bits[b, u].sum(-1))
    rate = np.take_along_axis(state.mean_rate[b, u], state.uq_dest[b, u], 1)
    np.testing.assert_allclose(obs.uplink_wait_s, (state.uq_bits[b, u] / rate).sum(-1))
    assert obs.uplink_bits.max() > 0 and obs.n_uploading.max() > 0  # the case is not trivial


def test_paper_model_is_seed_001s():
    p = params()
    _, obs = _one_round(p)
    j = estimated_j(obs.bits, obs.rate, obs.local_wait_s, obs.f_edge, obs.n_active, obs.backlog_bits, p)
    assert np.array_equal(oracle_costs(obs, p), j)
    q = dataclasses.replace(p, cost_model="queue")
    assert not np.allclose(oracle_costs(obs, q), j)


def test_reject_exactly_when_no_location_meets_the_deadline():
    p = params("cost.model=queue", "cost.allow_reject=true", "task.rate=1.5")
    _, obs = _one_round(p, slots=20)
    j = oracle_costs(obs, p)
    assert j.shape[1] == p.n_servers + 2 and p.n_actions == p.n_servers + 2
    late = (j[:, :-1] > p.deadline_s + 1e-9).all(1)
    assert np.array_equal(np.argmin(j, 1) == p.n_servers + 1, late)


def test_rejections_end_tasks_and_count_as_drops():
    p = params("cost.model=queue", "cost.allow_reject=true", "task.rate=1.2")
    state, exo = reset(p, 4, 3)
    drive(decisions(state, exo, p, 40), lambda obs: np.argmin(oracle_costs(obs, p), 1))
    drive(decisions(state, exo, p, p.deadline_slots, arrivals=False), lambda obs: np.argmin(oracle_costs(obs, p), 1))
    check_accounting(state)
    assert state.rejected.sum() > 0 and state.in_flight().sum() == 0
    sc = load_scenario("comllm", ["cost.model=queue", "cost.allow_reject=true", "task.rate=1.2", "sim.horizon_slots=40"])
    m = evaluate(sc, ["oracle"], 2, 0, None)["oracle"].metrics
    ended = m["completed"] + m["drops_local"] + m["drops_uplink"] + m["drops_edge"] + m["drops_rejected"]
    assert m["drops_rejected"] > 0
    assert m["realized_drop_pct"] == pytest.approx(100 * (ended - m["completed"]) / ended)


def test_no_reject_action_without_allow_reject():
    p = params()
    state, exo = reset(p, 2, 0)
    arr = draw_slot(state, p, exo)
    obs = observe(state, arr, 0, p)
    with pytest.raises(ValueError):
        decide(state, obs, np.full(len(obs), p.n_servers + 1), p)


def test_estimation_error():
    e = estimation_error(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, -1.0]))  # the last has no estimate
    assert e["est_mae_s"] == pytest.approx(0.25) and e["est_bias_s"] == pytest.approx(0.25)
    assert e["est_mae_pct"] == pytest.approx(100 * 0.25 / 1.5) and e["est_corr"] == pytest.approx(1.0)
    assert np.isnan(estimation_error(np.zeros(0), np.zeros(0))["est_mae_s"])


def test_queue_model_is_closer_to_the_simulation_than_the_paper_model():
    runs = {m: evaluate(load_scenario("comllm", [f"cost.model={m}"]), ["oracle"], 3, 0, None)["oracle"].metrics
            for m in ("paper", "queue")}
    assert runs["queue"]["est_mae_pct"] < 15 < runs["paper"]["est_mae_pct"]
    assert runs["queue"]["realized_drop_pct"] < runs["paper"]["realized_drop_pct"]
    assert runs["queue"]["cost_model"] == "queue"


def test_bad_cost_model_is_a_scenario_error():
    with pytest.raises(ScenarioError, match="cost.model"):
        load_scenario("comllm", ["cost.model=fast"])
