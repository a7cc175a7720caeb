"""Realized rewards (issue 14 item 3): every decided task credited once with its realized cost; the
branched team costs of the setnet GRPO; hindsight transitions of the DQN; feature set 2."""

from __future__ import annotations

import numpy as np
import pytest

from mecoffload.sim.dynamics import reset
from mecoffload.sim.env import OffloadEnv, OffloadVectorEnv
from mecoffload.sim.features import feature_dim, feature_names, flat_features
from mecoffload.sim.params import Params
from mecoffload.sim.realized import drop_cost_slots
from mecoffload.sim.scenario import load_scenario

QUEUE = {"cost.model": "queue", "task.rate": 0.6, "sim.horizon_slots": 60}


def test_every_task_credited_once_with_its_outcome():
    env = OffloadVectorEnv(4, "comllm", reward="realized", overrides=QUEUE)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    credited, total_r, seen = [], 0.0, set()
    decided = 0
    for _ in range(150):
        _, r, _, trunc, info = env.step(rng.integers(0, 7, 4))
        total_r += r.sum()
        decided += info["_task_id"].sum()
        credited.append(env.pop_credits())
        if trunc.any():
            break
    env_, tid, cost = (np.concatenate(x) for x in zip(*credited))
    keys = set(zip(env_.tolist(), tid.tolist()))
    assert len(keys) == len(tid)  # each task once
    st, p = env.state, env.params
    drops = int(st.dropped.sum())
    assert int((cost == drop_cost_slots(p)).sum()) == drops > 0
    assert int((cost < drop_cost_slots(p)).sum()) == int(st.completed.sum())
    assert np.isclose(total_r, -cost.sum())  # the step rewards are the same credits, delayed
    assert len(tid) + int(st.in_flight().sum()) == decided == int(st.arrived.sum())


def test_single_env_realized_reward_and_default_unchanged():
    a, b = OffloadEnv("comllm", reward="realized"), OffloadEnv("comllm")
    oa, _ = a.reset(seed=1)
    ob, _ = b.reset(seed=1)
    np.testing.assert_array_equal(oa, ob)
    rs = []
    for i in range(60):
        _, ra, _, _, ia = a.step(1 + i % 6)
        _, rb, _, _, ib = b.step(1 + i % 6)
        assert ia["task_id"] == i and rb == -ib["J_slots"]
        rs.append(ra)
    assert min(rs) < 0 and max(rs) == 0.0  # some steps learn an outcome, others none yet


def test_feature_set_2_extends_set_1():
    p = Params.from_scenario(load_scenario("comllm", ["cost.model=queue"]))
    env = OffloadEnv("comllm", features=2, overrides={"cost.model": "queue"})
    env.reset(seed=0)
    for _ in range(30):
        env.step(1)
    obs, t = env.last_obs, env.state.t
    f1, f2 = flat_features(obs, t, p, 6, 1), flat_features(obs, t, p, 6, 2)
    assert f2.shape == (1, feature_dim(6, 5, 2)) == (1, len(feature_names(6, 5, 2)))
    n1, n2 = feature_names(6, 5, 1), feature_names(6, 5, 2)
    for i, name in enumerate(n1):  # every set-1 feature is in set 2 with the same value
        assert f2[0, n2.index(name)] == f1[0, i]
    with pytest.raises(ValueError, match="feature set"):
        flat_features(obs, t, p, 6, 3)


def test_branch_costs_common_random_numbers():
    torch = pytest.importorskip("torch")
    from mecoffload.learn.realized import Episodes, branch_costs

    p = Params.from_scenario(load_scenario("comllm", ["cost.model=queue", "task.rate=0.5"]))
    eps = Episodes([p], 6, 0)
    for _ in range(20):
        obs = eps.obs()
        eps.send(obs, np.ones(len(obs), np.int64))
    obs = eps.obs()
    before = eps.state.copy()
    acts = np.tile(np.arange(7), (len(obs), 1))
    acts[:, 1] = acts[:, 0]  # two copies with the same action must cost the same
    c = branch_costs(eps.state, eps.arr, eps.k, obs, acts, p, lambda o: np.ones(len(o), np.int64), 2, 5)
    assert c.shape == (len(obs), 7) and np.all(c > 0)
    np.testing.assert_array_equal(c[:, 0], c[:, 1])
    assert np.any(np.ptp(c, axis=1) > 0)
    np.testing.assert_array_equal(eps.state.lq_n, before.lq_n)  # the state itself is untouched
    c2 = branch_costs(eps.state, eps.arr, eps.k, obs, acts, p, lambda o: np.ones(len(o), np.int64), 2, 5)
    np.testing.assert_array_equal(c, c2)
    del torch


def test_hindsight_releases_on_credit_and_forgets_resets():
    from mecoffload.learn.realized import Hindsight

    h = Hindsight(2)
    obs = np.arange(8, dtype=np.float32).reshape(4, 2)
    h.add(np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]), obs, np.arange(4), obs + 1, np.zeros(4))
    o, a, c, o2, d = h.credit(np.array([1, 0]), np.array([1, 5]), np.array([3.0, 9.0]))
    assert a.tolist() == [3] and c.tolist() == [3.0] and h.waiting() == 3
    h.reset_envs(np.array([0]))
    assert h.waiting() == 1
    o, a, c, *_ = h.credit(np.array([0]), np.array([0]), np.array([1.0]))  # env 0's new episode: nothing waiting
    assert len(a) == 0


@pytest.mark.parametrize("kind", ["dqn", "setnet"])
def test_shipped_checkpoints_read_their_feature_set(kind):
    """Old checkpoints (no ``feature_set``) read set 1; the realized ones set 2; both act on the same Obs."""
    pytest.importorskip("torch")
    from pathlib import Path

    from mecoffload.policies.base import make_policy

    p = Params.from_scenario(load_scenario("comllm", ["cost.model=queue"]))
    state, exo = reset(p, 3, 0)
    from mecoffload.sim.dynamics import draw_slot, observe

    arr = draw_slot(state, p, exo)
    obs = observe(state, arr, 0, p)
    for folder, version in ((f"checkpoints/{kind}-comllm", 1), (f"checkpoints/{kind}-realized-comllm", 2)):
        if not Path(folder, "config.json").exists():
            pytest.skip(f"{folder} not shipped")
        pol = make_policy(f"{kind}:{folder}", p)
        assert pol.feature_set == version
        a = pol.act(obs, None)
        assert a.shape == (len(obs),) and a.min() >= 0 and a.max() <= p.n_servers


def test_cli_train_reward_realized_and_bad_reward(tmp_path, capsys):
    """``train dqn --reward realized`` writes a feature-set-2 checkpoint that evaluates; a bad or
    unsupported --reward is one error line."""
    pytest.importorskip("torch")
    import json

    from mecoffload.cli import main
    from mecoffload.policies.base import make_policy
    from mecoffload.sim.rollout import run_closed_loop

    out = tmp_path / "dq"
    small = ["--set", "sim.horizon_slots=10", "--set", "edge.count=2", "--set", "cost.model=queue"]
    rc = main(["train", "dqn", *small, "--steps", "600", "--reward", "realized", "--out", str(out), "--json"])
    assert rc == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["reward"] == "realized" and cfg["feature_set"] == 2 and cfg["cost_model"] == "queue"
    assert cfg["input_dim"] == feature_dim(2, 5, 2) - 1  # all but the slot feature
    p = Params.from_scenario(load_scenario("comllm", {"sim.horizon_slots": 10, "edge.count": 2}))
    m = run_closed_loop(p, make_policy(f"dqn:{out}", p), 2, 0).metrics
    assert m["completed"] > 0
    capsys.readouterr()
    for kind, reward in (("dqn", "lacs"), ("setnet", "cost"), ("llm-sft", "realized")):
        assert main(["train", kind, *small, "--reward", reward, "--out", str(tmp_path / kind)]) == 2
        assert not (tmp_path / kind).exists()
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and "--reward" in err[0]


def test_setnet_imitation_set_copies_the_teacher():
    """With ``teacher`` the imitation labels are that oracle's actions on the visited states (some of
    them a doomed task sent to local, which the plain queue oracle would send elsewhere); without it,
    the scenario's oracle (eq 15) as before."""
    pytest.importorskip("torch")
    from rich.progress import Progress

    from mecoffload.learn.setnet import SetNetConfig, _imitation_set, _rollouts
    from mecoffload.policies.base import make_policy
    from mecoffload.sim.cost import oracle_actions
    p = Params.from_scenario(load_scenario("comllm", ["cost.model=queue", "task.rate=0.6", "sim.horizon_slots=30"]))
    teacher = make_policy("oracle:uploads=compete,doomed=local", p)
    seen = {"obs": []}

    def spy(stream):  # the rollout stream, recording each Obs handed to the imitation set
        obs = next(stream)
        while True:
            seen["obs"].append(obs)
            obs = stream.send((yield obs))

    with Progress(disable=True) as bar:
        for name, teach in (("teacher", "uploads=compete,doomed=local"), ("plain", "")):
            seen["obs"] = []
            cfg = SetNetConfig(envs=4, imitation_slots=30, teacher=teach)
            _, _, y = _imitation_set(spy(_rollouts(p, cfg.envs, 0)), p, cfg, np.random.default_rng(0), bar)
            want = np.concatenate([(teacher.act(o, None) if teach else oracle_actions(o, p)) for o in seen["obs"]])
            assert np.array_equal(y, want[:len(y)]), name
            if teach:
                plain = np.concatenate([oracle_actions(o, p) for o in seen["obs"]])[:len(y)]
                assert ((y == 0) & (plain != 0)).any()  # the doomed-to-local rule did act


def test_branch_costs_carry_the_network_of_dnn_tasks():
    """On a DNN-split scenario the branched copies keep each task's network (``Arrivals.net``): the
    same action in two copies costs the same, the state is untouched, and the draw is reproducible."""
    from mecoffload.learn.realized import Episodes, branch_costs
    from mecoffload.policies.dnn import DnnEdgeNearest, DnnLocal

    p = Params.from_scenario(load_scenario("dnn-wifi", None))
    local, edge = DnnLocal(p), DnnEdgeNearest(p)
    rng = np.random.default_rng(0)
    eps = Episodes([p], 4, 0)
    for _ in range(10):
        obs = eps.obs()
        eps.send(obs, local.act(obs, rng))
    obs = eps.obs()
    assert obs.net is not None and len(obs)
    before = eps.state.copy()
    acts = np.stack([local.act(obs, rng), local.act(obs, rng), edge.act(obs, rng)], axis=1)

    def cont(o):
        return local.act(o, rng)

    c = branch_costs(eps.state, eps.arr, eps.k, obs, acts, p, cont, 2, 5)
    assert c.shape == (len(obs), 3) and np.all(np.isfinite(c)) and np.all(c > 0)
    np.testing.assert_array_equal(c[:, 0], c[:, 1])
    np.testing.assert_array_equal(eps.state.lq_n, before.lq_n)
    np.testing.assert_array_equal(c, branch_costs(eps.state, eps.arr, eps.k, obs, acts, p, cont, 2, 5))
