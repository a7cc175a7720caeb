"""The batch runner: identical numbers on every backend, resumable cell store, atomic run folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mecoffload.core.errors import PolicyError, UserError
from mecoffload.eval.cells import EVALUATE_CELL, run_evaluate, run_sweep
from mecoffload.eval.evaluate import evaluate, sweep
from mecoffload.eval.runfolder import fresh_run_path, open_run_folder, partial_path, run_folder, staged_output
from mecoffload.eval.runner import Cell, Runner, run_cells
from mecoffload.eval.store import CellStore, atomic_write, canonical_json, cell_key, normalise
from mecoffload.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SHORT = ["sim.horizon_slots=20"]
POLICIES = ["random", "lacs"]
CALLS: list[int] = []


def square(x: int) -> dict:
    """A cell function that counts its calls (in this process)."""
    CALLS.append(x)
    return {"x": x, "sq": np.array([x * x], dtype=np.int16)}


def fail(x: int) -> None:
    raise PolicyError(f"bad cell {x}")


def _same_runs(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for name in a:
        assert json.dumps(a[name].metrics) == json.dumps(b[name].metrics), name
        for arr in ("latencies", "max_delay_series"):
            x, y = getattr(a[name], arr), getattr(b[name], arr)
            assert x.dtype == y.dtype and np.array_equal(x, y), (name, arr)


# --- common random numbers: a policy alone == the same policy beside others --------------------

def test_a_policy_alone_equals_it_beside_others():
    sc = load_scenario("comllm", SHORT)
    names = ["random", "lacs", "round-robin", "ga:pop=4,gens=1", f"dqn:{ROOT / 'checkpoints/dqn-comllm'}"]
    together = evaluate(sc, names, 2, 5)
    for name in names:
        _same_runs({name: together[name]}, evaluate(sc, [name], 2, 5))


def test_cells_equal_evaluate_and_sweep(tmp_path):
    sc = load_scenario("comllm", SHORT)
    _same_runs(evaluate(sc, POLICIES, 2, 1), run_evaluate(sc, POLICIES, 2, 1))
    _same_runs(evaluate(sc, POLICIES, 2, 1), run_evaluate(sc, POLICIES, 2, 1, store=tmp_path / "c"))
    _same_runs(evaluate(sc, POLICIES, 2, 1), run_evaluate(sc, POLICIES, 2, 1, store=tmp_path / "c"))  # from the store
    assert json.dumps(sweep(sc, "E", [3, 5], POLICIES, 2, 0)) == json.dumps(run_sweep(sc, "E", [3, 5], POLICIES, 2, 0))
    with pytest.raises(PolicyError, match="more than once"):
        run_evaluate(sc, ["random", "random"], 2, 0)


# --- backends ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_runtime():
    import ray  # the dist extra is part of `make test`: a missing ray fails, never skips

    from mecoffload.eval.runner import _ray_init

    _ray_init(ray, None, 2)  # the runner's own start of a local 2-CPU runtime
    yield ray
    ray.shutdown()


def test_local_jobs_and_ray_give_identical_sweeps(tmp_path, ray_runtime):
    sc = load_scenario("comllm", SHORT)
    args = (sc, "E", [3, 5], POLICIES, 2, 0)
    want = json.dumps(sweep(*args))
    assert json.dumps(run_sweep(*args)) == want
    for i, runner in enumerate([Runner(), Runner(jobs=2), Runner(backend="ray")]):
        assert json.dumps(run_sweep(*args, runner=runner, store=tmp_path / f"s{i}")) == want, runner
    runs = run_evaluate(sc, POLICIES, 2, 0, runner=Runner(backend="ray"))
    _same_runs(evaluate(sc, POLICIES, 2, 0), runs)
    bad = Cell(EVALUATE_CELL, {"scenario": sc.model_dump(), "policy": "nope", "episodes": 1, "seed": 0})
    with pytest.raises(ValueError, match="unknown policy 'nope'") as info:  # the cell's own error, also through Ray
        Runner(backend="ray").run([bad])
    assert type(info.value).__name__ == "PolicyError"


def test_cli_sweep_on_ray_equals_local(tmp_path, capsys, ray_runtime):
    """`mecoffload sweep --backend ray` (on the local 2-CPU runtime) prints the numbers of --backend local."""
    from mecoffload.cli import main

    args = ["sweep", "--param", "E", "--values", "3,5", "-p", "random,lacs", "-n", "2", "--set", "sim.horizon_slots=20",
            "--json"]
    docs = {}
    for backend in ("local", "ray"):
        assert main([*args, "--backend", backend, "--out", str(tmp_path / backend)]) == 0
        docs[backend] = capsys.readouterr().out.strip().splitlines()[-1]
    assert docs["ray"] == docs["local"]
    assert json.loads(docs["ray"])["values"]["5"]["lacs"]["PR_pct"] > 0
    assert (tmp_path / "ray" / "sweep.json").read_text() == (tmp_path / "local" / "sweep.json").read_text()
    assert len(list((tmp_path / "ray" / "cells").glob("*.json"))) == 4


def test_process_pool_keeps_error_type_and_order():
    got = Runner(jobs=2).run([Cell("test_runner:square", {"x": x}) for x in (3, 1, 2)])
    assert [g["x"] for g in got] == [3, 1, 2] and got[0]["sq"].dtype == np.int16
    with pytest.raises(PolicyError, match="bad cell 1"):
        Runner(jobs=2).run([Cell("test_runner:fail", {"x": 1})])


def test_runner_options_are_checked():
    for kwargs, msg in [({"backend": "slurm"}, "--backend"), ({"jobs": 0}, "--jobs"), ({"address": "auto"}, "--address")]:
        with pytest.raises(UserError, match=msg):
            Runner(**kwargs)
    with pytest.raises(UserError, match="nothing answers"):
        Runner(backend="ray", address="127.0.0.1:9").run([Cell("test_runner:square", {"x": 1})])


# --- store and resume -------------------------------------------------------------------------

def test_resume_computes_only_missing_cells(tmp_path):
    CALLS.clear()
    store = CellStore(tmp_path)
    cells = [Cell("test_runner:square", {"x": x}) for x in range(5)]
    seen = []
    first = run_cells(cells[:3], store=store)
    assert CALLS == [0, 1, 2]
    again = run_cells(cells + cells[:1], store=store, progress=lambda d, t: seen.append((d, t)))
    assert CALLS == [0, 1, 2, 3, 4], "only the two missing cells ran; a repeated cell runs once"
    assert seen == [(3, 5), (4, 5), (5, 5)]
    assert [a["x"] for a in again] == [0, 1, 2, 3, 4, 0]
    for a, b in zip(first, again):
        assert a["x"] == b["x"] and np.array_equal(a["sq"], b["sq"])
    run_cells(cells, runner=Runner(resume=False), store=store)
    assert len(CALLS) == 10, "resume=False recomputes every cell"
    (tmp_path / f"{cells[4].key()}.json").write_text('{"trunc')  # a damaged record is recomputed
    run_cells(cells, store=store)
    assert CALLS[-1] == 4 and len(CALLS) == 11


def test_store_round_trip_and_keys(tmp_path):
    value = {"b": 1, "a": [1.5, float("nan"), float("-inf")], "t": (1, 2), "n": np.float64(0.1), "i": np.int64(7),
             "arr": {"z": np.arange(6, dtype=np.float32).reshape(2, 3), "e": np.zeros(0)}, "none": None, "s": "é"}
    store = CellStore(tmp_path)
    back = store.put("m:f", {"k": 1}, value)
    found, loaded = store.get("m:f", {"k": 1})
    assert found
    for got in (back, loaded, normalise(value)):
        assert list(got) == list(value), "key order is kept"
        assert got["a"][0] == 1.5 and np.isnan(got["a"][1]) and got["a"][2] == float("-inf")
        assert got["t"] == [1, 2] and type(got["n"]) is float and type(got["i"]) is int
        assert got["arr"]["z"].dtype == np.float32 and got["arr"]["z"].shape == (2, 3) and got["arr"]["e"].shape == (0,)
    json.loads((tmp_path / f"{cell_key('m:f', {'k': 1})}.json").read_text(), parse_constant=pytest.fail)  # strict JSON
    assert store.get("m:f", {"k": 2}) == (False, None)
    assert cell_key("m:f", {"a": 1, "b": 2}) == cell_key("m:f", {"b": 2, "a": 1})
    assert len({cell_key("m:f", {"a": 1}), cell_key("m:g", {"a": 1}), cell_key("m:f", {"a": 1.5}),
                cell_key("m:f", {"a": 1}, salt="other")}) == 4
    assert canonical_json({"x": [1, 0.1]}) == '{"x":[1,0.1]}'
    with pytest.raises(TypeError):
        store.put("m:f", {"k": 3}, {1: "int key"})
    assert [r["inputs"] for r, _ in store.records()] == [{"k": 1}]


def test_atomic_write_never_shows_a_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    atomic_write(target, b"old")

    def crash(src, dst):
        assert Path(src).read_bytes() == b"new-complete" and target.read_bytes() == b"old"
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        atomic_write(target, b"new-complete")
    monkeypatch.undo()
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
    store = CellStore(tmp_path / "cells")
    monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError("full")))
    with pytest.raises(OSError):
        store.put("m:f", {}, {"a": np.ones(3)})
    assert not list(store.root.glob("*.json")), "no record without its arrays"


# --- `mecoffload sweep` killed with SIGKILL, then resumed ------------------------------------

# 10 cells in order (value x policy): eight short ones, then two of 1000 slots (~1 s each), so
# the run is killed while it computes a long cell, whatever the machine's speed
KILL_ARGS = ["sweep", "--param", "sim.horizon_slots", "--values", "20,21,22,23,1000", "-p", "random,lacs", "-n", "2",
             "--seed", "3", "--json"]
N_CELLS = 10


def _cli(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-m", "mecoffload.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """cell file -> (inode, mtime ns): a file the store writes again gets a new inode (os.replace)."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.json")}


def test_cli_sweep_killed_with_sigkill_then_resumed(tmp_path, capsys):
    from mecoffload.cli import main

    out = tmp_path / "sweep"
    cells = partial_path(out) / "cells"
    proc = _cli([*KILL_ARGS, "--out", str(out)])
    deadline = time.monotonic() + 120
    while len(_stamps(cells)) < 3:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the sweep stored no cells"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _stamps(cells)
    assert 3 <= len(before) < N_CELLS and not out.exists(), "a killed run is only ever a .partial folder"
    assert main([*KILL_ARGS, "--out", str(out)]) == 2, "an unfinished run is not overwritten"
    assert "--resume" in capsys.readouterr().err
    done = _cli([*KILL_ARGS, "--out", str(out), "--resume"])
    stdout, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr
    assert out.is_dir() and not partial_path(out).exists()
    after = _stamps(out / "cells")
    assert {k: after[k] for k in before} == before, "no finished cell was computed again"
    assert len(after) == N_CELLS, "only the missing cells were computed"
    assert main([*KILL_ARGS, "--out", str(tmp_path / "whole")]) == 0  # the same sweep, never interrupted
    whole = capsys.readouterr().out.strip().splitlines()[-1]
    assert stdout.strip().splitlines()[-1] == whole
    assert (out / "sweep.json").read_text() == (tmp_path / "whole" / "sweep.json").read_text()


# --- run folders ------------------------------------------------------------------------------

def test_run_folder_rules(tmp_path):
    said: list[str] = []
    out = tmp_path / "run"
    with run_folder(out) as folder:
        assert folder == partial_path(out) and folder.is_dir() and not out.exists()
        (folder / "metrics.csv").write_text("x")
    assert (out / "metrics.csv").exists() and not partial_path(out).exists()
    with pytest.raises(UserError, match="--resume to continue it or --force"):
        open_run_folder(out)
    assert open_run_folder(out, resume=True) == partial_path(out) and (partial_path(out) / "metrics.csv").exists()
    with pytest.raises(UserError, match="unfinished run"):
        open_run_folder(out)
    folder = open_run_folder(out, force=True, say=said.append)
    assert said == [f"replacing the existing run folder {out} (--force)"] and not any(folder.iterdir())
    (tmp_path / "empty").mkdir()
    assert open_run_folder(tmp_path / "empty") == tmp_path / "empty.partial"
    (tmp_path / "file").write_text("x")
    for bad, msg in [(tmp_path / "file", "not a folder"), (tmp_path / "file" / "sub", "cannot create")]:
        with pytest.raises(UserError, match=msg):
            open_run_folder(bad)
    with pytest.raises(UserError, match="cannot create"):
        open_run_folder(Path("/proc/mecoffload-run"))
    with pytest.raises(UserError, match="exclude each other"):
        open_run_folder(out, resume=True, force=True)
    (tmp_path / "r" / "a.partial").mkdir(parents=True)
    assert fresh_run_path(tmp_path / "r", "a") == tmp_path / "r" / "a-2"


def test_staged_output_replaces_only_on_success(tmp_path):
    said: list[str] = []
    ck = tmp_path / "ck"
    with staged_output(ck) as stage:
        assert stage == partial_path(ck) and not ck.exists()
        (stage / "config.json").write_text("1")
    assert (ck / "config.json").read_text() == "1" and not stage.exists()
    with pytest.raises(UserError, match="already holds a checkpoint; use --force"):
        with staged_output(ck):
            pass
    with pytest.raises(RuntimeError):
        with staged_output(ck, force=True, say=said.append) as stage:
            (stage / "config.json").write_text("2")
            raise RuntimeError("training diverged")
    assert (ck / "config.json").read_text() == "1" and not stage.exists(), "a failed training keeps the old one"
    (stage / "leftover").mkdir(parents=True)  # an earlier aborted write
    with staged_output(ck, force=True, say=said.append) as stage:
        assert not any(stage.iterdir())
        (stage / "model.safetensors").write_text("3")
    assert sorted(p.name for p in ck.iterdir()) == ["model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert said == [f"replacing the existing checkpoint {ck} (--force)"] * 2


def test_fingerprint_finds_checkpoints_anywhere_in_a_spec(tmp_path):
    from mecoffload.core.errors import CheckpointError
    from mecoffload.eval.store import check_fingerprint, fingerprint

    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "config.json").write_text("{}")
    specs = [f"dqn:{ck}", f"mec:setnet:{ck}", f"dl-tier:desc,{ck}"]
    prints = {fingerprint(s) for s in specs}
    assert len(prints) == 1 and "" not in prints and fingerprint("lacs:3,0.3") == fingerprint("random") == ""
    check_fingerprint(specs[0], fingerprint(specs[0]))
    (ck / "config.json").write_text('{"retrained": 1}')
    with pytest.raises(CheckpointError, match="differs"):
        check_fingerprint(specs[0], prints.pop())
