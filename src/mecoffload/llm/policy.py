"""LLM policies behind the common ``Policy`` protocol: one batched forward pass per decision step.

- ``LLMPolicy.from_checkpoint(folder, p)``: an ``llm-sft`` / ``llm-grpo`` / ``comllm`` checkpoint
  (LoRA stages merged into the backbone for speed; numeric encoder if the checkpoint has one).
- ``LLMPolicy.zero_shot(backbone, p)``: the pretrained model prompted with the goal, no training
  (seed 000); the goal is the task's latency, or the maximum server delay when local execution
  is forbidden (seed 000's load-balancing setting).

Greedy: the action is the argmax of the exact distribution over the E+1 labels.
"""

from __future__ import annotations

import numpy as np

from ..sim.dynamics import Obs
from ..sim.params import Params
from .prompt import PromptConfig

KINDS = ("llm-sft", "llm-grpo", "comllm")


class LLMPolicy:
    name = "llm"

    def __init__(self, scorer, p: Params, info: dict):
        self.scorer, self.p, self.info = scorer, p, info
        self.scorer.prefix.frozen = True  # weights are fixed: cache the prefix once

    @classmethod
    def from_checkpoint(cls, folder: str, p: Params, kind: str | None = None, perturbation: str | None = None) -> "LLMPolicy":
        from ..learn.checkpoint import load_checkpoint
        from .sft import LLMConfig, build_policy_model, split_tensors

        import json
        from pathlib import Path

        cfg_path = Path(folder) / "config.json"
        if kind is None and cfg_path.exists():
            kind = json.loads(cfg_path.read_text()).get("kind")
        tensors, config = load_checkpoint(folder, kind or "comllm")
        cfg = LLMConfig.from_dict(config["llm"])
        stages, enc = split_tensors(tensors)
        tr = build_policy_model(config["backbone"], cfg, p, stages, enc, trainable=False)
        if perturbation and cfg.mode == "text":
            from dataclasses import replace

            tr.scorer.cfg = replace(tr.scorer.cfg, perturbation=perturbation)
        return cls(tr.scorer, p, {"kind": kind, "backbone": config["backbone"], "mode": cfg.mode})

    @classmethod
    def zero_shot(cls, backbone: str, p: Params, style: str = "standard", perturbation: str | None = None) -> "LLMPolicy":
        from .model import load_backbone
        from .scoring import TextScorer

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
