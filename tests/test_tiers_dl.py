"""Seed 002 §IV: rule labeller, dl-tier training that beats random, checkpoints, the adapter."""

from __future__ import annotations

import numpy as np
import pytest

from mecoffload.tiers.adapter import to_obs
from mecoffload.tiers.config import load_tier_scenario
from mecoffload.tiers.dlnet import DlTier, expert_labels, load_dl_checkpoint, save_dl_checkpoint, tier_dataset, train_dl
from mecoffload.tiers.evaluate import run_tier_policy
from mecoffload.tiers.workload import Layout, generate, make_envs

F = np.array([10_000.0, 10_000.0, 20_000.0])


def label(L, s, U=(0.5, 0.5, 0.5), BW=(80.0, 80.0, 80.0), up=100.0, down=100.0):
    return int(expert_labels(np.array([L]), np.array([s]), np.array([U]), np.array([BW]), np.array([up]), np.array([down]), F)[0])


def test_rule_labels_of_section_iv_a():
    assert label(9, 0.9, U=(0.5, 0.5, 0.5)) == 0  # sensitive, small, local edge not busy -> local
    assert label(15, 0.3, BW=(80, 60, 80)) == 1  # moderate, medium, remote bandwidth > 50 -> remote
    assert label(45, 0.1) == 2  # tolerant -> cloud
    assert label(35, 0.5) == 2  # large -> cloud
    assert label(3, 0.2) == 2
    # no rule: AR with a busy local edge -> least seed-002 estimate; cloud 9000/20000 + 12.2/50 = 0.694 s
    # beats remote 0.9 + 0.122 and local 9000/(10000*0.3) = 3 s
    assert label(9, 0.9, U=(0.7, 0.0, 0.0), BW=(80, 100, 50), up=1500, down=25) == 2
    # no rule: Infotainment with a slow MAN, idle remote edge: local 15000/(10000*0.9)=1.67 vs remote 1.5+0.33
    assert label(15, 0.3, U=(0.1, 0.0, 0.9), BW=(80, 40, 20), up=25, down=1000) == 0


def test_dataset_follows_the_rules():
    sc = load_tier_scenario("iot3tier")
    x, y = tier_dataset(sc, 2000, 0)
    assert x.shape == (2000, 10) and set(np.unique(y)) <= {0, 1, 2}
    assert len(np.unique(y)) == 3


@pytest.fixture(scope="module")
def tiny_models():
    sc = load_tier_scenario("iot3tier")
    return train_dl(sc, seed=0, samples=3000, epochs=4, vm_samples=600, vm_epochs=2)


def test_tiny_dl_tier_training_beats_random(tiny_models):
    assert tiny_models.info["tier_val_acc"] > 0.8
    sc = load_tier_scenario("iot3tier", {"sim.horizon_s": 40.0, "sim.warmup_s": 5.0})
    wl = generate(sc, Layout.from_scenario(sc), make_envs(sc, 1, 0, [300]))
    dl, _ = run_tier_policy(sc, DlTier(sc, models=tiny_models), workload=wl)
    rnd, _ = run_tier_policy(sc, "random", workload=wl)
    # random fails where its VM is full; completed tasks are a different mix, so compare failures/throughput
    assert dl["failure_pct"] < rnd["failure_pct"] - 5
    assert dl["completed"] > rnd["completed"]


def test_checkpoint_roundtrip(tmp_path, tiny_models):
    save_dl_checkpoint(tiny_models, tmp_path / "ck")
    m2 = load_dl_checkpoint(tmp_path / "ck")
    x = np.random.default_rng(0).random((5, 10)).astype(np.float32)
    np.testing.assert_allclose(m2.tier_probs(x), tiny_models.tier_probs(x), rtol=1e-6)
    assert (tmp_path / "ck" / "model.safetensors").stat().st_size < 5_000_000


def test_adapter_obs_keeps_seed001_costs_meaningful():
    sc = load_tier_scenario("iot3tier", {"sim.horizon_s": 5.0, "sim.warmup_s": 0.0})
    from mecoffload.tiers.dynamics import TierSim

    sim = TierSim(sc, make_envs(sc, 1, 0, [20]))
    sim._epoch_start()
    ids = np.arange(min(5, sim.wl.n_tasks))
    obs = sim.observe(ids)
    o = to_obs(obs)
    net = obs.up_est + obs.down_est
    np.testing.assert_allclose(o.bits[:, None] / o.rate, net)  # D / R = network delay
    # idle datacenter: D·γ / F_eff (γ = 1, N = 0) = one core's processing time
    core = np.array([obs.lay.vm_mips[obs.lay.vm_dc == d].max() for d in range(obs.lay.n_dc)])
    np.testing.assert_allclose(o.bits[:, None] / o.f_edge, obs.length_mi[:, None] / core[None, :])
    for p in ("oracle", "lacs", "mec:least-loaded", "mec:random"):
        m, _ = run_tier_policy(sc, p, devices=[20])
        assert m["tasks"] > 0
