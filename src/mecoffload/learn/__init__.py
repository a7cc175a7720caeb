"""Learners. Each learner module exposes

    train(scenario: Scenario, out: Path, steps: int | None, seed: int, progress: bool, **kwargs) -> dict

which writes a checkpoint folder (``model.safetensors`` + ``config.json`` + ``curve.png``) and
returns a summary dict; LLM learners also accept ``backbone=...``. ``mecoffload train <kind>``
dispatches through ``TRAINERS``, a :class:`mecoffload.core.registry.Registry` whose entries are
``"module:train"`` strings, imported only when used (learners need torch).
"""

from ..core.errors import UserError
from ..core.registry import Registry

TRAINERS: Registry = Registry("learner", UserError)
"""kind -> train function (lazy ``"module:train"`` entries)"""

TRAINERS.lazy("dqn", "mecoffload.learn.dqn:train", "double + dueling DQN on the flat observation (fixed number of servers)")
TRAINERS.lazy("setnet", "mecoffload.learn.setnet:train", "permutation-equivariant set policy: imitation + GRPO with LACS")
TRAINERS.lazy("setnet-dnn", "mecoffload.learn.setnet_dnn:train", "DNN tasks: set policy over (split, server) candidates, DAgger imitation of dnn-oracle")
DNN_LEARNERS = frozenset({"setnet-dnn"})
"""the learners of DNN-split tasks; the others take generic tasks (action = a server or the device)"""
# LLM learners (the 'llm' extra); each accepts backbone=...
TRAINERS.lazy("llm-sft", "mecoffload.llm.sft:train", "LLM fine-tuned on oracle labels with LoRA (seed 001 SFT)")
TRAINERS.lazy("llm-grpo", "mecoffload.llm.grpo:train", "LLM SFT + GRPO with the one-step reward -J (seed 001)")
TRAINERS.lazy("comllm", "mecoffload.llm.comllm:train", "LLM SFT + GRPO with the LACS reward (seed 001 COMLLM)")
