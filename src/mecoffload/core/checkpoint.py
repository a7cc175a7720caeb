"""Checkpoints: tensors in safetensors + a JSON config, never pickle.

A checkpoint is a folder with ``model.safetensors`` (the tensors) and ``config.json`` (a JSON
object whose ``kind`` names the policy it was written for, e.g. ``dqn``, ``setnet``, ``comllm``).
Both files are written atomically: to a temporary file in the same folder, then ``os.replace``,
so that a crash never leaves a half-written file under the final name. Every failure to read
one is a one-line :class:`~mecoffload.core.errors.CheckpointError` naming the file.

Validation before use: :func:`load_checkpoint` checks the ``kind``, then (given a ``schema``, a
:class:`CheckpointConfig` subclass) every config field the loader reads — strict types, ranges,
cross-field rules — then (given ``shapes``, a function of the validated config) the name, shape
and dtype of every tensor, and always that every floating-point weight is finite. A checkpoint
that passes can be built without any further error. Errors name the file and the field or tensor.

torch and safetensors (the ``rl`` extra) are imported when a checkpoint is read or written,
through :func:`~mecoffload.core.optional.require`.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from .errors import CheckpointError, MissingExtraError, ScenarioError, clip
from .optional import require
from .scenario import validate_model

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
MAX_CONFIG_BYTES = 16 * 2**20
"""a config.json larger than this (16 MiB) is refused before it is read"""

Shapes = Callable[[Any], dict[str, tuple[int, ...]]]
"""validated config -> {tensor name: shape} of every tensor the checkpoint must hold"""


class CheckpointConfig(BaseModel):
    """Base of the schema of one checkpoint kind's ``config.json``: declare the fields the loader
    reads (strict types, ``Field`` bounds, validators); other keys (training settings, provenance)
    are kept and not checked."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False, frozen=True)

    kind: str


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
        raise CheckpointError(f"no checkpoint in '{clip(folder)}' (expected {CONFIG} and {WEIGHTS})")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{clip(path)}: too large for a config ({path.stat().st_size / 2**20:.1f} MiB)")
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


def load_checkpoint(folder: str | Path, kind: str, schema: type[CheckpointConfig] | None = None,
                    shapes: Shapes | None = None, dtype: str = "float32") -> tuple[dict, dict[str, Any]]:
    """Return (tensors, config) of a checkpoint written for ``kind``, validated (module docstring):
    ``config`` against ``schema``, the tensors against ``shapes(validated config)`` and ``dtype``;
    all floating-point tensors must be finite."""
    require_torch()
    load_file = require("safetensors.torch", "rl").load_file
    folder = Path(folder)
    w_path = folder / WEIGHTS
    if not (folder / CONFIG).is_file() or not w_path.is_file():
        raise CheckpointError(f"no {kind} checkpoint in '{clip(folder)}' (expected {CONFIG} and {WEIGHTS})")
    config = read_config(folder)
    if config.get("kind") != kind:
        raise CheckpointError(f"'{clip(folder)}' holds a '{clip(config.get('kind'))}' checkpoint, not '{kind}'")
    valid = validate_config(schema, config, folder / CONFIG, kind) if schema is not None else None
    try:
        tensors = load_file(str(w_path))
    except Exception as exc:  # safetensors raises its own error type for truncated or foreign files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{clip(w_path)}: not a readable safetensors file ({clip(first)})") from None
    if shapes is not None:
        check_tensors(tensors, shapes(valid if valid is not None else config), w_path, dtype)
    check_finite(tensors, w_path)
    return tensors, config


def validate_config(schema: type[CheckpointConfig], config: dict, path: Path, kind: str) -> CheckpointConfig:
    """``config`` validated against ``schema``; a failure is one CheckpointError naming the file and the field."""
    try:
        return validate_model(schema, config, label=f"{kind} checkpoint config", where=clip(path))
    except ScenarioError as exc:
        raise CheckpointError(str(exc)) from None


def check_tensors(tensors: dict, expected: dict[str, tuple[int, ...]], path: Path, dtype: str = "float32") -> None:
    """Every tensor of ``expected`` present with its shape and ``dtype``, and no other one."""
    missing = [k for k in expected if k not in tensors]
    extra = [k for k in tensors if k not in expected]
    head = f"{clip(path)} does not match its {CONFIG}"
    if missing or extra:
        what = (f"missing {clip(', '.join(missing), 60)}" if missing else "") + \
               ("; " if missing and extra else "") + (f"unexpected {clip(', '.join(extra), 60)}" if extra else "")
        raise CheckpointError(f"{head}: {what}")
    for name, shape in expected.items():
        t = tensors[name]
        if tuple(t.shape) != tuple(shape):
            raise CheckpointError(f"{head}: tensor '{clip(name, 60)}' has shape {tuple(t.shape)}, expected {tuple(shape)}")
        if str(t.dtype).removeprefix("torch.") != dtype:
            raise CheckpointError(f"{head}: tensor '{clip(name, 60)}' is {str(t.dtype).removeprefix('torch.')}, expected {dtype}")


def check_finite(tensors: dict, path: Path) -> None:
    """Every floating-point tensor finite (no NaN, no ±inf)."""
    torch = require_torch()
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{clip(path)}: tensor '{clip(name, 60)}' holds NaN or infinite weights")
