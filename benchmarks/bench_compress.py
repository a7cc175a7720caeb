"""Decision time of compressed policies (issue 15 targets): setnet through ONNX at batch 1,024
(target ≤ 20 µs per decision) and torch fp32 / int8 beside it; with ``--encoder FOLDER`` (an
encoder-mode LLM checkpoint, e.g. on smollm2-135m) its ONNX decision for one task (target ≤ 5 ms).

Each point: 40 % magnitude pruning, compressed into a temporary folder, timed on simulator
states (median of ``--reps`` calls after one warm-up). Prints the table of docs/compress.md
(µs per decision at batch 1, 64 and 1,024, with the 1-minute load average of each row);
``--json`` the rows as JSON. Threads of onnxruntime and torch: $MECOFFLOAD_THREADS (default 1;
see ``policies.onnx.ort_session`` for why).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from mecoffload.compress.api import Options, compress
from mecoffload.llm.datasets import collect_states
from mecoffload.policies.base import make_policy
from mecoffload.scenario import load_scenario
from mecoffload.sim.params import Params

ROOT = Path(__file__).resolve().parent.parent


def per_decision_us(policy, obs, reps: int) -> float:
    policy.act(obs, None)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        policy.act(obs, None)
        ts.append(time.perf_counter() - t)
    return 1e6 * float(np.median(ts)) / len(obs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--setnet", default=str(ROOT / "checkpoints" / "setnet-comllm"))
    ap.add_argument("--encoder", default=None, help="encoder-mode LLM checkpoint folder (llm-sft/llm-grpo/comllm)")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(int(os.environ.get("MECOFFLOAD_THREADS", "0")) or 1)
    p = Params.from_scenario(load_scenario("comllm"))
    obs = collect_states(p, 1024, 5)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sources = [("setnet", f"setnet:{a.setnet}")] + ([("llm encoder", f"{json.loads((Path(a.encoder) / 'config.json').read_text())['kind']}:{a.encoder}")] if a.encoder else [])
        for name, spec in sources:
            for q in ("none", "int8"):
                out = Path(tmp) / f"{name}-{q}".replace(" ", "_")
                compress(spec, p, out, Options(sparsity=0.4, quantize=q, export="onnx", check_states=1000))
                kind = spec.split(":", 1)[0]
                for runtime, pspec in (("torch", f"{kind}:{out}"), ("onnxruntime", f"onnx:{out}")):
                    pol = make_policy(pspec, p)
                    for n in (1, 64, 1024):
                        reps = a.reps if n < 1024 or name == "setnet" else max(3, a.reps // 10)
                        us = per_decision_us(pol, obs.take(np.arange(n)), reps)
                        rows.append({"model": name, "weights": "int8" if q == "int8" else "fp32", "runtime": runtime,
                                     "batch": n, "us_per_decision": us, "loadavg": os.getloadavg()[0]})
    if a.json:
        print(json.dumps(rows))
        return
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    """The table of docs/compress.md: one row per model, weights and runtime; µs per decision."""
    print("| model | weights | runtime | batch 1 | batch 64 | batch 1,024 | load avg |\n|---|---|---|---:|---:|---:|---:|")
    keys = list(dict.fromkeys((r["model"], r["weights"], r["runtime"]) for r in rows))
    for key in keys:
        by = {r["batch"]: r for r in rows if (r["model"], r["weights"], r["runtime"]) == key}
        load = max(r["loadavg"] for r in by.values())
        print(f"| {' | '.join(key)} | " + " | ".join(f"{by[n]['us_per_decision']:,.1f}" for n in (1, 64, 1024))
              + f" | {load:.1f} |")


if __name__ == "__main__":
    main()
