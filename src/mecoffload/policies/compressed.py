"""The hook by which ``setnet:FOLDER`` and ``dqn:FOLDER`` read an int8 compressed folder.

``mecoffload compress --quantize int8`` stores int8 weights with their scales (tensors only);
rebuilding the quantised modules is done by ``mecoffload.compress.models.load_int8_module``,
reached by name (a higher layer). fp32 compressed folders are ordinary checkpoints and need no hook.
"""

from __future__ import annotations

from pathlib import Path

from ..core.checkpoint import CONFIG, read_config
from ..core.errors import CheckpointError
from ..core.registry import Registry

LOADERS: Registry = Registry("compressed model loader", CheckpointError)
LOADERS.lazy("int8", "mecoffload.compress.models:load_int8_module",
             "(folder, kind, schema, build) -> (int8 torch module, config)")
LOADERS.lazy("llm", "mecoffload.compress.models:load_llm",
             "(folder, config, params) -> the scorer of a compressed LLM policy folder")


def int8_folder(folder: str | None) -> bool:
    """True when ``folder`` holds a compressed checkpoint with int8 weights."""
    if not folder or not (Path(folder) / CONFIG).is_file():
        return False
    comp = read_config(folder).get("compression")
    return isinstance(comp, dict) and comp.get("quantize") == "int8"


def load_int8_module(folder: str, kind: str, schema, build):
    """(module, validated config dict) of an int8 compressed folder (``mecoffload.compress.models``)."""
    return LOADERS.get("int8")(folder, kind, schema, build)


def load_compressed_llm(folder: str, config: dict, params):
    """The model of a compressed LLM policy folder (``mecoffload.compress.models.load_llm``, by name)."""
    return LOADERS.get("llm")(folder, config, params)
