"""Retry every example of issue 13's "Why" section as a new user would (a script, not a test module):

    PYTHONPATH=src python tests/issue13_examples.py [--only SUBSTRING]

Each example runs ``python -m mecoffload.cli ...`` in a fresh temporary folder with a time limit and
is classified: ``ok-2`` (exit 2, exactly one ``error:`` line, no traceback, nothing written where it
must not be), ``ok-0`` (exit 0 where the input is valid, output checked: valid finite JSON), or a
failure (``exit 1``, ``traceback``, ``hang``, ``lines``, ``nan``, ``written``, ``rc``). Prints one row
per example and the counts; exits 1 if any example fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
TINY = ["-n", "1", "--set", "sim.horizon_slots=3", "--no-plots"]
TIER = ["--seeds", "1", "-d", "5", "--set", "sim.horizon_s=2", "--set", "sim.warmup_s=0"]


def setup(t: Path) -> None:
    (t / "garbage.toml").write_bytes(os.urandom(512))
    (t / "bom.toml").write_bytes(b"\xef\xbb\xbf\xff\xfe[edge]\n")
    (t / "empty.toml").write_bytes(b"")
    (t / "dir.toml").mkdir()
    (t / "afile").write_text("x")
    os.mkfifo(t / "fifo.toml")
    shutil.copytree(FIX / "ecs_small", t / "ecs")
    shutil.copytree(FIX / "ecs_small", t / "ecs-fifo")
    (t / "ecs-fifo" / "applications.xml").unlink()
    os.mkfifo(t / "ecs-fifo" / "applications.xml")
    (t / "run").mkdir()
    (t / "run" / "metrics.csv").write_text("an earlier run\n")
    (t / "ck").mkdir()
    (t / "ck" / "config.json").write_text('{"kind": "dqn"}')
    (t / "ck" / "model.safetensors").write_bytes(b"")
    (t / "imported.toml").write_text("# the user's file\n")
    (t / "array.toml").write_text("[task]\nsize_mbit = [" + ",".join(["1"] * 5_000_000) + "]\n")  # 10 MB


def checkpoints(t: Path) -> None:
    """Bad checkpoints: truncated weights, config that is a list, out-of-range index, wrong types."""
    import torch
    from safetensors.torch import save_file

    from mecoffload.policies.setnet import SetNetCheckpoint, setnet_tensor_shapes
    from mecoffload.tiers.dlnet import DlTierCheckpoint, dl_tensor_shapes

    good = {k: torch.zeros(s) for k, s in setnet_tensor_shapes(SetNetCheckpoint.model_validate({"kind": "setnet", "hidden": 4})).items()}
    dl = {k: torch.zeros(s) for k, s in dl_tensor_shapes(DlTierCheckpoint.model_validate({"kind": "dl-tier", "tier_layers": 4, "vm_layers": 3})).items()}
    for name, cfg, tensors in [("trunc", {"kind": "setnet", "hidden": 4}, good), ("list", [1, 2], good),
                               ("hidden", {"kind": "setnet", "hidden": "4"}, good),
                               ("index", {"kind": "setnet", "hidden": 4, "n_servers": 10**12}, good),
                               ("tierlayers", {"kind": "dl-tier", "tier_layers": "four", "vm_layers": 3}, dl)]:
        f = t / f"ck-{name}"
        f.mkdir()
        (f / "config.json").write_text(json.dumps(cfg))
        save_file(tensors, str(f / "model.safetensors"))
    raw = (t / "ck-trunc" / "model.safetensors").read_bytes()
    (t / "ck-trunc" / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    dqn = json.loads((ROOT / "checkpoints" / "dqn-comllm" / "config.json").read_text())
    dqn["input_index"] = [10**9] * len(dqn.get("input_index", [0]))
    f = t / "ck-dqnindex"
    shutil.copytree(ROOT / "checkpoints" / "dqn-comllm", f)
    (f / "config.json").write_text(json.dumps(dqn))


# (name, argv, expect, must-not-exist-after) ; expect 2 = one error line, 0 = success with finite JSON
EX = [
    # 27 tracebacks
    ("toml random bytes", ["evaluate", "-s", "{t}/garbage.toml", *TINY], 2, None),
    ("toml with BOM", ["evaluate", "-s", "{t}/bom.toml", *TINY], 2, None),
    ("folder as scenario", ["evaluate", "-s", "{t}/dir.toml", *TINY], 2, None),
    ("scenarios --show folder", ["scenarios", "--show", "{t}/dir.toml"], 2, None),
    ("scenarios --show bytes", ["scenarios", "--show", "{t}/garbage.toml"], 2, None),
]
for cmd in (["evaluate", "-p", "random", *TINY], ["sweep", "--param", "E", "--values", "3", "-p", "random", "-n", "1"],
            ["train", "dqn", "--steps", "10"], ["tier-train", "--samples", "100"], ["tier-eval", *TIER],
            ["experiment", "comllm", "--budget", "small"], ["llm", "data", "--sft", "4", "--grpo", "0", "--test", "0"],
            ["run-ecs", str(FIX / "ecs_small"), "--no-plots"]):
    for where, out in (("an existing file", "{t}/afile"), ("under a file", "{t}/afile/sub"), ("in /proc", "/proc/mecoffload-out")):
        EX.append((f"{cmd[0]} --out {where}", cmd + ["--out", out], 2, None))
EX += [
    ("truncated safetensors", ["evaluate", "-p", "setnet:{t}/ck-trunc", *TINY], 2, None),
    ("config.json a list", ["evaluate", "-p", "setnet:{t}/ck-list", *TINY], 2, None),
    ("config.json index out of range", ["evaluate", "-p", "dqn:{t}/ck-dqnindex", *TINY], 2, None),
    ("setnet hidden wrong type", ["evaluate", "-p", "setnet:{t}/ck-hidden", *TINY], 2, None),
    ("dl-tier tier_layers wrong type", ["tier-eval", "-p", "dl-tier:{t}/ck-tierlayers", *TIER], 2, None),
    ("lacs future lo > hi", ["evaluate", "--set", "lacs.future_size_lo=5", "--set", "lacs.future_size_hi=0.1", *TINY], 2, None),
    # 3 hangs / memory blow-ups
    ("FIFO scenario", ["evaluate", "-s", "{t}/fifo.toml", *TINY], 2, None),
    ("FIFO in an EdgeCloudSim folder", ["run-ecs", "{t}/ecs-fifo", "--no-plots"], 2, None),
    ("FIFO in import-ecs", ["import-ecs", "{t}/ecs-fifo", "--out", "{t}/x.toml"], 2, "{t}/x.toml"),
    ("ga pop 1e8", ["evaluate", "-p", "ga:pop=100000000", *TINY], 2, None),
    ("tier-eval -d 1e8", ["tier-eval", "-d", "100000000", "--seeds", "1"], 2, None),
    # NaN
    ("no task completes: --json", ["evaluate", "-p", "random", "--set", "task.deadline_slots=1", "--json", *TINY, "--out", "{t}/nan"], 0, None),
    ("tier-eval microsecond deadline", ["tier-eval", "--set", "apps.0.deadline_s=0.000001", "--json", *TIER], 0, None),
    ("llm finetune --lr-sft nan", ["llm", "finetune", "llm-sft", "-b", "tiny", "-o", "{t}/llm", "--lr-sft", "nan"], 2, "{t}/llm"),
    ("llm finetune --lr-sft -1e-4", ["llm", "finetune", "llm-sft", "-b", "tiny", "-o", "{t}/llm", "--lr-sft", "-1e-4"], 2, "{t}/llm"),
    ("llm finetune --lr-grpo -1", ["llm", "finetune", "llm-grpo", "-b", "tiny", "-o", "{t}/llm", "--lr-grpo", "-1"], 2, "{t}/llm"),
    # README policy specs
    ("-p lacs:3,0.3", ["evaluate", "-p", "lacs:3,0.3", "--json", *TINY, "--out", "{t}/lacs"], 0, None),
    ("-p ga:pop=8,gens=2", ["evaluate", "-p", "ga:pop=8,gens=2", "--json", *TINY, "--out", "{t}/ga"], 0, None),
    ("-p 'lacs:k=3,lambda=0.3' -p ga", ["evaluate", "-p", "lacs:k=3,lambda=0.3", "-p", "ga:pop=8,gens=2", "--json", *TINY, "--out", "{t}/both"], 0, None),
    # results replaced
    ("evaluate --out existing run", ["evaluate", "-p", "random", *TINY, "--out", "{t}/run"], 2, None),
    ("sweep --out existing run", ["sweep", "--param", "E", "--values", "3", "-p", "random", "-n", "1", "--out", "{t}/run"], 2, None),
    ("run-ecs --out existing run", ["run-ecs", str(FIX / "ecs_small"), "--no-plots", "--out", "{t}/run"], 2, None),
    ("train --out existing checkpoint", ["train", "dqn", "--steps", "10", "--out", "{t}/ck"], 2, None),
    ("import-ecs over the user's TOML", ["import-ecs", str(FIX / "ecs_small"), "--out", "{t}/imported.toml"], 2, None),
    # 17 silent accepts
    ("empty TOML", ["evaluate", "-s", "{t}/empty.toml", *TINY], 2, None),
    ("edge.count=true", ["evaluate", "--set", "edge.count=true", *TINY], 2, None),
    ("-p local, allow_local=false", ["evaluate", "-s", "loadbalance", "-p", "local", *TINY], 2, None),
    ("-p local, --set cost.allow_local=false", ["evaluate", "--set", "cost.allow_local=false", "-p", "local", *TINY], 2, None),
    ("random:xyz", ["evaluate", "-p", "random:xyz", *TINY], 2, None),
    ("tier random:xyz", ["tier-eval", "-p", "random:xyz", *TIER], 2, None),
    ("sweep --values 3,3", ["sweep", "--param", "E", "--values", "3,3", "-p", "random", "-n", "1"], 2, None),
    ("sweep --values 3,3.0", ["sweep", "--param", "E", "--values", "3,3.0", "-p", "random", "-n", "1"], 2, None),
    ("tier-eval -d ''", ["tier-eval", "-d", "", "--seeds", "1"], 2, None),
    ("llm data all zero", ["llm", "data", "--sft", "0", "--grpo", "0", "--test", "0", "--out", "{t}/d"], 2, "{t}/d"),
    ("--layers 1000", ["llm", "finetune", "llm-sft", "-b", "tiny", "-o", "{t}/llm", "--layers", "1000"], 2, "{t}/llm"),
    ("scenarios --show ''", ["scenarios", "--show", ""], 2, None),
    # cosmetic
    ("5-million-element array", ["evaluate", "-s", "{t}/array.toml", *TINY], 2, None),
    ("quiet: evaluate with plots", ["evaluate", "-p", "random", "-n", "1", "--set", "sim.horizon_slots=3", "--json", "--out", "{t}/plots"], 0, None),
    ("quiet: llm finetune 1 step", ["llm", "finetune", "llm-sft", "-b", "tiny", "-o", "{t}/llm1", "--sft-steps", "1",
                                    "--sft-states", "8", "--batch", "4"], 0, None),
    ("lacs argument range", ["evaluate", "-p", "lacs:0", *TINY], 2, None),
    ("apps.N.usage_pct range", ["tier-eval", "--set", "apps.0.usage_pct=500", *TIER], 2, None),
]


def finite(doc) -> bool:
    if isinstance(doc, float):
        return math.isfinite(doc)
    if isinstance(doc, dict):
        return all(finite(v) for v in doc.values())
    if isinstance(doc, list):
        return all(finite(v) for v in doc)
    return True


def run_one(argv: list[str], t: Path, limit_s: float) -> tuple[int | None, str, str, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), MECOFFLOAD_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mecoffload.cli", *argv], cwd=t, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit_s)
        return proc.returncode, out, err, time.perf_counter() - t0
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err, time.perf_counter() - t0


def classify(expect: int, rc, out: str, err: str, gone: Path | None) -> str:
    if rc is None:
        return "hang"
    if "Traceback" in err + out:
        return "traceback"
    if rc == 1:
        return "exit 1"
    if rc != expect:
        return f"rc {rc}"
    if expect == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if len(lines) != 1 or not lines[0].startswith("error:") or len(lines[0]) > 500:
            return "lines"
    else:
        try:
            doc = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return "json"
        if not finite(doc):
            return "nan"
        if "Warning" in err:  # third-party warnings are hidden unless --verbose
            return "warnings"
    if gone is not None and (gone.exists() or Path(str(gone) + ".partial").exists()):
        return "written"
    return f"ok-{expect}"


def ctrl_c(t: Path) -> str:
    """Ctrl-C mid-run: 'aborted: ...', exit 130, the .partial folder kept and no final folder."""
    out = t / "interrupted"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), MECOFFLOAD_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "mecoffload.cli", "evaluate", "-p", "all", "-n", "200", "--no-plots",
                             "--out", str(out)], cwd=t, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not Path(str(out) + ".partial").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "hang"
    if "Traceback" in err:
        return "traceback"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    ok = proc.returncode == 130 and any(ln.startswith("aborted") for ln in lines) and Path(str(out) + ".partial").is_dir() \
        and not out.exists()
    return "ok-130" if ok else f"ctrl-c rc {proc.returncode}: {lines[-1:] if lines else ''}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--limit", type=float, default=240.0, help="seconds per example before it counts as a hang")
    args = ap.parse_args()
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        setup(t)
        checkpoints(t)
        for name, argv, expect, gone in EX:
            if args.only not in name:
                continue
            argv = [a.replace("{t}", tmp) for a in argv]
            rc, out, err, wall = run_one(argv, t, args.limit)
            verdict = classify(expect, rc, out, err, Path(gone.replace("{t}", tmp)) if gone else None)
            counts[verdict] = counts.get(verdict, 0) + 1
            line = next((ln for ln in err.splitlines() if ln.startswith("error:")), err.strip().splitlines()[-1] if err.strip() else "")
            print(f"{verdict:10s} {wall:6.1f}s  {name:40s} {line[:110]}", flush=True)
        if args.only in "ctrl-c":
            verdict = ctrl_c(t)
            counts[verdict] = counts.get(verdict, 0) + 1
            print(f"{verdict:10s}          Ctrl-C mid-run keeps the .partial folder", flush=True)
    print(json.dumps(counts, sort_keys=True))
    return 0 if all(k.startswith("ok") for k in counts) else 1


if __name__ == "__main__":
    sys.exit(main())
