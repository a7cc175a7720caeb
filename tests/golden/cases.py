"""Golden outputs: the reproduced numbers that a refactor must keep bit-identical.

Each case is a CLI invocation (in-process, ``--json``) or a library call whose JSON result is
stored in ``tests/golden/<name>.json``. ``python tests/golden/cases.py`` (re)records them —
only ever in the commit of a named bug fix; ``tests/test_golden.py`` diffs them.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
VOLATILE = {"timings_s", "timing", "timing_s", "decision_ms_1task", "decision_ms", "wall_s", "elapsed_s", "seconds"}
"""keys holding wall-clock times, dropped before comparing"""


def _cli(argv: list[str]) -> dict:
    from mecoffload.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        buf = io.StringIO()
        with redirect_stdout(buf):
            rc = main(argv + ["--out", str(Path(tmp) / "out")] if "--out" not in argv and argv[0] != "tier-eval" else argv)
        assert rc == 0, f"{argv} exited {rc}"
        return json.loads(buf.getvalue().strip().splitlines()[-1])


def _evaluate(scenario: str, names: list[str], episodes: int, seed: int) -> dict:
    """Library call (policy specs with commas in their arguments)."""
    from mecoffload.eval.evaluate import evaluate
    from mecoffload.scenario import load_scenario

    runs = evaluate(load_scenario(scenario), names, episodes, seed, None)
    return {"policies": {n: r.metrics for n, r in runs.items()}}


def _experiment_comllm_tiny() -> dict:
    from mecoffload.experiments.comllm import run

    small = {"sizes": {"sft": 8, "grpo": 8, "test": 8}, "test_small": 4, "topologies": [3, 11], "task_sizes": [2],
             "text": {"batch": 4, "sft_steps": 1, "grpo_steps": 1}, "encoder": {"batch": 4, "sft_steps": 1, "grpo_steps": 1},
             "extra_encoder_backbones": []}
    with tempfile.TemporaryDirectory() as tmp:
        return run("small", Path(tmp), 0, False, backbone="tiny", overrides=small)


CASES = {
    "evaluate_comllm_all": lambda: _cli(["evaluate", "-s", "comllm", "-p", "all", "-n", "4", "--seed", "0", "--json", "--no-plots"]),
    "evaluate_comllm_ga_lacs": lambda: _evaluate("comllm", ["ga:pop=8,gens=3", "lacs:4,0.5", "least-loaded", "min-max-delay"], 2, 1),
    "evaluate_loadbalance_all": lambda: _cli(["evaluate", "-s", "loadbalance", "-p", "all", "-n", "4", "--seed", "0", "--json", "--no-plots"]),
    "sweep_comllm_E": lambda: _cli(["sweep", "--param", "E", "--values", "3,7", "-p", "random,oracle,lacs", "-n", "2", "--json"]),
    "tier_eval": lambda: _cli(["tier-eval", "-d", "40,80", "--seeds", "1", "--json"]),
    "run_ecs_small": lambda: _cli(["run-ecs", str(FIXTURES / "ecs_small"), "-p", "lacs,least-utilized", "--json", "--no-plots", "--jobs", "1"]),
    "experiment_comllm_tiny": _experiment_comllm_tiny,
}


def canonical(obj):
    """Drop wall-clock keys; return a canonical JSON string (NaN kept as NaN)."""
    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k not in VOLATILE}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o
    return json.dumps(strip(obj), sort_keys=True, indent=1)


def record(names: list[str]) -> None:
    for name in names:
        (HERE / f"{name}.json").write_text(canonical(CASES[name]()) + "\n")
        print(f"recorded {name}", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    record(sys.argv[1:] or list(CASES))
