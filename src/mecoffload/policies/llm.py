"""LLM policies (``mecoffload.llm``; needs the 'llm' extra, imported lazily inside the factories).

- ``llm-zeroshot:BACKBONE`` — pretrained model prompted with the goal, no training (seed 000);
  BACKBONE = smollm2-135m, gemma3-270m, a local HF folder, or tiny (random test model).
- ``llm-sft:FOLDER``, ``llm-grpo:FOLDER``, ``comllm:FOLDER`` — checkpoints written by
  ``mecoffload train llm-sft|llm-grpo|comllm`` (seed 001).
"""

from __future__ import annotations

from ..sim.params import Params
from .base import PolicyError, register


def _guard(fn):
    from ..learn.checkpoint import CheckpointError
    from ..llm import LLMError

    try:
        return fn()
    except (LLMError, CheckpointError) as exc:
        raise PolicyError(str(exc)) from None


@register("llm-zeroshot", "pretrained LLM prompted with the goal, no training (seed 000): llm-zeroshot:BACKBONE")
def _zeroshot(p: Params, arg: str | None = None):
    if not arg:
        raise PolicyError("llm-zeroshot needs a backbone: llm-zeroshot:smollm2-135m (or gemma3-270m, a local model folder)")
    from ..llm.policy import LLMPolicy

    return _guard(lambda: LLMPolicy.zero_shot(arg, p))


def _factory(kind: str):
    def make(p: Params, arg: str | None = None):
        if not arg:
            raise PolicyError(f"{kind} needs a checkpoint folder: {kind}:PATH (train one with `mecoffload train {kind}`)")
        from ..llm.policy import LLMPolicy

        return _guard(lambda: LLMPolicy.from_checkpoint(arg, p, kind))

    return make


register("llm-sft", "LLM fine-tuned on oracle labels with LoRA (seed 001 SFT): llm-sft:FOLDER")(_factory("llm-sft"))
register("llm-grpo", "LLM SFT + GRPO with the one-step reward -J (seed 001): llm-grpo:FOLDER")(_factory("llm-grpo"))
register("comllm", "LLM SFT + GRPO with the LACS reward (seed 001 COMLLM): comllm:FOLDER")(_factory("comllm"))
