"""The lean ONNX graph of the LLM numeric encoder (compress/export_llm.py) computes the scorer's function,
at any server count, after pruning, and through onnxruntime (fp32 and int8); `experiment compress -p`."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime", reason="the compress extra (make setup-compress)")

from mecoffload.compress.api import Options, compress  # noqa: E402
from mecoffload.compress.export import EncoderGraph  # noqa: E402
from mecoffload.compress.export_llm import activation_matmuls, lean_encoder_graph  # noqa: E402
from mecoffload.compress.models import logits, open_subject  # noqa: E402
from mecoffload.compress.prune import magnitude  # noqa: E402
from mecoffload.core.errors import UserError  # noqa: E402
from mecoffload.experiments.compress import BUDGETS, given_checkpoints  # noqa: E402
from mecoffload.llm.datasets import collect_states  # noqa: E402
from mecoffload.policies.setnet import set_features  # noqa: E402
from mecoffload.scenario import load_scenario  # noqa: E402
from mecoffload.sim.params import Params  # noqa: E402


@pytest.fixture(scope="module")
def enc(tmp_path_factory):
    from mecoffload.llm import sft
    from mecoffload.llm.sft import LLMConfig

    root = tmp_path_factory.mktemp("enc")
    cfg = LLMConfig(mode="encoder", sft_states=16, grpo_states=0, test_states=8, batch=4)
    sft.train(load_scenario("comllm"), root / "e", 3, 0, backbone="tiny", config=cfg)
    return root / "e"


@pytest.mark.parametrize("servers", [3, 6, 9])
def test_lean_graph_equals_the_scorer(enc, servers):
    p = Params.from_scenario(load_scenario("comllm", {"edge.count": servers}))
    s = open_subject(f"llm-sft:{enc}", p)
    magnitude(s.module, 0.4, "layer")  # pruned weights are used as they are
    s.policy.scorer.prefix.invalidate()
    obs = collect_states(p, 300, 11)
    t, srv = (torch.from_numpy(a) for a in set_features(obs, p))
    with torch.no_grad():
        ref = logits(s, obs)
        lean = torch.log_softmax(lean_encoder_graph(s.policy.scorer)(t, srv), -1)
        generic = torch.log_softmax(EncoderGraph(s.policy.scorer)(t, srv), -1)
    ok = torch.isfinite(ref)
    assert ok.all()  # comllm allows local: every action is scored
    assert (lean - ref).abs().max().item() < 1e-4
    assert (generic - ref).abs().max().item() < 1e-4
    assert (lean.argmax(1) == ref.argmax(1)).float().mean().item() >= 0.999


def test_lean_onnx_is_smaller_and_int8_keeps_prefix_matmuls_fp32(tmp_path, enc):
    import onnx

    p = Params.from_scenario(load_scenario("comllm"))
    f32, q8 = tmp_path / "f", tmp_path / "q"
    s = compress(f"llm-sft:{enc}", p, f32, Options(sparsity=0.4, export="onnx", check_states=1000))
    assert s["agree_onnx_vs_torch_pct"] >= 99.9
    ops = [n.op_type for n in onnx.load(str(f32 / "model.onnx")).graph.node if n.op_type != "Constant"]
    sub = open_subject(f"llm-sft:{enc}", p)
    obs = collect_states(p, 2, 1)
    t, srv = (torch.from_numpy(a) for a in set_features(obs, p))
    with torch.no_grad():
        torch.onnx.export(EncoderGraph(sub.policy.scorer).eval(), (t, srv), str(tmp_path / "generic.onnx"), dynamo=False,
                          input_names=["task", "server"], output_names=["scores"], opset_version=17,
                          dynamic_axes={"task": {0: "n"}, "server": {0: "n", 1: "e"}, "scores": {0: "n", 1: "a"}})
    generic = [n.op_type for n in onnx.load(str(tmp_path / "generic.onnx")).graph.node if n.op_type != "Constant"]
    assert ops.count("Expand") == 1 < generic.count("Expand")  # the one left is the action head's
    assert len(ops) < 0.75 * len(generic)
    layers = len(sub.policy.scorer.model.model.layers)
    assert len(activation_matmuls(str(f32 / "model.onnx"))) == 2 * layers  # q·K_prefix and w·V_prefix per layer
    sq = compress(f"llm-sft:{enc}", p, q8, Options(sparsity=0.4, quantize="int8", export="onnx", check_states=300))
    ops8 = [n.op_type for n in onnx.load(str(q8 / "model.onnx")).graph.node]
    assert ops8.count("MatMul") >= 2 * layers and any("Integer" in o or "Quant" in o for o in ops8)
    assert 0 <= sq["agree_onnx_vs_dense_pct"] <= 100 and sq["onnx_mb"] < s["onnx_mb"]


def test_experiment_takes_given_llm_checkpoints(enc):
    B = given_checkpoints(dict(BUDGETS["paper"]), [f"llm-sft:{enc}"])
    assert B["llm_encoder"] == f"llm-sft:{enc}" and B["models"] == ["setnet", "llm-encoder"]
    for bad in ("setnet:checkpoints/setnet-comllm", f"llm-sft:{enc}/nope"):
        with pytest.raises(UserError, match="--policies"):
            given_checkpoints(dict(BUDGETS["paper"]), [bad])
    assert np.isclose(BUDGETS["paper"]["layers"], 4)
