"""CLI wiring of the LLM learners and the comllm experiment, on the tiny model."""

import json

import pytest

pytest.importorskip("transformers")
pytest.importorskip("peft")

from mecoffload.cli import main  # noqa: E402


def test_llm_group_is_registered(capsys):
    assert main(["llm", "--help"]) == 0
    assert "prepare" in capsys.readouterr().out


def test_llm_data_writes_jsonl(tmp_path, capsys):
    assert main(["llm", "data", "-o", str(tmp_path), "--sft", "5", "--grpo", "6", "--test", "4"]) == 0
    assert len((tmp_path / "grpo.jsonl").read_text().splitlines()) == 6


def test_train_then_evaluate_comllm_checkpoint(tmp_path, capsys):
    ck = tmp_path / "sft"
    assert main(["train", "llm-sft", "--backbone", "tiny", "--steps", "2", "-o", str(ck), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["kind"] == "llm-sft" and summary["backbone"] == "tiny"
    ck2 = tmp_path / "comllm"
    assert main(["llm", "finetune", "comllm", "--init", str(ck), "--grpo-steps", "2", "--batch", "4",
                 "--grpo-states", "8", "-o", str(ck2)]) == 0
    cfg = json.loads((ck2 / "config.json").read_text())
    assert cfg["kind"] == "comllm" and cfg["lora_stages"] == ["sft", "grpo"]
    capsys.readouterr()
    rc = main(["evaluate", "-p", f"comllm:{ck2},random", "-n", "2", "--set", "sim.horizon_slots=3", "--no-plots",
               "--json", "-o", str(tmp_path / "ev")])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert f"comllm:{ck2}" in out["policies"]


def test_backbone_rejected_for_non_llm_learner(tmp_path, capsys):
    assert main(["train", "setnet", "--backbone", "tiny", "-o", str(tmp_path / "x")]) == 2


def test_unknown_backbone_is_one_line_error(tmp_path, capsys):
    assert main(["train", "llm-sft", "--backbone", "nope", "-o", str(tmp_path / "x")]) == 2
    assert "unknown backbone" in capsys.readouterr().err


def test_experiment_comllm_tiny(tmp_path):
    from mecoffload.experiments.comllm import run

    small = {"sizes": {"sft": 8, "grpo": 8, "test": 8}, "test_small": 4, "topologies": [3, 11], "task_sizes": [2],
             "text": {"batch": 4, "sft_steps": 1, "grpo_steps": 1}, "encoder": {"batch": 4, "sft_steps": 1, "grpo_steps": 1}, "extra_encoder_backbones": ["not-a-backbone"]}
    res = run("small", tmp_path, 0, False, backbone="tiny", overrides=small)
    for t in ("table2", "table3", "table4", "table5", "table6"):
        assert (tmp_path / f"{t}.md").exists() and (tmp_path / f"{t}.csv").exists()
    assert "COMLLM-135M" in res["table2"] and "COMLLM-135M-enc" in res["table4"]["11"]
    assert set(res["table6"]) == {"standard", "shuffle", "noisy", "units"}
    assert res["skipped_backbones"] == ["not-a-backbone"]
