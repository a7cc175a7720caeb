"""Gymnasium wrappers of the dynamics: OffloadEnv and OffloadVectorEnv."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mecoffload.eval.evaluate import run_policy
from mecoffload.sim.metrics import check_accounting
from mecoffload.policies.oracle import OraclePolicy
from mecoffload.scenario import load_scenario
from mecoffload.sim.dynamics import SimState, decide, draw_slot, observe, reset, serve
from mecoffload.sim.env import OBS_HIGH, OffloadEnv, OffloadVectorEnv
from mecoffload.sim.envbatch import put_rows, take_rows
from mecoffload.sim.params import Params


def rollout(env: OffloadEnv, seed: int, actions: np.ndarray, **reset_kw):
    obs, _ = env.reset(seed=seed, **reset_kw)
    out_obs, out_r = [obs], []
    for a in actions:
        obs, r, term, trunc, _ = env.step(int(a))
        out_obs.append(obs)
        out_r.append(r)
        if trunc:
            break
    return np.stack(out_obs), np.array(out_r)


def test_check_env_passes_without_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(OffloadEnv(), skip_render_check=True)  # no render modes, no spec
    assert [str(w.message) for w in caught] == []


def test_spaces_and_layout():
    env = OffloadEnv()
    H, E = env.scenario.sim.history_slots, env.scenario.edge.count
    assert env.observation_space.shape == (5 + E * (7 + H),)
    assert env.observation_space.dtype == np.float32
    assert env.observation_space.low.min() == 0.0 and env.observation_space.high.max() == OBS_HIGH
    assert env.action_space.n == E + 1
    assert len(env.feature_names) == env.observation_space.shape[0]
    obs, info = env.reset(seed=3)
    assert info["slot"] == 0 and obs[4] == 0.0  # first slot
    assert obs[3] == pytest.approx(1.0)  # deadline in units of the deadline
    assert env.last_obs is not None and len(env.last_obs) == 1
    srv = obs[5:].reshape(E, 7 + H)
    assert np.all(srv[:, 0] == 1.0)  # valid flags
    assert env.observation_space.contains(obs)
    with pytest.raises(RuntimeError):
        OffloadEnv().step(0)


def test_same_seed_same_rollout_different_seed_differs():
    acts = np.random.default_rng(0).integers(0, 7, 150)
    o1, r1 = rollout(OffloadEnv(), 11, acts)
    o2, r2 = rollout(OffloadEnv(), 11, acts)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    o3, r3 = rollout(OffloadEnv(), 12, acts)
    n = min(len(r1), len(r3))
    assert not np.array_equal(o1[:n], o3[:n])
    assert not np.array_equal(r1[:n], r3[:n])


def test_seed_none_draws_from_np_random():
    env = OffloadEnv()
    a, _ = env.reset()
    b, _ = env.reset()
    assert not np.array_equal(a, b)


def test_oracle_episode_matches_run_policy():
    """With seed s, the env replays run_policy(episodes=1, seed=s) decision by decision."""
    sc = load_scenario("comllm", {"sim.horizon_slots": 40})
    env = OffloadEnv(sc)
    env.reset(seed=5)
    js, trunc = [], False
    while not trunc:
        _, r, _, trunc, info = env.step(int(np.argmin(env.estimated_costs_slots())))
        js.append(info["J_slots"])
        assert r == -info["J_slots"] and info["J_slots"] == info["oracle_J_slots"]
    m = run_policy(sc, "oracle", episodes=1, seed=5).metrics
    assert len(js) == m["tasks"]
    assert np.mean(js) == pytest.approx(m["AL_slots"], rel=1e-12)


@pytest.mark.parametrize("max_servers", [None, 9])
def test_reject_action_replays_the_admission_oracle(max_servers):
    """With cost.allow_reject the last action (M+1) rejects, also when servers are padded (E < M):
    acting on the argmin of the estimated costs replays the queue oracle with admission control."""
    sc = load_scenario("comllm", {"sim.horizon_slots": 40, "cost.model": "queue", "cost.allow_reject": True,
                                  "task.rate": 0.6})
    env = OffloadEnv(sc, reward="realized", max_servers=max_servers)
    m_ = env.max_servers
    assert env.action_space.n == m_ + 2 and env.action_masks()[-1]
    env.reset(seed=3)
    chosen, trunc, credited = [], False, 0.0
    while not trunc:
        a = int(np.argmin(env.estimated_costs_slots()))
        _, r, _, trunc, info = env.step(a)
        chosen.append(a)
        credited += r
    m = run_policy(sc, "oracle", episodes=1, seed=3).metrics
    assert len(chosen) == m["tasks"]
    assert chosen.count(m_ + 1) == m["drops_rejected"] > 0
    assert int(env.state.rejected.sum()) == m["drops_rejected"]
    assert credited < 0


def test_vector_env_reject_action():
    v = OffloadVectorEnv(3, "comllm", max_servers=8, overrides={"cost.allow_reject": True})
    v.reset(seed=1)
    assert v.single_action_space.n == 10 and v.action_masks()[:, -1].all()
    _, r, _, _, info = v.step(np.full(3, 9))
    assert int(v.state.rejected.sum()) == 3 and (info["action"] == 9).all()
    p = v.params
    assert np.allclose(r, -(p.deadline_s + p.rho_s) / p.slot_s)  # J of reject: τ_max + ρ (eq 11 with reject)


def test_reject_action_out_of_space_without_admission():
    env = OffloadEnv("comllm")
    env.reset(seed=0)
    assert env.action_space.n == env.max_servers + 1
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(env.max_servers + 1)


def test_n_servers_changes_per_reset():
    env = OffloadEnv(max_servers=11)
    H = env.scenario.sim.history_slots
    assert env.action_space.n == 12
    for e in (3, 9, 3):
        obs, info = env.reset(seed=1, options={"n_servers": e})
        assert info["n_servers"] == e == env.n_servers
        mask = env.action_masks()
        assert mask.tolist() == [True] + [True] * e + [False] * (11 - e)
        srv = obs[5:].reshape(11, 7 + H)
        assert np.all(srv[:e, 0] == 1.0) and np.all(srv[e:] == 0.0)
        assert env.last_obs.n_servers == e
        j = env.estimated_costs_slots()
        assert np.all(np.isfinite(j[: e + 1])) and np.all(np.isinf(j[e + 1 :]))
        for _ in range(30):
            obs, _, _, _, info = env.step(int(np.random.default_rng(e).integers(1, e + 1)))
            assert not info["invalid_action"] and info["n_servers"] == e
    env.reset(seed=1)  # options are per reset: back to the scenario's edge.count
    assert env.n_servers == env.scenario.edge.count
    with pytest.raises(ValueError, match="n_servers"):
        env.reset(options={"n_servers": 12})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"servers": 3})
    with pytest.raises(ValueError, match="max_servers"):
        OffloadEnv(max_servers=3)


def test_masked_action_falls_back_and_out_of_space_raises():
    env = OffloadEnv(max_servers=11)
    env.reset(seed=0, options={"n_servers": 3})
    _, _, _, _, info = env.step(7)  # padded server
    assert info["invalid_action"] and info["action"] == 0
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(12)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(-1)
    edge_only = OffloadEnv("loadbalance")
    assert not edge_only.action_masks()[0]
    edge_only.reset(seed=0)
    _, _, _, _, info = edge_only.step(0)  # local is forbidden here
    assert info["invalid_action"] and info["action"] == 1
    assert np.isinf(edge_only.estimated_costs_slots()[0])


def test_lacs_reward_never_exceeds_cost_reward():
    """Same seed and actions ⇒ same states; LACS adds λ·C_impact ≥ 0 to J."""
    cost, lacs = OffloadEnv(reward="cost"), OffloadEnv(reward="lacs")
    o1, _ = cost.reset(seed=4)
    o2, _ = lacs.reset(seed=4)
    rng = np.random.default_rng(4)
    gaps = []
    for _ in range(200):
        a = int(rng.integers(0, 7))
        o1, r1, _, t1, i1 = cost.step(a)
        o2, r2, _, t2, i2 = lacs.step(a)
        np.testing.assert_array_equal(o1, o2)
        assert i1["J_slots"] == i2["J_slots"]
        assert r1 == -i1["J_slots"]
        assert r2 <= r1
        gaps.append(r1 - r2)
        if t1:
            cost.reset(seed=5)
            lacs.reset(seed=5)
    assert np.mean(gaps) > 0


def test_oracle_beats_random():
    def mean_reward(policy: str) -> float:
        env = OffloadEnv()
        env.reset(seed=21)
        rng = np.random.default_rng(0)
        rs = []
        for i in range(500):
            if policy == "oracle":
                a = int(np.argmin(env.estimated_costs_slots()))
            else:
                a = int(rng.choice(np.flatnonzero(env.action_masks())))
            _, r, _, trunc, _ = env.step(a)
            rs.append(r)
            if trunc:
                env.reset(seed=22 + i)
        return float(np.mean(rs))

    assert mean_reward("oracle") > mean_reward("random")


def test_vector_env_random_actions_autoreset():
    n = 8
    venv = OffloadVectorEnv(n, overrides={"sim.horizon_slots": 15}, max_servers=9)
    obs, info = venv.reset(seed=0, options={"n_servers": 5})
    assert obs.shape == (n, venv.single_observation_space.shape[0]) and obs.dtype == np.float32
    assert venv.observation_space.contains(obs)
    rng = np.random.default_rng(0)
    prev_trunc = np.zeros(n, bool)
    n_trunc = 0
    for _ in range(200):
        masks = venv.action_masks()
        assert masks.shape == (n, 10) and masks[:, 6:].sum() == 0
        acts = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        obs, rew, term, trunc, info = venv.step(acts)
        assert venv.observation_space.contains(obs)
        assert not term.any()
        # next-step autoreset: envs truncated last step were reset now, their action ignored
        np.testing.assert_array_equal(info["_J_slots"], ~prev_trunc)
        assert np.all(rew[prev_trunc] == 0.0) and not trunc[prev_trunc].any()
        assert np.all(obs[prev_trunc, 4] < 1.0)  # a fresh episode (slot 0, or later if slot 0 had no arrival)
        assert np.all(venv.state.arrived[prev_trunc] == 0)
        assert np.all(rew[~prev_trunc] == -info["J_slots"][~prev_trunc])
        assert not info["invalid_action"].any()
        np.testing.assert_array_equal(info["n_servers"], 5)
        check_accounting(venv.state)
        prev_trunc = trunc
        n_trunc += trunc.sum()
    assert n_trunc >= n  # every env went through at least one episode end
    with pytest.raises(ValueError):
        venv.step(np.full(n, 10))
    with pytest.raises(ValueError):
        venv.step(np.zeros(n + 1, np.int64))


def test_vector_env_deterministic_and_single_env_equivalent():
    acts = np.random.default_rng(1).integers(0, 7, (120, 4))

    def run(seed):
        v = OffloadVectorEnv(4, overrides={"sim.horizon_slots": 20})
        o, _ = v.reset(seed=seed)
        out = [o]
        for a in acts:
            o, r, _, _, _ = v.step(a)
            out.append(o)
            out.append(r[:, None].astype(np.float32).repeat(o.shape[1], 1))
        return np.stack(out)

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))

    # a batch of one is exactly OffloadEnv with the same seed and actions
    single, vec = OffloadEnv(), OffloadVectorEnv(1)
    o1, _ = single.reset(seed=9)
    o2, _ = vec.reset(seed=9)
    np.testing.assert_array_equal(o1, o2[0])
    for a in acts[:100, 0]:
        o1, r1, _, t1, _ = single.step(int(a))
        o2, r2, _, t2, _ = vec.step(np.array([a]))
        np.testing.assert_array_equal(o1, o2[0])
        assert r1 == r2[0] and t1 == t2[0]
        if t1:
            break


def _padded_equal(a: SimState, b: SimState) -> bool:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x.shape != y.shape:
            w = max(x.shape[-1], y.shape[-1])
            x = np.concatenate([x, np.zeros(x.shape[:-1] + (w - x.shape[-1],), x.dtype)], -1)
            y = np.concatenate([y, np.zeros(y.shape[:-1] + (w - y.shape[-1],), y.dtype)], -1)
        if not np.array_equal(x, y):
            return False
    return True


def test_serving_a_sub_batch_equals_serving_the_whole_batch():
    """The vector env's design rests on this: envs are independent in ``serve``."""
    p = Params.from_scenario(load_scenario("comllm", {"task.rate": 1.0}))
    state, exo = reset(p, 6, 0)
    pol = OraclePolicy(p)
    for _ in range(8):
        arr = draw_slot(state, p, exo)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            decide(state, obs, pol.act(obs, None), p)
        serve(state, p)
    arr = draw_slot(state, p, exo)
    for k in range(arr.width):
        obs = observe(state, arr, k, p)
        decide(state, obs, pol.act(obs, None), p)
    before = state.copy()
    full = state.copy()
    serve(full, p)
    rows = np.array([1, 3, 4])
    part = state.copy()
    sub = take_rows(part, rows)
    serve(sub, p)
    put_rows(part, rows, sub)
    assert _padded_equal(take_rows(part, rows), take_rows(full, rows))
    others = np.array([0, 2, 5])
    assert _padded_equal(take_rows(part, others), take_rows(before, others))
    assert float(np.abs(before.backlog_bits[rows] - full.backlog_bits[rows]).sum()) > 0  # serve did something
