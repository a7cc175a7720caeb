"""Guards of every training loop (dqn, setnet, dl-tier, the LLM learners): a loss that is NaN or
infinite aborts training with one :class:`TrainingError` line (exit 2 in the CLI) instead of
training on and writing a checkpoint of NaN weights. Checkpoint commands write into a staged
folder (``mecoffload.eval.runfolder.staged_output``), so an aborted run leaves nothing behind.
"""

from __future__ import annotations

import math

from ..core.errors import UserError


class TrainingError(UserError):
    """Training diverged (a non-finite loss); the message names the loss, the step and a hint."""


def finite_loss(value: float, what: str, step: int, hint: str = "a lower learning rate") -> float:
    """``value`` (a loss, as a Python float) if finite; else a TrainingError naming ``what`` (e.g.
    'SFT loss'), the 0-based ``step`` and ``hint``."""
    value = float(value)
    if not math.isfinite(value):
        raise TrainingError(f"training aborted: the {what} is {value} at step {step + 1}; no checkpoint was written "
                            f"(try {hint})")
    return value
