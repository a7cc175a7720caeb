"""`mecoffload experiment iot-devices --json` and the tier commands, in-process and tiny."""

from __future__ import annotations

import json

from mecoffload.cli import main
from mecoffload.experiments import iot_devices

FIGS = ["service_time.png", "network_delay.png", "processing_time.png", "failure_rate.png", "vm_utilization.png"]


def test_experiment_iot_devices_json_and_figures(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(iot_devices, "DEVICES", [40, 80])
    monkeypatch.setitem(iot_devices.BUDGETS, "small", {"sim.horizon_s": 10.0, "sim.warmup_s": 2.0})
    monkeypatch.setattr(iot_devices, "default_policies", lambda: ["random", "sonmez", "oracle"])
    out = tmp_path / "exp"
    assert main(["experiment", "iot-devices", "--json", "--out", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["devices"] == [40, 80]
    assert set(doc["policies"]) == {"random", "sonmez", "oracle"}
    for per in doc["policies"].values():
        assert set(per) == {"40", "80"}
        for m in per.values():
            for k in ("service_time_s", "network_delay_s", "processing_time_s", "failure_pct", "edge_vm_util_pct",
                      "fail_vm_capacity_pct", "fail_bandwidth_pct", "fail_deadline_pct", "local_edge_service_time_s"):
                assert k in m
            assert m["seeds"] == 3
    for f in FIGS + ["metrics.csv", "report.md", "results.json"]:
        assert (out / f).stat().st_size > 0, f
    assert "| sonmez |" in (out / "report.md").read_text()


def test_tier_eval_and_errors(capsys):
    rc = main(["tier-eval", "-p", "utilization-based,mec:least-loaded", "-d", "30", "--seeds", "1",
               "--set", "sim.horizon_s=5", "--set", "sim.warmup_s=1", "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["devices"]["30"]) == {"utilization-based", "mec:least-loaded"}
    assert main(["tier-eval", "-p", "nope"]) == 2
    assert main(["tier-eval", "--set", "devices.count=0"]) == 2
    assert "error:" in capsys.readouterr().err


def test_tier_train_writes_checkpoint(tmp_path, capsys):
    rc = main(["tier-train", "--out", str(tmp_path / "ck"), "--samples", "300", "--epochs", "1", "--json"])
    assert rc == 0
    info = json.loads(capsys.readouterr().out)
    assert "tier_val_acc" in info and (tmp_path / "ck" / "config.json").exists()
    rc = main(["tier-eval", "-p", f"dl-tier:{tmp_path / 'ck'}", "-d", "20", "--seeds", "1",
               "--set", "sim.horizon_s=4", "--set", "sim.warmup_s=1"])
    assert rc == 0


def test_tier_eval_cells_same_on_two_processes_and_resumed(tmp_path, capsys):
    """One cell per policy; --jobs 2 (worker processes) and a resumed run print the numbers of --jobs 1."""
    args = ["tier-eval", "-p", "random,lacs,utilization-based", "-d", "20,30", "--seeds", "2", "--set", "sim.horizon_s=5",
            "--set", "sim.warmup_s=1", "--json"]
    assert main(args) == 0  # no --out: nothing written
    want = capsys.readouterr().out
    out = tmp_path / "te"
    assert main([*args, "--jobs", "2", "--out", str(out)]) == 0
    assert capsys.readouterr().out == want
    assert json.loads((out / "results.json").read_text())["devices"] == json.loads(want)["devices"]
    cells = sorted((out / "cells").glob("*.json"))
    assert len(cells) == 3
    cells[0].unlink()  # a lost cell is computed again, the others are reused
    stamps = {p.name: p.stat().st_mtime_ns for p in cells[1:]}
    assert main([*args, "--out", str(out), "--resume"]) == 0
    assert capsys.readouterr().out == want
    assert {p.name: p.stat().st_mtime_ns for p in cells[1:]} == stamps and cells[0].exists()
