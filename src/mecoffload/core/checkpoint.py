"""Checkpoints: tensors in safetensors + a JSON config, never pickle.

A checkpoint is a folder with ``model.safetensors`` (the tensors) and ``config.json`` (a JSON
object whose ``kind`` names the policy it was written for, e.g. ``dqn``, ``setnet``, ``comllm``).
Both files are written atomically: to a temporary file in the same folder, then ``os.replace``,
so that a crash never leaves a half-written file under the final name. Every failure to read
one is a one-line :class:`~mecoffload.core.errors.CheckpointError` naming the file.

torch and safetensors (the ``rl`` extra) are imported when a checkpoint is read or written,
through :func:`~mecoffload.core.optional.require`.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable

from .errors import CheckpointError, MissingExtraError, clip
from .optional import require

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def require_torch():
    """Import torch or raise a one-line CheckpointError with the install command of the 'rl' extra."""
    try:
        return require("torch", "rl")
    except MissingExtraError as exc:
        raise CheckpointError(str(exc)) from None


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_checkpoint(folder: Path, tensors: dict, config: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``folder`` (created if needed), each atomically."""
    require_torch()
    save_file = require("safetensors.torch", "rl").save_file
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    flat = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(folder / WEIGHTS, lambda tmp: save_file(flat, str(tmp)))
    atomic_write_text(folder / CONFIG, json.dumps(config, indent=2, sort_keys=True))
    return folder


def read_config(folder: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint folder as a dict; every problem is one CheckpointError line."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"no checkpoint in '{folder}' (expected {CONFIG} and {WEIGHTS})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: not a UTF-8 text file") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: invalid JSON ({exc.msg}, line {exc.lineno})") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(config).__name__}")
    return config


def load_checkpoint(folder: str | Path, kind: str) -> tuple[dict, dict[str, Any]]:
    """Return (tensors, config); checks that the checkpoint was written for ``kind``."""
    require_torch()
    load_file = require("safetensors.torch", "rl").load_file
    folder = Path(folder)
    w_path = folder / WEIGHTS
    if not (folder / CONFIG).is_file() or not w_path.is_file():
        raise CheckpointError(f"no {kind} checkpoint in '{folder}' (expected {CONFIG} and {WEIGHTS})")
    config = read_config(folder)
    if config.get("kind") != kind:
        raise CheckpointError(f"'{folder}' holds a '{clip(config.get('kind'))}' checkpoint, not '{kind}'")
    try:
        tensors = load_file(str(w_path))
    except Exception as exc:  # safetensors raises its own error type for truncated or foreign files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{w_path}: not a readable safetensors file ({clip(first)})") from None
    return tensors, config
