"""``mecoffload import-ecs`` and ``mecoffload run-ecs``, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

from mecoffload.cli import main

FIX = Path(__file__).parent / "fixtures"


def test_import_then_run_prints_table_and_writes_plots(tmp_path, capsys):
    toml = tmp_path / "small.toml"
    assert main(["import-ecs", str(FIX / "ecs_small"), "--out", str(toml)]) == 0
    assert "run-ecs" in toml.read_text() and "[[edge]]" in toml.read_text()
    capsys.readouterr()
    out = tmp_path / "run"
    assert main(["run-ecs", str(toml), "--devices", "20,50", "--jobs", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "SINGLE_TIER/NEXT_FIT" in text and "TWO_TIER_WITH_EO/FIRST_FIT" in text and "failed %" in text
    for name in ("results.json", "results.csv", "scenario.toml", "ecs_figures.png"):
        assert (out / name).stat().st_size > 0, name
    doc = json.loads((out / "results.json").read_text())
    assert doc["devices"] == [20, 50] and len(doc["columns"]) == 6
    f = doc["figures"]["TWO_TIER/NEXT_FIT"]["50"]
    assert f["completed"] + f["failed"] == f["tasks"] > 0
    for acc in doc["accounting"].values():
        assert acc["completed"] + acc["vm_capacity"] + acc["bandwidth"] + acc["mobility"] + acc["unfinished"] == acc["generated"]


def test_run_folder_directly_with_policies_json(tmp_path, capsys):
    rc = main(["run-ecs", str(FIX / "ecs_eo"), "--devices", "30", "--policies", "least-utilized", "--json",
               "--no-plots", "--out", str(tmp_path / "r")])
    assert rc == 0
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert doc["columns"] == ["TWO_TIER_WITH_EO/NETWORK_BASED", "TWO_TIER_WITH_EO/UTILIZATION_BASED",
                              "TWO_TIER_WITH_EO/HYBRID", "least-utilized"]
    assert cap.err.count("warning: ") >= 9 and "unsupported key 'man_bandwidth'" in cap.err
    assert not (tmp_path / "r" / "ecs_figures.png").exists()


def test_import_warnings_on_stderr(tmp_path, capsys):
    assert main(["import-ecs", str(FIX / "ecs_eo"), "--out", str(tmp_path / "eo.toml")]) == 0
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith("warning: ")]
    assert len(lines) == 9 and any("my_custom_setting" in x for x in lines)
    assert "# import warning: default_config.properties:22" in (tmp_path / "eo.toml").read_text()


def test_malformed_folders_exit_2_with_one_line(tmp_path, capsys):
    for folder, needle in (("ecs_malformed_properties", "default_config.properties:3: field 'simulation_time'"),
                           ("ecs_malformed_xml", "edge_devices.xml:17: field '<mips>'")):
        for cmd in (["import-ecs", str(FIX / folder), "--out", str(tmp_path / "x.toml")],
                    ["run-ecs", str(FIX / folder), "--no-plots", "--out", str(tmp_path / "r")]):
            assert main(cmd) == 2
            err = capsys.readouterr().err.strip()
            assert err.startswith("error: ") and needle in err and "\n" not in err
    assert not (tmp_path / "x.toml").exists()


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["run-ecs", str(FIX / "ecs_small"), "--policies", "nope", "--no-plots", "--out", str(tmp_path / "a")]) == 2
    assert "unknown tier policy 'nope'" in capsys.readouterr().err
    assert main(["run-ecs", str(FIX / "ecs_small"), "--orchestrators", "TWO_TIER/SLOW_FIT", "--out", str(tmp_path / "b")]) == 2
    assert "unknown EdgeCloudSim orchestrator" in capsys.readouterr().err
    assert main(["run-ecs", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "c")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["run-ecs", str(FIX / "ecs_small"), "--orchestrators", "none", "--out", str(tmp_path / "d")]) == 2
    assert "nothing to run" in capsys.readouterr().err


def test_cells_on_two_processes_equal_one(tmp_path, capsys):
    """One cell per orchestrator and one for --policies: --jobs 2 gives the numbers of --jobs 1."""
    docs = []
    for jobs in ("1", "2"):
        rc = main(["run-ecs", str(FIX / "ecs_small"), "--devices", "20", "-p", "lacs,random", "--orchestrators",
                   "TWO_TIER/NEXT_FIT,SINGLE_TIER/FIRST_FIT", "--json", "--no-plots", "--jobs", jobs,
                   "--out", str(tmp_path / jobs)])
        assert rc == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc.pop("timing_s")["total"] > 0
        docs.append(doc)
    assert docs[0] == docs[1]
    assert list(docs[0]["accounting"]) == ["TWO_TIER/NEXT_FIT+SINGLE_TIER/FIRST_FIT+lacs+random"]
    assert len(list((tmp_path / "2" / "cells").glob("*.json"))) == 3
