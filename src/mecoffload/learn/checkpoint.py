"""Checkpoint IO lives in :mod:`mecoffload.core.checkpoint`; this module re-exports it for old imports."""

from ..core.checkpoint import CheckpointError, load_checkpoint, read_config, require_torch, save_checkpoint

__all__ = ["CheckpointError", "load_checkpoint", "read_config", "require_torch", "save_checkpoint"]
