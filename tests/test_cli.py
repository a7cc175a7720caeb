"""The CLI, run in-process through ``main(argv) -> int``."""

from __future__ import annotations

import json

import pytest

from mecoffload.cli import main


def test_evaluate_json_and_files(tmp_path, capsys):
    out = tmp_path / "ev"
    rc = main(["evaluate", "--scenario", "comllm", "--policies", "random,oracle,lacs",
               "--episodes", "3", "--seed", "0", "--json", "--out", str(out)])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["policies"]) == {"random", "oracle", "lacs"}
    assert doc["policies"]["oracle"]["PR_pct"] == pytest.approx(100.0)
    assert doc["policies"]["random"]["AL_slots"] > doc["policies"]["oracle"]["AL_slots"]
    for name in ["metrics.csv", "metrics.json", "report.md", "metrics_bars.png", "latency_cdf.png",
                 "offload_distribution.png", "max_server_delay.png"]:
        assert (out / name).stat().st_size > 0, name
    assert "| oracle |" in (out / "report.md").read_text()


def test_sweep_json(tmp_path, capsys):
    rc = main(["sweep", "--scenario", "comllm", "--param", "edge.count", "--values", "3,5",
               "--policies", "random,oracle", "--episodes", "2", "--json", "--out", str(tmp_path / "sw"),
               "--set", "sim.horizon_slots=20"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["param"] == "edge.count"
    assert set(doc["values"]) == {"3", "5"}
    # a 5-server topology reports 6 locations, a 3-server one 4
    assert "offload_5" in doc["values"]["5"]["oracle"] and "offload_4" not in doc["values"]["3"]["oracle"]
    assert (tmp_path / "sw" / "sweep.png").exists() and (tmp_path / "sw" / "sweep.csv").exists()


def test_sweep_task_size_alias(tmp_path, capsys):
    rc = main(["sweep", "--param", "task.size_mbit", "--values", "2,6", "--policies", "oracle",
               "--episodes", "2", "--json", "--out", str(tmp_path / "s"), "--set", "sim.horizon_slots=20"])
    assert rc == 0
    vals = json.loads(capsys.readouterr().out)["values"]
    assert vals["6"]["oracle"]["AL_slots"] > vals["2"]["oracle"]["AL_slots"]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["evaluate", "--scenario", "does-not-exist"], "does-not-exist"),
        (["evaluate", "--set", "edge.count=-1"], "edge.count"),
        (["evaluate", "--set", "edge.nope=1"], "edge.nope"),
        (["evaluate", "--policies", "bogus"], "bogus"),
        (["sweep", "--param", "edge.count", "--values", "3,0"], "edge.count"),
        (["evaluate", "--episodes", "0"], "episodes"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error:") and needle in lines[0]
    assert "Traceback" not in captured.err
    assert not (tmp_path / "runs").exists()  # nothing written on bad input


def test_lists(capsys):
    assert main(["policies"]) == 0
    text = capsys.readouterr().out
    for name in ["random", "local", "nearest", "least-loaded", "round-robin", "oracle", "lacs", "min-max-delay"]:
        assert name in text
    assert main(["scenarios"]) == 0
    text = capsys.readouterr().out
    assert "comllm" in text and "loadbalance" in text
