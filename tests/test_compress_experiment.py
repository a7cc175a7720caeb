"""`experiment compress` on tiny sizes: every point has its row, retained performance is 100 % at the dense point."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime", reason="the compress extra (make setup-compress)")

from mecoffload.experiments.compress import run  # noqa: E402


def test_compress_experiment_tiny(tmp_path):
    doc = run("small", tmp_path, 0, False, overrides={
        "sparsity": [0.0, 0.4], "episodes": 2, "horizon_slots": 20, "sft_steps": 3, "check_states": 100,
        "timing_reps": 2, "models": ["setnet", "llm-encoder"]})
    pts = doc["points"]
    for model in ("setnet", "llm-encoder"):
        for w in ("fp32", "int8"):
            for s in (0, 40):
                row = pts[f"{model}/{w}/{s}"]
                assert 0 < row["PR %"] <= 100 and row["file MB"] > 0 and row["ms/decision b1"] > 0
                assert row["ONNX ms b64"] > 0
        assert pts[f"{model}/fp32/0"]["retained %"] == pytest.approx(100.0)
        assert pts[f"{model}/fp32/40"]["realized sparsity %"] == pytest.approx(40.0, abs=0.1)
    assert (tmp_path / "retained.png").stat().st_size > 0 and (tmp_path / "compress.md").exists()
    assert json.loads((tmp_path / "results.json").read_text())["experiment"] == "compress"
