"""``mecoffload train KIND``: train a learned policy (``mecoffload.learn.TRAINERS``) and write its checkpoint."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable, Optional

import typer

from ..core.errors import UserError
from ..core.optional import install_hint
from ..learn import DNN_LEARNERS, TRAINERS
from ..llm.sft import LLMConfig
from ..sim.scenario import load_scenario
from .common import SCENARIO_OPT, SET_OPT, check_writable, entry, err, print_summary, require_generic_tasks
from .runs import FORCE_OUT_OPT, train_into

app = typer.Typer()


def trainer(kind: str) -> Callable[..., dict]:
    """The ``train`` function of learner ``kind``; an unknown kind or a missing optional dependency
    is one UserError line."""
    return entry(TRAINERS, kind, install_hint("rl"))


@app.command("train")
def train_cmd(
    kind: str = typer.Argument(..., help="what to train (see `mecoffload train --help`): dqn, setnet, ..."),
    scenario: str = SCENARIO_OPT,
    steps: Optional[int] = typer.Option(None, "--steps", min=1, max=100_000_000, help="training budget (learner-specific unit; default: the learner's)"),
    seed: int = typer.Option(0, "--seed", min=0),
    overrides: Optional[list[str]] = SET_OPT,
    out_dir: Path = typer.Option(..., "--out", "-o", help="checkpoint folder (model.safetensors + config.json + curve.png)"),
    backbone: Optional[str] = typer.Option(None, "--backbone", help="LLM learners only: smollm2-135m, gemma3-270m or a local model folder"),
    reward: Optional[str] = typer.Option(None, "--reward", help="setnet, dqn, setnet-dnn, llm-grpo, comllm: 'realized' learns from realized outcomes (setnet, dqn: with the queue view features; setnet-dnn: GRPO after the imitation; default: the learner's estimated reward)"),
    features: Optional[int] = typer.Option(None, "--features", "--feature-set", help="LLM learners: 1 = the paper features (default), 2 = + the queue view"),
    as_json: bool = typer.Option(False, "--json", help="print the training summary as JSON on stdout"),
    force: bool = FORCE_OUT_OPT,
) -> int:
    """Train a learned policy and write its checkpoint; evaluate it with -p KIND:FOLDER."""
    train = trainer(kind)
    sc = load_scenario(scenario, overrides)
    if kind not in DNN_LEARNERS:
        require_generic_tasks(sc, f"learner '{kind}'")
    kwargs = {}
    if backbone is not None:
        if "backbone" not in inspect.signature(train).parameters:
            raise UserError(f"--backbone applies to LLM learners only, not '{kind}'")
        kwargs["backbone"] = backbone
    if reward is not None:
        if "reward" not in inspect.signature(train).parameters:
            raise UserError(f"--reward applies to setnet, dqn, setnet-dnn, llm-grpo and comllm, not '{kind}'")
        kwargs["reward"] = reward
    if features is not None:
        if "backbone" not in inspect.signature(train).parameters:
            raise UserError(f"--features applies to LLM learners only, not '{kind}' (setnet, dqn: --reward realized reads set 2)")
        kwargs["config"] = LLMConfig(feature_set=features)
    check_writable(out_dir)
    summary = train_into(out_dir, force, train, sc, steps, seed, progress=err.is_terminal, **kwargs)
    print_summary(summary, as_json)
    err.print(f"wrote checkpoint {out_dir}")
    return 0
