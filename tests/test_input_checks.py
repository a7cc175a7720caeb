"""Issue 13, the last checks: a policy's needs against the scenario, tier policy arguments,
dl-tier checkpoints validated through ``core.checkpoint``, special files in EdgeCloudSim folders,
learning rates / layer counts / split sizes, and training aborted on a non-finite loss."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mecoffload.core.errors import CheckpointError, PolicyError
from mecoffload.tiers.config import load_tier_scenario
from mecoffload.tiers.policies import make_tier_policy, tier_policies

TIER_NO_ARG = ["random", "utilization-based", "sonmez", "almutairi", "least-utilized", "min-service"]


@pytest.fixture(scope="module")
def tier_sc():
    return load_tier_scenario("iot3tier")


@pytest.mark.parametrize("name", TIER_NO_ARG)
def test_tier_policy_without_argument_refuses_one(name, tier_sc):
    assert name in tier_policies()
    with pytest.raises(PolicyError, match=f"policy '{name}' takes no argument"):
        make_tier_policy(f"{name}:xyz", tier_sc)
    assert make_tier_policy(name, tier_sc).name == name
    assert make_tier_policy(f"{name}:", tier_sc).name == f"{name}:"  # an empty argument is no argument


def test_flores_takes_only_util(tier_sc):
    assert make_tier_policy("flores:util", tier_sc).use_util
    assert not make_tier_policy("flores", tier_sc).use_util
    with pytest.raises(PolicyError, match="must be util"):
        make_tier_policy("flores:cpu", tier_sc)


def test_mec_local_is_refused_on_tiers(tier_sc):
    # the three-tier engines have no local execution: 'local' would silently be datacenter 0
    with pytest.raises(PolicyError, match="forbids local execution"):
        make_tier_policy("mec:local", tier_sc)
    with pytest.raises(PolicyError, match="takes no argument"):
        make_tier_policy("mec:random:xyz", tier_sc)


@pytest.mark.parametrize("arg", ["desc,desc", "/a,/b", "desc,/a,desc", "/a,desc,/b"])
def test_dl_tier_argument_is_folder_and_or_desc(arg, tier_sc):
    from mecoffload.tiers.dlnet import DlTier

    with pytest.raises(PolicyError, match="at most one checkpoint folder"):
        DlTier(tier_sc, arg, models=object())


def _dl_models():
    from mecoffload.tiers.dlnet import TIER_SIZES, VM_SIZES, DlModels

    rng = np.random.default_rng(0)

    def net(sizes):
        return [(rng.standard_normal((a, b)).astype(np.float32), rng.standard_normal(b).astype(np.float32))
                for a, b in zip(sizes[:-1], sizes[1:])]

    return DlModels(net(TIER_SIZES), net(VM_SIZES), {"seed": 0})


def test_dl_checkpoint_records_sizes_and_old_ones_still_load(tmp_path):
    pytest.importorskip("torch")
    from mecoffload.tiers.dlnet import load_dl_checkpoint, save_dl_checkpoint

    m = _dl_models()
    save_dl_checkpoint(m, tmp_path / "ck")
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["tier_sizes"] == [10, 64, 32, 16, 3] and cfg["vm_sizes"] == [13, 32, 16, 1]
    x = np.random.default_rng(1).random((4, 10)).astype(np.float32)
    np.testing.assert_array_equal(load_dl_checkpoint(tmp_path / "ck").tier_probs(x), m.tier_probs(x))
    # a checkpoint written before the sizes were recorded has the built-in widths
    del cfg["tier_sizes"], cfg["vm_sizes"]
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    np.testing.assert_array_equal(load_dl_checkpoint(tmp_path / "ck").tier_probs(x), m.tier_probs(x))
    cfg["tier_layers"] = "4"
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="tier_layers"):
        load_dl_checkpoint(tmp_path / "ck")


def _finishes(fn, *args, timeout_s: float = 20.0):
    """Run ``fn(*args)`` in a daemon thread; return the exception it raised (or None). A call that
    blocks (open() of a FIFO, read of /dev/zero) fails the test instead of hanging it."""
    import threading

    box: dict = {}

    def run():
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            box["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout_s)
    assert not t.is_alive(), f"{fn.__name__}{args} blocked"
    return box.get("exc")


@pytest.mark.parametrize("kind", ["fifo", "device", "socket", "folder"])
def test_every_file_reader_refuses_special_files_before_opening(kind, tmp_path, monkeypatch):
    import os
    import socket

    from mecoffload.core.errors import ScenarioError
    from mecoffload.core.scenario import read_toml
    from mecoffload.ecs.readers import EcsFormatError, read_properties, read_xml

    path = tmp_path / "x"
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "socket":
        monkeypatch.chdir(tmp_path)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind("x")
    else:
        path.mkdir()
    for reader, error in ((read_properties, EcsFormatError), (read_xml, EcsFormatError), (read_toml, ScenarioError)):
        exc = _finishes(reader, path)
        assert isinstance(exc, error), (reader.__name__, exc)
        assert ("is a folder" if kind == "folder" else "not a regular file") in str(exc)
        assert "\n" not in str(exc)


# ---------------------------------------------------------------------- learning rates, layers, splits


@pytest.mark.parametrize("field, value, needle", [
    ("lr_sft", float("nan"), "--lr-sft must be a finite number with 0 < lr_sft <= 1 (got nan)"),
    ("lr_sft", -1e-4, "--lr-sft must be a finite number with 0 < lr_sft <= 1"),
    ("lr_sft", 0.0, "0 < lr_sft"),
    ("lr_grpo", float("inf"), "--lr-grpo must be a finite number"),
    ("lr_grpo", 2.0, "lr_grpo <= 1"),
    ("lr_encoder", True, "lr_encoder"),
    ("lr_grpo_encoder", "1e-3", "lr_grpo_encoder"),
    ("batch", 0, "--batch must be an integer with 1 <= batch"),
    ("layers", 0, "--layers must be an integer with 1 <= layers"),
    ("keep_last", 2, "--keep-last 2 needs --layers N"),
    ("group_size", 1, "group_size"),
    ("augment", 1.5, "--augment"),
])
def test_llm_config_refuses_out_of_range_knobs(field, value, needle):
    from mecoffload.core.errors import UserError
    from mecoffload.llm.sft import LLMConfig

    with pytest.raises(UserError) as exc:
        LLMConfig(**{field: value})
    assert needle in str(exc.value) and "\n" not in str(exc.value)
    LLMConfig(lr_sft=1.0, lr_grpo=1e-9, layers=1, keep_last=1)  # the bounds themselves are allowed


def test_layers_beyond_the_backbone_are_refused(tmp_path):
    pytest.importorskip("transformers")
    from mecoffload.llm import LLMError
    from mecoffload.llm.model import check_layers, decoder_layers, load_backbone

    n = decoder_layers("tiny")
    assert n == len(load_backbone("tiny").model.model.layers)
    with pytest.raises(LLMError, match=f"backbone 'tiny' has {n} decoder layers"):
        check_layers("tiny", 1000)
    with pytest.raises(LLMError, match=r"--layers 1 \+ --keep-last 5"):
        check_layers("tiny", 1, 5)
    check_layers("tiny", n)
    check_layers("tiny", None, 0)
    (tmp_path / "config.json").write_text('{"num_hidden_layers": 30}')  # a local HF folder: read, not loaded
    assert decoder_layers(str(tmp_path)) == 30
    (tmp_path / "config.json").write_text('{"num_hidden_layers": true}')
    with pytest.raises(LLMError, match="num_hidden_layers"):
        decoder_layers(str(tmp_path))


# ---------------------------------------------------------------------- a non-finite loss aborts training


def _nan_after(fn):
    """``fn`` whose result is multiplied by NaN (a diverged loss)."""
    return lambda *a, **k: fn(*a, **k) * float("nan")


def test_finite_loss_guard():
    from mecoffload.learn.guards import TrainingError, finite_loss

    assert finite_loss(0.5, "x loss", 0) == 0.5
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(TrainingError, match="training aborted: the x loss is .* at step 3"):
            finite_loss(bad, "x loss", 2)


@pytest.mark.parametrize("mode, loss_fn", [("text", "cross_entropy"), ("encoder", "nll_loss")])
def test_llm_finetune_aborts_on_a_nan_loss_and_writes_nothing(mode, loss_fn, tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from mecoffload.cli import main

    monkeypatch.setattr(torch.nn.functional, loss_fn, _nan_after(getattr(torch.nn.functional, loss_fn)))
    out = tmp_path / "ck"
    rc = main(["llm", "finetune", "llm-sft", "-b", "tiny", "--mode", mode, "-o", str(out), "--sft-steps", "2",
               "--sft-states", "8", "--batch", "4"])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: training aborted: the SFT loss is nan at step 1") and "--lr-sft" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no checkpoint, no .partial folder


def test_llm_grpo_aborts_on_a_nan_loss(tmp_path, monkeypatch):
    pytest.importorskip("peft")
    from mecoffload.learn.guards import TrainingError
    from mecoffload.llm import grpo
    from mecoffload.llm.sft import LLMConfig
    from mecoffload.scenario import load_scenario

    def nan_loss(*a, **k):
        loss, kl = grpo_loss(*a, **k)
        return loss * float("nan"), kl

    grpo_loss = grpo.grpo_loss
    monkeypatch.setattr(grpo, "grpo_loss", nan_loss)
    cfg = LLMConfig(mode="encoder", sft_states=8, grpo_states=8, test_states=4, batch=4, sft_steps=1)
    with pytest.raises(TrainingError, match=r"GRPO \(j\) loss is nan at step 1"):
        grpo.train(load_scenario("comllm"), tmp_path / "g", 2, 0, backbone="tiny", config=cfg)
    assert not (tmp_path / "g" / "model.safetensors").exists()


def test_setnet_aborts_on_a_nan_loss(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from mecoffload.learn import setnet
    from mecoffload.learn.guards import TrainingError
    from mecoffload.scenario import load_scenario

    sc = load_scenario("comllm", {"sim.horizon_slots": 20, "edge.count": 3})
    tiny = dict(envs=4, imitation_slots=20, imitation_epochs=1, grpo_iters=1, grpo_slots=1)
    with monkeypatch.context() as m:
        m.setattr(torch.nn.functional, "cross_entropy", _nan_after(torch.nn.functional.cross_entropy))
        with pytest.raises(TrainingError, match="imitation loss is nan at step 1"):
            setnet.train(sc, tmp_path / "a", None, 0, config=setnet.SetNetConfig(**tiny))
    from mecoffload.learn import grpo_realized  # setnet's GRPO update lives there

    grpo_loss = grpo_realized.grpo_loss
    monkeypatch.setattr(grpo_realized, "grpo_loss", lambda *a, **k: (grpo_loss(*a, **k)[0] * float("nan"), grpo_loss(*a, **k)[1]))
    with pytest.raises(TrainingError, match="GRPO loss is nan at step 1"):
        setnet.train(sc, tmp_path / "b", None, 0, config=setnet.SetNetConfig(**tiny))
    assert not (tmp_path / "a" / "model.safetensors").exists() and not (tmp_path / "b" / "model.safetensors").exists()


def test_dqn_aborts_on_a_nan_loss(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from mecoffload.learn import dqn
    from mecoffload.learn.guards import TrainingError
    from mecoffload.scenario import load_scenario

    monkeypatch.setattr(torch.nn.functional, "huber_loss", _nan_after(torch.nn.functional.huber_loss))
    cfg = dqn.DQNConfig(steps=400, num_envs=4, learning_starts=100, eps_fraction=0.3, eval_episodes=0)
    sc = load_scenario("comllm", {"sim.horizon_slots": 20, "edge.count": 3})
    with pytest.raises(TrainingError, match="DQN Huber TD loss is nan at step 1"):
        dqn.train(sc, tmp_path / "d", None, 0, False, cfg)
    assert not (tmp_path / "d" / "model.safetensors").exists()


def test_dl_tier_training_aborts_on_a_nan_loss(tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    from mecoffload.cli import main

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", _nan_after(torch.nn.functional.cross_entropy))
    rc = main(["tier-train", "--samples", "100", "--epochs", "1", "--out", str(tmp_path / "ck")])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and "TierSelectionNN loss is nan at step 1" in lines[0], lines
    assert list(tmp_path.iterdir()) == []
