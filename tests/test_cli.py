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


TINY = ["-p", "random,lacs", "-n", "1", "--set", "sim.horizon_slots=5", "--no-plots", "--json"]


def test_out_folder_is_never_silently_replaced(tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["evaluate", *TINY, "--out", str(out)]) == 0
    first = capsys.readouterr().out
    (out / "mine.txt").write_text("keep")
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    assert len(stamps) == 4  # two cells: JSON + arrays each
    assert main(["evaluate", *TINY, "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "already holds a run" in lines[0] and "--resume" in lines[0] and "--force" in lines[0]
    assert (out / "mine.txt").exists()
    assert main(["evaluate", *TINY, "--out", str(out), "--resume"]) == 0  # a finished run: every cell reused
    assert capsys.readouterr().out == first
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()} == stamps
    assert main(["evaluate", *TINY, "--out", str(out), "--force"]) == 0
    cap = capsys.readouterr()
    assert cap.out == first and f"replacing the existing run folder {out} (--force)" in cap.err
    assert not (out / "mine.txt").exists() and not (tmp_path / "ev.partial").exists()


def test_default_run_folders_never_collide(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["evaluate", *TINY]) == 0
    capsys.readouterr()
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(r.startswith("evaluate-comllm-") and not r.endswith(".partial") for r in runs)


def test_train_writes_a_staged_checkpoint_and_needs_force_to_replace(tmp_path, capsys, monkeypatch):
    import mecoffload.cli.train as train_cli

    def fake_train(sc, out, steps, seed, progress=False):
        (out / "config.json").write_text(json.dumps({"kind": "fake", "seed": seed}))
        return {"kind": "fake", "out": str(out)}

    monkeypatch.setattr(train_cli, "trainer", lambda kind: fake_train)
    ck = tmp_path / "ck"
    assert main(["train", "fake", "--out", str(ck), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(ck)
    assert main(["train", "fake", "--out", str(ck), "--seed", "1"]) == 2
    assert "already holds a checkpoint" in capsys.readouterr().err
    assert json.loads((ck / "config.json").read_text())["seed"] == 0
    assert main(["train", "fake", "--out", str(ck), "--seed", "1", "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(ck)
    assert json.loads((ck / "config.json").read_text())["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_ctrl_c_keeps_the_partial_folder(tmp_path, capsys, monkeypatch):
    import mecoffload.cli.evaluate as ev

    def interrupted(sc, names, episodes, seed, runner, store, progress):
        store.put("m:f", {"x": 1}, {"done": True})  # one cell finished, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(ev, "run_evaluate", interrupted)
    out = tmp_path / "ev"
    assert main(["evaluate", *TINY, "--out", str(out)]) == 130
    assert capsys.readouterr().err.strip() == (f"aborted: interrupted by the user (kept in {out}.partial; "
                                               "rerun with --resume to finish)")
    assert not out.exists() and len(list((tmp_path / "ev.partial" / "cells").glob("*.json"))) == 1
    monkeypatch.undo()
    assert main(["evaluate", *TINY, "--out", str(out), "--resume"]) == 0
    assert out.is_dir() and not (tmp_path / "ev.partial").exists()
