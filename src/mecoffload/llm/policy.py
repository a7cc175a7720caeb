"""LLM policies behind the common ``Policy`` protocol: one batched forward pass per decision step.

- ``LLMPolicy.from_checkpoint(folder, p)``: an ``llm-sft`` / ``llm-grpo`` / ``comllm`` checkpoint
  (LoRA stages merged into the backbone for speed; numeric encoder if the checkpoint has one).
- ``LLMPolicy.zero_shot(backbone, p)``: the pretrained model prompted with the goal, no training
  (seed 000); the goal is the task's latency, or the maximum server delay when local execution
  is forbidden (seed 000's load-balancing setting).

Greedy: the action is the argmax of the exact distribution over the E+1 labels.

The factories ``zero_shot_policy``, ``sft_policy``, ``grpo_policy`` and ``comllm_policy``
(``(params, arg) -> LLMPolicy``) are what the policy registry (``mecoffload.policies.base``)
reaches by name for ``llm-zeroshot:BACKBONE``, ``llm-sft:FOLDER``, ``llm-grpo:FOLDER`` and
``comllm:FOLDER``; every failure to build one is a one-line ``PolicyError``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.checkpoint import CONFIG, load_checkpoint, read_config
from ..core.errors import CheckpointError, PolicyError
from ..policies.compressed import load_compressed_llm
from ..sim.dynamics import Obs
from ..sim.params import Params
from . import LLMError
from .model import load_backbone
from .prompt import PromptConfig
from .scoring import TextScorer
from .sft import LLMConfig, build_policy_model, split_tensors

KINDS = ("llm-sft", "llm-grpo", "comllm")


class LLMPolicy:
    name = "llm"

    def __init__(self, scorer, p: Params, info: dict):
        self.scorer, self.p, self.info = scorer, p, info
        self.feature_set = getattr(scorer, "feature_set", 1)  # encoder input (ONNX export reads it too)
        self.scorer.prefix.frozen = True  # weights are fixed: cache the prefix once

    @classmethod
    def from_checkpoint(cls, folder: str, p: Params, kind: str | None = None, perturbation: str | None = None) -> "LLMPolicy":
        if kind is None and (Path(folder) / CONFIG).is_file():
            kind = read_config(folder).get("kind")
            if kind not in KINDS:
                raise CheckpointError(f"'{folder}' holds a '{kind}' checkpoint, not an LLM one ({', '.join(KINDS)})")
        config = read_config(folder) if (Path(folder) / CONFIG).is_file() else {}
        if "compression" in config and config.get("kind") == kind:  # `mecoffload compress`: full weights
            info = {"kind": kind, "backbone": config["backbone"], "mode": config["llm"].get("mode", "text")}
            return cls(load_compressed_llm(folder, config, p), p, info)
        tensors, config = load_checkpoint(folder, kind or "comllm")
        cfg = LLMConfig.from_dict(config["llm"])
        stages, enc = split_tensors(tensors)
        tr = build_policy_model(config["backbone"], cfg, p, stages, enc, trainable=False)
        if perturbation and cfg.mode == "text":
            tr.scorer.cfg = replace(tr.scorer.cfg, perturbation=perturbation)
        return cls(tr.scorer, p, {"kind": kind, "backbone": config["backbone"], "mode": cfg.mode})

    @classmethod
    def zero_shot(cls, backbone: str, p: Params, style: str = "standard", perturbation: str | None = None) -> "LLMPolicy":
        bb = load_backbone(backbone)
        cfg = PromptConfig(style=style, perturbation=perturbation or "standard",
                           goal="latency" if p.allow_local else "maxdelay")
        return cls(TextScorer(bb.model, bb.tokenizer, p, cfg), p, {"kind": "llm-zeroshot", "backbone": backbone, "mode": "text"})

    def reset(self, batch: int) -> None:
        pass

    def log_probs(self, obs: Obs):
        import torch

        with torch.inference_mode():
            return self.scorer.log_probs(obs, grad=False)

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        if len(obs) == 0:
            return np.zeros(0, np.int64)
        if hasattr(self.scorer, "p") and self.scorer.p.n_servers != obs.n_servers:
            pass  # prompts and the encoder take any number of servers
        return self.log_probs(obs).argmax(1).numpy().astype(np.int64)


def _guard(build: Callable[[], LLMPolicy]) -> LLMPolicy:
    """Build a policy; a missing extra, an unknown backbone or a bad checkpoint is a PolicyError."""
    try:
        return build()
    except (LLMError, CheckpointError) as exc:
        raise PolicyError(str(exc)) from None


def zero_shot_policy(p: Params, arg: str | None = None) -> LLMPolicy:
    """``llm-zeroshot:BACKBONE``: smollm2-135m, gemma3-270m, a local HF folder, or tiny (random test model)."""
    if not arg:
        raise PolicyError("llm-zeroshot needs a backbone: llm-zeroshot:smollm2-135m (or gemma3-270m, a local model folder)")
    return _guard(lambda: LLMPolicy.zero_shot(arg, p))


def _checkpoint_policy(kind: str) -> Callable[[Params, str | None], LLMPolicy]:
    def make(p: Params, arg: str | None = None) -> LLMPolicy:
        if not arg:
            raise PolicyError(f"{kind} needs a checkpoint folder: {kind}:PATH (train one with `mecoffload train {kind}`)")
        return _guard(lambda: LLMPolicy.from_checkpoint(arg, p, kind))

    make.__doc__ = f"``{kind}:FOLDER``: a checkpoint written by ``mecoffload train {kind}``."
    return make


sft_policy = _checkpoint_policy("llm-sft")
grpo_policy = _checkpoint_policy("llm-grpo")
comllm_policy = _checkpoint_policy("comllm")
