"""``mecoffload compress SPEC``: prune, quantise and export a trained policy (``mecoffload.compress``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..compress.api import Options, compress
from ..sim.params import Params
from ..sim.scenario import load_scenario
from .common import SCENARIO_OPT, SET_OPT, check_writable, err, print_summary

app = typer.Typer()


@app.command("compress")
def compress_cmd(
    spec: str = typer.Argument(..., help="trained policy: setnet:FOLDER, dqn:FOLDER, llm-sft|llm-grpo|comllm:FOLDER"),
    prune: str = typer.Option("magnitude", "--prune", help="none | magnitude (unstructured |w|) | structured (channels; LLM: heads + MLP channels)"),
    sparsity: float = typer.Option(0.4, "--sparsity", help="share of weights (magnitude) or units (structured) removed, in [0, 1)"),
    scope: str = typer.Option("layer", "--scope", help="magnitude pruning per weight matrix (layer) or over all of them (global)"),
    quantize: str = typer.Option("none", "--quantize", help="none | int8 (dynamic quantisation, int8 weights + per-channel scales)"),
    export: str = typer.Option("none", "--export", help="none | onnx (model.onnx next to the checkpoint: -p onnx:OUT)"),
    recover: int = typer.Option(0, "--recover", help="fine-tuning steps on oracle labels after pruning (0 = one-time pruning)"),
    layers: Optional[int] = typer.Option(None, "--layers", help="LLM only: keep the first N decoder layers"),
    keep_last: int = typer.Option(0, "--keep-last", help="LLM only, with --layers: also keep the last N decoder layers"),
    check_states: int = typer.Option(10_000, "--check-states", help="simulator states on which decisions are compared"),
    seed: int = typer.Option(0, "--seed", min=0),
    scenario: str = SCENARIO_OPT,
    overrides: Optional[list[str]] = SET_OPT,
    out_dir: Path = typer.Option(..., "--out", "-o", help="new folder: config.json + model.safetensors (+ model.onnx) + compress.json"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON on stdout"),
) -> int:
    """Compress a trained policy once (no retraining unless --recover); load it with the same spec
    (setnet:OUT, ...) or, with --export onnx, with onnx:OUT."""
    opt = Options(prune=prune, sparsity=sparsity, scope=scope, quantize=quantize, export=export, recover=recover,
                  layers=layers, keep_last=keep_last, check_states=check_states, seed=seed)
    opt.validate()
    check_writable(out_dir)
    p = Params.from_scenario(load_scenario(scenario, overrides))
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                  disable=not err.is_terminal, transient=True) as bar:
        task = bar.add_task("loading", total=None)
        summary = compress(spec, p, out_dir, opt, progress=lambda what: bar.update(task, description=what))
    print_summary(summary, as_json)
    err.print(f"wrote {out_dir}")
    return 0
