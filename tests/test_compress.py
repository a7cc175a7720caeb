"""compress: exact sparsity, int8 stored as int8 + scales, ONNX decisions equal torch decisions,
compressed folders load through the ordinary policy specs, bad input is one error line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime", reason="the compress extra (make setup-compress)")

from mecoffload.cli import main  # noqa: E402
from mecoffload.compress.api import Options, compress  # noqa: E402
from mecoffload.compress.models import setnet_groups  # noqa: E402
from mecoffload.compress.prune import magnitude, prunable, sparsity_of, structured  # noqa: E402
from mecoffload.llm.datasets import collect_states  # noqa: E402
from mecoffload.policies.base import make_policy  # noqa: E402
from mecoffload.policies.setnet import build_setnet  # noqa: E402
from mecoffload.scenario import load_scenario  # noqa: E402
from mecoffload.sim.params import Params  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SETNET = ROOT / "checkpoints" / "setnet-comllm"
DQN = ROOT / "checkpoints" / "dqn-comllm"


@pytest.fixture(scope="module")
def p():
    return Params.from_scenario(load_scenario("comllm"))


@pytest.mark.parametrize("scope", ["layer", "global"])
@pytest.mark.parametrize("s", [0.2, 0.4, 0.6])
def test_magnitude_sparsity_is_exact(scope, s):
    torch.manual_seed(1)
    net = build_setnet(32)
    layers = prunable(net)
    total = sum(m.weight.numel() for m in layers.values())
    before = {n: m.weight.detach().abs().clone() for n, m in layers.items()}
    masks = magnitude(net, s, scope)
    zeros = {n: int((m.weight == 0).sum()) for n, m in layers.items()}
    if scope == "layer":
        assert zeros == {n: round(s * m.weight.numel()) for n, m in layers.items()}
        groups = [(before[n][~masks[n]], before[n][masks[n]]) for n in layers]
    else:
        assert sum(zeros.values()) == round(s * total)
        groups = [(torch.cat([before[n][~masks[n]] for n in layers]), torch.cat([before[n][masks[n]] for n in layers]))]
    for pruned, kept in groups:  # the smallest |w| went: every pruned weight <= every kept one
        assert float(pruned.max()) <= float(kept.min())
    assert abs(sparsity_of(net) - sum(zeros.values()) / total) < 1e-12


def test_structured_zeroes_whole_units():
    torch.manual_seed(2)
    net = build_setnet(20)
    x = (torch.randn(7, 5), torch.randn(7, 4, 9))
    structured(net, setnet_groups(), 0.4)
    rows = net.phi_server.weight.abs().sum(1) + net.phi_task.weight.abs().sum(1) + net.phi_server.bias.abs()
    assert int((rows == 0).sum()) == 8  # round(0.4 * 20) units of the first group
    assert int((net.phi_out.weight.abs().sum(0) == 0).sum()) >= 8  # and their consumer columns
    assert torch.isfinite(net(*x)).all()


def test_setnet_onnx_equals_torch_on_10000_states_and_int8_is_stored_as_int8(tmp_path, p):
    out = tmp_path / "s40"
    s = compress(f"setnet:{SETNET}", p, out, Options(sparsity=0.4, export="onnx"))
    assert s["states"] == 10_000
    assert s["agree_onnx_vs_torch_pct"] >= 99.9
    assert s["agree_reloaded_vs_final_pct"] == 100.0
    assert s["realized_sparsity"] == pytest.approx(0.4, abs=1e-9)
    for f in ("config.json", "model.safetensors", "model.onnx", "compress.json"):
        assert (out / f).stat().st_size > 0
    # int8: weights stored as int8 with per-row scales, loaded by setnet:DIR and onnx:DIR
    q = tmp_path / "s40q"
    sq = compress(f"setnet:{SETNET}", p, q, Options(sparsity=0.4, quantize="int8", export="onnx"))
    from safetensors import safe_open

    with safe_open(str(q / "model.safetensors"), "pt") as f:
        assert f.get_tensor("phi_out.weight").dtype == torch.int8
        assert f.get_tensor("phi_out.weight_scale").shape == (64,)
    assert sq["checkpoint_mb"] < 0.5 * s["checkpoint_mb"]
    assert sq["agree_reloaded_vs_final_pct"] == 100.0 and sq["states"] == 10_000  # the same batches: the same model
    # dynamic int8 scales activations per forward pass: batches of 64 may decide some rows otherwise
    for key in ("agree_int8_batch_64_vs_4096_pct", "agree_onnx_int8_batch_64_vs_4096_pct"):
        assert 50.0 < sq[key] <= 100.0
    assert "agree_int8_batch_64_vs_4096_pct" not in s
    assert 50.0 < sq["agree_final_vs_dense_pct"] <= 100.0 and 50.0 < sq["agree_onnx_vs_dense_pct"] <= 100.0
    obs = collect_states(p, 64, 4)
    for spec in (f"setnet:{q}", f"onnx:{q}"):
        a = make_policy(spec, p).act(obs, np.random.default_rng(0))
        assert a.shape == (64,) and 0 <= a.min() and a.max() <= p.n_servers


def test_onnx_setnet_runs_on_another_topology(tmp_path, p):
    out = tmp_path / "o"
    compress(f"setnet:{SETNET}", p, out, Options(sparsity=0.2, export="onnx", check_states=500))
    p9 = Params.from_scenario(load_scenario("comllm", {"edge.count": 9}))
    obs = collect_states(p9, 200, 2)
    a_onnx = make_policy(f"onnx:{out}", p9).act(obs, None)
    a_torch = make_policy(f"setnet:{out}", p9).act(obs, None)
    assert np.mean(a_onnx == a_torch) >= 0.99 and a_onnx.max() <= 9


def test_dqn_structured_int8_and_onnx(tmp_path, p):
    out = tmp_path / "d"
    s = compress(f"dqn:{DQN}", p, out, Options(prune="structured", sparsity=0.2, quantize="int8", export="onnx",
                                                 check_states=1000))
    # a removed unit takes its row and its consumers' column: 1 - 0.8² of a middle layer
    assert s["agree_reloaded_vs_final_pct"] == 100.0 and 0.2 <= s["realized_sparsity"] < 0.4
    f = tmp_path / "d32"
    s32 = compress(f"dqn:{DQN}", p, f, Options(prune="structured", sparsity=0.2, export="onnx", check_states=1000))
    assert s32["agree_onnx_vs_torch_pct"] >= 99.9
    p9 = Params.from_scenario(load_scenario("comllm", {"edge.count": 9}))
    with pytest.raises(Exception, match="edge.count"):
        make_policy(f"onnx:{f}", p9)


def test_recover_keeps_sparsity(tmp_path, p):
    s = compress(f"setnet:{SETNET}", p, tmp_path / "r", Options(sparsity=0.6, recover=20, check_states=500))
    assert s["realized_sparsity"] == pytest.approx(0.6, abs=1e-9) and len(s["recover_loss"]) == 10
    assert all(np.isfinite(s["recover_loss"]))


@pytest.fixture(scope="module")
def llm_ckpts(tmp_path_factory):
    from mecoffload.llm import sft
    from mecoffload.llm.sft import LLMConfig

    root = tmp_path_factory.mktemp("llm")
    sc = load_scenario("comllm")
    for mode in ("encoder", "text"):
        cfg = LLMConfig(mode=mode, sft_states=16, grpo_states=0, test_states=8, batch=4)
        sft.train(sc, root / mode, 3, 0, backbone="tiny", config=cfg)
    return root


def test_llm_encoder_pruned_int8_onnx(tmp_path, p, llm_ckpts):
    out = tmp_path / "e"
    s = compress(f"llm-sft:{llm_ckpts / 'encoder'}", p, out, Options(sparsity=0.4, export="onnx", check_states=2000))
    assert s["states"] == 2000 and s["agree_onnx_vs_torch_pct"] >= 99.9
    assert s["agree_reloaded_vs_final_pct"] == 100.0
    assert s["realized_sparsity"] == pytest.approx(0.4, abs=1e-3)
    q = tmp_path / "eq"
    sq = compress(f"llm-sft:{llm_ckpts / 'encoder'}", p, q, Options(sparsity=0.4, quantize="int8", export="onnx",
                                                                   check_states=200))
    assert sq["agree_reloaded_vs_final_pct"] == 100.0 and "agree_onnx_vs_dense_pct" in sq
    cfg = json.loads((q / "config.json").read_text())
    assert cfg["kind"] == "llm-sft" and cfg["compression"]["int8_modules"]


def test_text_llm_structured_and_layers(tmp_path, p, llm_ckpts):
    out = tmp_path / "t"
    s = compress(f"llm-sft:{llm_ckpts / 'text'}", p, out,
                 Options(prune="structured", sparsity=0.25, layers=1, keep_last=0, quantize="int8", check_states=40))
    assert s["agree_reloaded_vs_final_pct"] == 100.0 and s["realized_sparsity"] > 0
    pol = make_policy(f"llm-sft:{out}", p)
    assert len(pol.scorer.model.model.layers) == 1
    code = main(["compress", f"llm-sft:{llm_ckpts / 'text'}", "--export", "onnx", "--check-states", "10",
                 "--out", str(tmp_path / "t2")])
    assert code == 2


@pytest.mark.parametrize("args, msg", [
    (["--sparsity", "1"], "--sparsity must be in [0, 1)"),
    (["--sparsity", "-0.1"], "--sparsity must be in [0, 1)"),
    (["--sparsity", "nan"], "--sparsity must be in [0, 1)"),
    (["--quantize", "int4"], "--quantize must be one of"),
    (["--layers", "2"], "--layers: only LLM"),
])
def test_bad_input_is_one_error_line(tmp_path, capsys, args, msg):
    code = main(["compress", f"setnet:{SETNET}", "--check-states", "10", "--out", str(tmp_path / "x"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and msg in err[0]


def test_missing_folder_and_used_out(tmp_path, capsys):
    assert main(["compress", "setnet:/nonexistent/ckpt", "--out", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    assert main(["compress", f"setnet:{SETNET}", "--out", str(tmp_path / "full")]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["compress", f"dqn:{SETNET}", "--out", str(tmp_path / "y")]) == 2
    assert main(["evaluate", "-p", f"onnx:{tmp_path}", "-n", "1"]) == 2


def test_served_onnx_reports_probabilities_and_onnx_dqn_does_not(tmp_path, p):
    from mecoffload.serve.schema import Snapshot
    from mecoffload.serve.service import Service

    sc = load_scenario("comllm")
    snap = Snapshot.model_validate({"servers": [{"cpu_ghz": 30.0, "rate_mbps": 10.0 + e, "tasks_in_service": e % 3,
                                                 "tasks_uploading": 0, "backlog_gcycles": 0.5 * e} for e in range(6)],
                                    "device": {"local_wait_s": 0.1}, "tasks": [{"size_mbit": 3.0}]})
    out = tmp_path / "o"
    compress(f"setnet:{SETNET}", p, out, Options(sparsity=0.2, export="onnx", check_states=200))
    (d,) = Service(sc, f"onnx:{out}").decide([snap], first=-1)[1][0]
    probs = np.array(d["probabilities"])
    assert probs.shape == (7,) and abs(probs.sum() - 1) < 1e-9 and int(probs.argmax()) == d["action"]
    qd = tmp_path / "d"
    compress(f"dqn:{DQN}", p, qd, Options(sparsity=0.2, export="onnx", check_states=200))
    (d,) = Service(sc, f"onnx:{qd}").decide([snap], first=-1)[1][0]
    assert d["probabilities"] is None  # Q-values are no probabilities
