"""Checkpoints: tensors in safetensors + a JSON config, never pickle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed or does not fit the scenario (one line for the user)."""


INSTALL_HINT = "pip install torch==2.13.0 && pip install -e '.[rl]'"


def require_torch():
    """Import torch or raise a one-line error with the install command."""
    try:
        import torch
    except ImportError:
        raise CheckpointError(f"this needs PyTorch (the 'rl' extra): {INSTALL_HINT}") from None
    return torch


def save_checkpoint(folder: Path, tensors: dict, config: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``folder`` (created if needed)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    return folder


def load_checkpoint(folder: str | Path, kind: str) -> tuple[dict, dict[str, Any]]:
    """Return (tensors, config); checks that the checkpoint was written for ``kind``."""
    require_torch()
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg_path, w_path = folder / "config.json", folder / "model.safetensors"
    if not cfg_path.exists() or not w_path.exists():
        raise CheckpointError(f"no {kind} checkpoint in '{folder}' (expected config.json and model.safetensors)")
    try:
        config = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{cfg_path}: invalid JSON ({exc.msg})") from None
    if config.get("kind") != kind:
        raise CheckpointError(f"'{folder}' holds a '{config.get('kind')}' checkpoint, not '{kind}'")
    return load_file(str(w_path)), config
