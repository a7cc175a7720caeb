"""`comllm`: the full COMLLM pipeline of seed 001 — SFT on oracle labels (§IV-C), then GRPO
(§IV-D) with the LACS-shaped reward −(J + λ·C_impact) (§IV-E, eq 26; K = 3, λ = 0.3 from the
scenario's ``[lacs]`` section). Same machinery as ``llm-grpo`` (``mecoffload.llm.grpo``), only the
reward differs.
"""

from __future__ import annotations

from pathlib import Path

from ..sim.scenario import Scenario
from .grpo import train_pipeline
from .sft import LLMConfig


def train(scenario: Scenario, out: Path, steps: int | None = None, seed: int = 0, progress: bool = False,
          backbone: str | None = None, config: LLMConfig | None = None, init: str | Path | None = None,
          data: dict | None = None) -> dict:
    """SFT + GRPO with the LACS reward (eq 26); ``steps`` = GRPO updates."""
    return train_pipeline("comllm", "lacs", scenario, out, steps, seed, progress, backbone, config, init, data)
