"""`comllm`: the full COMLLM pipeline of seed 001 — SFT on oracle labels (§IV-C), then GRPO
(§IV-D) with the LACS-shaped reward −(J + λ·C_impact) (§IV-E, eq 26; K = 3, λ = 0.3 from the
scenario's ``[lacs]`` section). Same machinery as ``llm-grpo`` (``mecoffload.llm.grpo``), only the
reward differs. ``reward="realized"`` (``llm finetune comllm --reward realized``) replaces the estimated
LACS reward by realized outcomes (``llm.grpo``'s realized GRPO), so COMLLM learns from what happens.
"""

from __future__ import annotations

from pathlib import Path

from ..learn.checkpoint import CheckpointError
from ..sim.scenario import Scenario
from .grpo import train_pipeline
from .sft import LLMConfig


def train(scenario: Scenario, out: Path, steps: int | None = None, seed: int = 0, progress: bool = False,
          backbone: str | None = None, config: LLMConfig | None = None, init: str | Path | None = None,
          data: dict | None = None, reward: str | None = None) -> dict:
    """SFT + GRPO with the LACS reward (eq 26), or ``reward="realized"`` (realized outcomes);
    ``steps`` = GRPO updates."""
    if reward not in (None, "lacs", "paper", "realized"):
        raise CheckpointError(f"--reward for comllm must be 'paper' or 'realized' (got {str(reward)[:40]!r})")
    return train_pipeline("comllm", "realized" if reward == "realized" else "lacs", scenario, out, steps, seed, progress,
                          backbone, config, init, data)
