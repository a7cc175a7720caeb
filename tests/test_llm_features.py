"""The LLM's queue view (``LLMConfig.feature_set``, issue 14): the numeric encoder reads feature set 2,
old checkpoints read set 1, ``llm finetune --reward/--features`` validation, ONNX = torch for set 2.
Tiny random-initialised Llama built in code (no download)."""

import json

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("peft")
torch = pytest.importorskip("torch")

from mecoffload.cli import main  # noqa: E402
from mecoffload.core.errors import UserError  # noqa: E402
from mecoffload.llm.datasets import QUEUE_FIELDS, collect_states, load_jsonl, save_jsonl  # noqa: E402
from mecoffload.llm.sft import LLMConfig  # noqa: E402
from mecoffload.policies.setnet import FEATURES  # noqa: E402
from mecoffload.scenario import load_scenario  # noqa: E402
from mecoffload.sim.params import Params  # noqa: E402


@pytest.fixture(scope="module")
def p():
    return Params.from_scenario(load_scenario("comllm"))


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Encoder-mode SFT checkpoints of feature set 1 and 2 (3 steps each)."""
    from mecoffload.llm import sft

    root = tmp_path_factory.mktemp("fs")
    out = {}
    for fs in (1, 2):
        cfg = LLMConfig(mode="encoder", feature_set=fs, sft_states=16, grpo_states=0, test_states=8, batch=4)
        sft.train(load_scenario("comllm"), root / f"fs{fs}", 3, 0, backbone="tiny", config=cfg)
        out[fs] = root / f"fs{fs}"
    return out


def test_state_sets_keep_the_queue_view(tmp_path, p):
    obs = collect_states(p, 64, 5)
    assert obs.uplink_bits.max() > 0 and obs.n_uploading.max() > 0  # not the Obs defaults (zeros)
    back = load_jsonl(save_jsonl(obs, p, tmp_path / "s.jsonl"))
    for f in QUEUE_FIELDS:
        assert np.allclose(getattr(back, f), getattr(obs, f)), f
    lines = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    old = tmp_path / "old.jsonl"  # written before the queue view: Obs defaults
    old.write_text("".join(json.dumps({k: v for k, v in r.items() if k not in QUEUE_FIELDS}) + "\n" for r in lines))
    o = load_jsonl(old)
    assert np.all(o.uplink_bits == 0) and np.allclose(o.mean_rate, obs.rate)


def test_feature_set_is_validated_and_defaults_to_1():
    assert LLMConfig.from_dict({"mode": "encoder"}).feature_set == 1  # config.json before the field
    for bad in (0, 3, True, "2"):
        with pytest.raises(UserError, match="--features must be one of 1, 2"):
            LLMConfig(feature_set=bad)
    assert LLMConfig(feature_set=2).prompt(Params.from_scenario(load_scenario("comllm"))).queue  # text: the queue line
    assert not LLMConfig().prompt(Params.from_scenario(load_scenario("comllm"))).queue


def test_set_2_encoder_reads_the_queue_view(ckpts, p):
    from mecoffload.llm.policy import LLMPolicy
    from mecoffload.core.checkpoint import load_checkpoint

    tensors, cfg = load_checkpoint(ckpts[2], "llm-sft")
    assert cfg["llm"]["feature_set"] == 2
    width = cfg["llm"]["encoder_width"]
    assert tuple(tensors["encoder.server.0.weight"].shape) == (width, FEATURES[2][1])
    assert tuple(tensors["encoder.task.0.weight"].shape) == (width, FEATURES[2][0])
    pol = LLMPolicy.from_checkpoint(str(ckpts[2]), p)
    assert pol.feature_set == 2
    obs = collect_states(p, 32, 7)
    a = pol.act(obs, np.random.default_rng(0))
    assert a.shape == (32,) and a.min() >= 0 and a.max() <= p.n_servers
    busy = obs.take(np.arange(len(obs)))
    busy.uplink_wait_s = busy.uplink_wait_s + 5 * p.deadline_s  # only the queue view changes
    lp, lq = pol.log_probs(obs), pol.log_probs(busy)
    assert (lp - lq).abs().max().item() > 1e-4
    pol1 = LLMPolicy.from_checkpoint(str(ckpts[1]), p)  # set 1 cannot see it
    assert (pol1.log_probs(obs) - pol1.log_probs(busy)).abs().max().item() == 0


def test_old_config_without_feature_set_decides_as_set_1(ckpts, p, tmp_path):
    import shutil

    from mecoffload.llm.policy import LLMPolicy

    old = tmp_path / "old"
    shutil.copytree(ckpts[1], old)
    cfg = json.loads((old / "config.json").read_text())
    del cfg["llm"]["feature_set"]
    (old / "config.json").write_text(json.dumps(cfg))
    obs = collect_states(p, 32, 8)
    a, b = LLMPolicy.from_checkpoint(str(old), p), LLMPolicy.from_checkpoint(str(ckpts[1]), p)
    assert a.feature_set == 1
    assert torch.equal(a.log_probs(obs), b.log_probs(obs))


def test_onnx_equals_torch_for_set_2(ckpts, p, tmp_path):
    pytest.importorskip("onnxruntime", reason="the compress extra (make setup-compress)")
    from mecoffload.compress.api import Options, compress
    from mecoffload.compress.export_llm import lean_encoder_graph
    from mecoffload.compress.models import logits, open_subject
    from mecoffload.policies.setnet import set_features

    s = open_subject(f"llm-sft:{ckpts[2]}", p)
    obs = collect_states(p, 200, 11)
    t, srv = (torch.from_numpy(x) for x in set_features(obs, p, 2))
    with torch.no_grad():
        ref, lean = logits(s, obs), torch.log_softmax(lean_encoder_graph(s.policy.scorer)(t, srv), -1)
    assert (lean - ref).abs().max().item() < 1e-4
    summary = compress(f"llm-sft:{ckpts[2]}", p, tmp_path / "x", Options(export="onnx", check_states=300))
    assert summary["agree_onnx_vs_torch_pct"] >= 99.9
    from mecoffload.policies.base import make_policy

    assert make_policy(f"onnx:{tmp_path / 'x'}", p).feature_set == 2


def test_finetune_realized_with_features_2(tmp_path, capsys):
    out = tmp_path / "g"
    rc = main(["llm", "finetune", "llm-grpo", "--backbone", "tiny", "--mode", "encoder", "--features", "2",
               "--reward", "realized", "--sft-steps", "2", "--grpo-steps", "2", "--batch", "4", "--sft-states", "16",
               "--grpo-states", "8", "-o", str(out)])
    assert rc == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["reward"] == "realized" and cfg["llm"]["feature_set"] == 2 and cfg["grpo_steps"] == 2


@pytest.mark.parametrize("args, msg", [
    (["llm-sft", "--reward", "realized"], "--reward realized applies to llm-grpo and comllm"),
    (["comllm", "--reward", "estimated"], "--reward must be one of paper, realized"),
    (["llm-sft", "--features", "3"], "--features must be one of 1, 2"),
    (["comllm", "--init", "nowhere", "--features", "2"], "--features cannot change an --init checkpoint"),
])
def test_finetune_flags_are_validated(tmp_path, capsys, args, msg):
    kind, *rest = args
    assert main(["llm", "finetune", kind, "--backbone", "tiny", "-o", str(tmp_path / "x"), *rest]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and msg in err[0], err


def test_train_features_only_for_llm_learners(tmp_path, capsys):
    assert main(["train", "setnet", "--features", "2", "-o", str(tmp_path / "x")]) == 2
    assert "--features applies to LLM learners only" in capsys.readouterr().err
    assert main(["train", "llm-sft", "--reward", "realized", "-o", str(tmp_path / "y")]) == 2
