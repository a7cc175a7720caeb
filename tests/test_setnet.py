"""setnet: permutation equivariance, any topology, checkpoint round trip, and 'can it learn'."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="setnet needs the rl extra (make test installs it)")

from mecoffload.eval.evaluate import run_policy  # noqa: E402
from mecoffload.learn.setnet import SetNetConfig, train  # noqa: E402
from mecoffload.policies.base import PolicyError, make_policy  # noqa: E402
from mecoffload.policies.setnet import build_setnet, set_features  # noqa: E402
from mecoffload.scenario import load_scenario  # noqa: E402
from mecoffload.sim.dynamics import draw_slot, observe, reset  # noqa: E402
from mecoffload.sim.params import Params  # noqa: E402

TINY = SetNetConfig(envs=32, imitation_slots=200, imitation_epochs=6, grpo_iters=4, grpo_slots=1)


def _obs(n_servers: int, seed: int = 0):
    p = Params.from_scenario(load_scenario("comllm", {"edge.count": n_servers}))
    state, exo = reset(p, 16, seed)
    arr = draw_slot(state, p, exo)
    return observe(state, arr, 0, p), p


def test_permutation_equivariant_and_any_topology():
    torch.manual_seed(0)
    net = build_setnet(16)
    for e in (1, 3, 6, 11):
        obs, p = _obs(e)
        task, server = set_features(obs, p)
        logits = net(torch.from_numpy(task), torch.from_numpy(server))
        assert logits.shape == (len(obs), e + 1)
        perm = np.random.default_rng(e).permutation(e)
        logits_p = net(torch.from_numpy(task), torch.from_numpy(server[:, perm]))
        torch.testing.assert_close(logits_p[:, 1:], logits[:, 1:][:, perm], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(logits_p[:, 0], logits[:, 0], rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("setnet")
    sc = load_scenario("comllm", {"sim.horizon_slots": 30})
    summary = train(sc, out, None, seed=0, config=SetNetConfig(**vars(TINY)))
    return out, summary


def test_checkpoint_files_and_roundtrip(tiny_ckpt):
    out, summary = tiny_ckpt
    for f in ("model.safetensors", "config.json", "curve.png"):
        assert (out / f).stat().st_size > 0
    assert not any(out.glob("*.pt")) and not any(out.glob("*.pkl"))
    obs, p = _obs(6)
    a1 = make_policy(f"setnet:{out}", p).act(obs, np.random.default_rng(0))
    a2 = make_policy(f"setnet:{out}", p).act(obs, np.random.default_rng(1))
    np.testing.assert_array_equal(a1, a2)  # greedy: deterministic
    assert a1.min() >= 0 and a1.max() <= 6


def test_can_it_learn_beats_random(tiny_ckpt):
    """A few seconds of training must beat `random` clearly on estimated AL, at E=6 and zero-shot E=3."""
    out, _ = tiny_ckpt
    for e in (6, 3):
        sc = load_scenario("comllm", {"edge.count": e, "sim.horizon_slots": 40})
        learned = run_policy(sc, f"setnet:{out}", episodes=4, seed=11).metrics
        rnd = run_policy(sc, "random", episodes=4, seed=11).metrics
        assert learned["AL_slots"] < 0.85 * rnd["AL_slots"], (e, learned["AL_slots"], rnd["AL_slots"])
        assert learned["PR_pct"] > 90.0, (e, learned["PR_pct"])


def test_setnet_respects_forbidden_local(tiny_ckpt):
    out, _ = tiny_ckpt
    sc = load_scenario("loadbalance", {"sim.horizon_slots": 10})
    m = run_policy(sc, f"setnet:{out}", episodes=2, seed=0).metrics
    assert m["offload_0"] == 0


def test_bad_arguments(tmp_path):
    p = Params.from_scenario(load_scenario("comllm"))
    with pytest.raises(PolicyError, match="setnet:PATH"):
        make_policy("setnet", p)
    from mecoffload.learn.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="no setnet checkpoint"):
        make_policy(f"setnet:{tmp_path}", p)


def test_grpo_core_forbidden_action_adds_no_nan():
    """A forbidden action (log-prob −inf in π_θ and π_ref) adds nothing to the exact KL nor NaN to its gradient."""
    from mecoffload.learn.grpo_core import grpo_loss

    theta = torch.tensor([[0.0, 1.0, 2.0]], requires_grad=True)
    forbid = torch.tensor([[float("-inf"), 0.0, 0.0]])
    logp = torch.log_softmax(theta + forbid, -1)
    ref = torch.log_softmax(torch.tensor([[0.0, 0.5, 0.2]]) + forbid, -1)
    loss, kl = grpo_loss(logp, logp.detach(), ref, torch.tensor([[1, 2]]), torch.tensor([[1.0, -1.0]]), 0.2, 0.5)
    loss.backward()
    assert torch.isfinite(kl) and torch.isfinite(theta.grad).all() and theta.grad[0, 0] == 0
