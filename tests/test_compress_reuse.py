"""`experiment compress -p reuse:DIR`: the text-LLM rows computed alone and merged into an earlier run's table,
the reused rows unchanged; the int8 text model is torch.ao dynamic-quantised Linears and runs."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime", reason="the compress extra (make setup-compress)")

from mecoffload.compress.quant import int8_modules  # noqa: E402
from mecoffload.core.errors import UserError  # noqa: E402
from mecoffload.experiments.compress import _same_inputs, run  # noqa: E402
from mecoffload.llm.datasets import collect_states  # noqa: E402
from mecoffload.policies.base import make_policy  # noqa: E402
from mecoffload.sim.params import Params  # noqa: E402
from mecoffload.sim.scenario import load_scenario  # noqa: E402

BASE = {"sparsity": [0.0, 0.4], "episodes": 2, "horizon_slots": 20, "check_states": 40, "timing_reps": 1,
        "models": ["setnet"], "per_model": {"llm-text": {"check_states": 16}}}


@pytest.fixture(scope="module")
def text_ckpt(tmp_path_factory):
    from mecoffload.llm import sft
    from mecoffload.llm.sft import LLMConfig

    root = tmp_path_factory.mktemp("text")
    cfg = LLMConfig(mode="text", sft_states=16, grpo_states=0, test_states=8, batch=4)
    sft.train(load_scenario("comllm"), root / "t", 3, 0, backbone="tiny", config=cfg)
    return root / "t"


def test_text_rows_alone_merged_into_an_earlier_run(tmp_path, text_ckpt):
    first = run("small", tmp_path / "a", 0, False, overrides=BASE)
    doc = run("small", tmp_path / "b", 0, False, overrides=BASE,
              policies=[f"llm-sft:{text_ckpt}", f"reuse:{tmp_path / 'a'}"])
    pts = doc["points"]
    assert doc["reused_models"] == ["setnet"] and doc["reused_from"] == str(tmp_path / "a")
    for key, row in first["points"].items():  # the reused rows are the earlier run's, number for number
        assert pts[key] == row
    assert pts["llm-text/random_PR_pct"] == first["points"]["setnet/random_PR_pct"]  # same inputs
    for w in ("fp32", "int8"):
        for s in (0, 40):
            row = pts[f"llm-text/{w}/{s}"]
            assert 0 < row["PR %"] <= 100 and row["ms/decision b1"] > 0 and row["ms/decision b64"] > 0
            assert row["ONNX ms b1"] is None and row["file MB"] > 0  # text mode: no ONNX export
    assert pts["llm-text/fp32/0"]["retained %"] == pytest.approx(100.0)
    assert pts["llm-text/fp32/40"]["realized sparsity %"] == pytest.approx(40.0, abs=0.1)
    table = (tmp_path / "b" / "compress.md").read_text()
    assert table.count("| setnet |") == 4 and table.count("| llm-text |") == 4
    assert not (tmp_path / "b" / "models" / "setnet-s0-none").exists()  # not recomputed
    folder = tmp_path / "b" / "models" / "llm-text-s40-int8"
    assert json.loads((folder / "config.json").read_text())["compression"]["quantize"] == "int8"
    p = Params.from_scenario(load_scenario("comllm"))
    pol = make_policy(f"llm-sft:{folder}", p)
    assert len(int8_modules(pol.scorer.model)) > 0  # the loaded text model runs dynamic-quantised Linears
    a = pol.act(collect_states(p, 8, 3), np.random.default_rng(0))
    assert a.shape == (8,) and a.min() >= 0


def test_reuse_refuses_other_inputs(tmp_path):
    with pytest.raises(UserError, match="reuse:DIR"):
        run("small", tmp_path / "x", 0, False, overrides=BASE, policies=[f"reuse:{tmp_path / 'none'}"])
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.json").write_text(json.dumps({"experiment": "compress", "budget": "small", "seed": 1,
                                                              "points": {}}))
    with pytest.raises(UserError, match="--seed 1"):
        run("small", tmp_path / "y", 0, False, overrides=BASE, policies=[f"reuse:{tmp_path / 'r'}"])
    with pytest.raises(UserError, match="other inputs"):
        _same_inputs({"setnet": ([], 55.0)}, 56.0)
    _same_inputs({"setnet": ([], 55.0)}, 55.0)
