"""The one error path of ``mecoffload.cli.main``: bad input is one ``error:`` line and exit 2
(nothing written), Ctrl-C is ``aborted:`` and 130, a bug is one ``internal error`` line and 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mecoffload.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
TINY = ["-n", "1", "--set", "sim.horizon_slots=2", "--no-plots"]


@pytest.fixture
def files(tmp_path):
    """Bad files of every kind, in tmp_path."""
    (tmp_path / "random.toml").write_bytes(bytes(range(128, 256)) * 2)
    (tmp_path / "notoml.toml").write_text("[edge\ncount = 3\n")
    (tmp_path / "folder.toml").mkdir()
    (tmp_path / "afile").write_text("x")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.csv").write_text("an earlier result")
    (tmp_path / "half.partial").mkdir()
    (tmp_path / "half.partial" / "x").write_text("an unfinished run")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.toml")
    return tmp_path


BAD = [
    # scenario files
    (["evaluate", "-s", "{t}/random.toml"], "not UTF-8"),
    (["evaluate", "-s", "{t}/notoml.toml"], "not valid TOML"),
    (["evaluate", "-s", "{t}/folder.toml"], "is a folder"),
    (["evaluate", "-s", "{t}/fifo.toml"], "not a regular file"),
    (["evaluate", "-s", "/dev/null/x.toml"], "no such file"),
    (["evaluate", "-s", "{t}/missing.toml"], "no such file"),
    (["evaluate", "-s", "{t}"], "is a folder"),
    (["sweep", "--param", "E", "--values", "3", "-s", "{t}/random.toml"], "not UTF-8"),
    (["scenarios", "--show", "{t}/notoml.toml"], "not valid TOML"),
    (["scenarios", "--show", ""], "unknown scenario ''"),
    (["tier-eval", "-s", "{t}/folder.toml"], "is a folder"),
    (["tier-eval", "-s", "{t}/random.toml"], "not UTF-8"),
    (["llm", "data", "-s", "{t}/fifo.toml", "-o", "{t}/d"], "not a regular file"),
    # scenario values
    (["evaluate", "--set", "lacs.future_size_lo=5", "--set", "lacs.future_size_hi=0.1"], "future_size_lo <= "),
    (["evaluate", "--set", "edge.count=[" + ",".join(["7"] * 5000) + "]"], "edge.count"),
    (["evaluate", "--set", "edge.count"], "FIELD=VALUE"),
    (["evaluate", "--set", "edge.count.deeper=1"], "edge.count.deeper"),
    (["sweep", "--param", "edge.count", "--values", "[]"], "--values"),
    (["sweep", "--param", "edge.count", "--values", "[1,"], "--values"),
    # output folders (checked before any work)
    (["evaluate", "-p", "random", *TINY, "--out", "{t}/afile"], "exists and is not a folder"),
    (["evaluate", "-p", "random", *TINY, "--out", "{t}/afile/sub"], "is a file, not a folder"),
    (["sweep", "--param", "E", "--values", "3", "-p", "random", "-n", "1", "--out", "{t}/afile"], "not a folder"),
    (["experiment", "comllm", "--out", "{t}/afile"], "not a folder"),
    (["train", "dqn", "--out", "{t}/afile/ck"], "is a file"),
    (["tier-train", "--out", "{t}/afile/ck"], "is a file"),
    (["llm", "data", "--out", "{t}/afile", "--sft", "1"], "not a folder"),
    (["import-ecs", str(FIX / "ecs_small"), "--out", "{t}/folder.toml"], "exists and is a folder"),
    (["run-ecs", str(FIX / "ecs_small"), "--out", "{t}/afile", "--no-plots"], "not a folder"),
    # earlier results are never replaced silently (checked before any work)
    (["evaluate", "-p", "random", *TINY, "--out", "{t}/run"], "already holds a run; use --resume"),
    (["sweep", "--param", "E", "--values", "3", "-p", "random", "-n", "1", "--out", "{t}/run"], "already holds a run"),
    (["sweep", "--param", "E", "--values", "3", "-p", "random", "-n", "1", "--out", "{t}/half"], "unfinished run"),
    (["tier-eval", "-p", "random", "-d", "10", "--seeds", "1", "--out", "{t}/run"], "already holds a run"),
    (["run-ecs", str(FIX / "ecs_small"), "--out", "{t}/run", "--no-plots"], "already holds a run"),
    (["experiment", "comllm", "--out", "{t}/run"], "already holds a run; use --force"),
    (["train", "dqn", "--out", "{t}/run"], "already holds a checkpoint; use --force"),
    (["tier-train", "--out", "{t}/run"], "already holds a checkpoint"),
    (["llm", "data", "--out", "{t}/run", "--sft", "1"], "already holds a data set"),
    (["import-ecs", str(FIX / "ecs_small"), "--out", "{t}/afile"], "already exists; use --force"),
    # runner options
    (["evaluate", "-p", "random", *TINY, "--backend", "slurm"], "--backend must be one of local, ray"),
    (["sweep", "--param", "E", "--values", "3", "-p", "random", "--address", "127.0.0.1:1"], "--address needs --backend ray"),
    (["run-ecs", str(FIX / "ecs_small"), "--address", "auto", "--no-plots"], "--address needs --backend ray"),
    (["tier-eval", "--jobs", "0"], "--jobs"),
    (["evaluate", "-p", "random", *TINY, "--resume"], "--resume needs --out"),
    (["tier-eval", "--resume"], "need --out"),
    (["evaluate", "-p", "random", *TINY, "--out", "{t}/new", "--resume", "--force"], "exclude each other"),
    # names and choices
    (["experiment", "nope"], "unknown experiment 'nope'"),
    (["experiment", "comllm", "--budget", "huge"], "--budget"),
    (["train", "nope", "--out", "{t}/ck"], "unknown learner 'nope'"),
    (["evaluate", "-p", "nope"], "unknown policy 'nope'"),
    (["evaluate", "-p", ","], "at least one policy"),
    (["tier-eval", "-d", "3,x"], "--devices"),
    (["tier-eval", "-d", "0"], "--devices"),
    (["llm", "finetune", "nope", "-o", "{t}/ck"], "unknown LLM learner"),
    (["llm", "finetune", "llm-sft", "-o", "{t}/ck", "--mode", "x"], "--mode"),
    # usage errors
    (["evaluate", "--bogus"], "--bogus"),
    (["evaluate", "--episodes", "zero"], "--episodes"),
    (["sweep"], "--param"),
    (["nosuchcommand"], "nosuchcommand"),
]


@pytest.mark.parametrize("argv, needle", BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_bad_input_is_one_error_line_and_exit_2(argv, needle, files, capsys, monkeypatch):
    if "{t}/fifo.toml" in argv and not (files / "fifo.toml").exists():
        pytest.skip("no FIFOs here")
    monkeypatch.chdir(files)
    before = sorted(p.name for p in files.rglob("*"))
    argv = [a.replace("{t}", str(files)) for a in argv]
    rc = main(argv)
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert rc == 2, cap.err
    assert len(lines) == 1 and lines[0].startswith("error: "), cap.err
    assert needle in lines[0] and "Traceback" not in cap.err
    assert len(lines[0]) < 400
    assert sorted(p.name for p in files.rglob("*")) == before  # nothing written


def test_a_bug_is_one_line_and_exit_1(monkeypatch, capsys):
    import mecoffload.cli.info as info

    def boom():
        raise RuntimeError("x" * 1000)

    monkeypatch.setattr(info, "available", boom)
    assert main(["policies"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: internal error (RuntimeError: ") and "please report it" in err
    assert "\n" not in err and len(err) < 400 and "Traceback" not in err
    monkeypatch.setenv("MECOFFLOAD_DEBUG", "1")
    assert main(["policies"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_is_aborted_and_130(monkeypatch, capsys):
    import mecoffload.cli.info as info

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(info, "available", interrupted)
    assert main(["policies"]) == 130
    assert capsys.readouterr().err.strip().startswith("aborted: ")


def test_help_and_no_arguments(capsys):
    assert main(["--help"]) == 0
    assert "evaluate" in capsys.readouterr().out
    assert main([]) == 2  # help is printed, no error line
    cap = capsys.readouterr()
    assert "error" not in cap.err and "evaluate" in cap.out + cap.err


def test_experiment_lists_without_a_name(capsys):
    for argv in (["experiment"], ["experiment", "--list"]):
        assert main(argv) == 0
        text = capsys.readouterr().out
        assert "comllm" in text and "iot-devices" in text and "seed 002" in text


def test_help_and_policies_do_not_import_torch():
    code = ("import sys, io, contextlib\nfrom mecoffload.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['--help']) == 0 and main(['policies']) == 0\n"
            "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]\nprint(heavy)\nsys.exit(bool(heavy))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


def test_bad_checkpoints_are_one_line(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    def ckpt(name: str, config, weights: bytes | None = None) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(config) if not isinstance(config, str) else config)
        if weights is None:
            save_file({"x": torch.zeros(1)}, str(folder / "model.safetensors"))
        else:
            (folder / "model.safetensors").write_bytes(weights)
        return folder

    cases = [
        (ckpt("list", [1, 2]), "dqn", "expected a JSON object"),
        (ckpt("badjson", "{"), "dqn", "invalid JSON"),
        (ckpt("trunc", {"kind": "setnet", "hidden": 8}, b"\x10\x00\x00"), "setnet", "not a readable safetensors"),
        (ckpt("hidden", {"kind": "setnet", "hidden": "big"}), "setnet", "'hidden' must be an integer"),
        (ckpt("shape", {"kind": "setnet", "hidden": 8}), "setnet", "does not match"),
        (ckpt("index", {"kind": "dqn", "n_servers": 6, "history": 5, "max_servers": 6, "input_index": [10**6]}), "dqn",
         "input_index"),
        (ckpt("kind", {"kind": "dqn"}), "setnet", "holds a 'dqn' checkpoint"),
    ]
    for folder, kind, needle in cases:
        rc = main(["evaluate", "-p", f"{kind}:{folder}", *TINY, "--out", str(tmp_path / "ev")])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and err.startswith("error: ") and "\n" not in err and needle in err, (folder.name, err)
    assert not (tmp_path / "ev").exists()
