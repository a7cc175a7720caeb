"""Learners. Each module ``mecoffload.learn.<kind>`` exposes

    train(scenario: Scenario, out: Path, steps: int | None, seed: int, progress: bool) -> dict

which writes a checkpoint folder (``model.safetensors`` + ``config.json`` + ``curve.png``) and
returns a summary dict. ``mecoffload train <kind>`` dispatches here.
"""

TRAINERS = {
    "dqn": "mecoffload.learn.dqn",
    "setnet": "mecoffload.learn.setnet",
    # LLM learners (issue: LLM offloading policies); each accepts backbone=...
    "llm-sft": "mecoffload.llm.sft",
    "llm-grpo": "mecoffload.llm.grpo",
    "comllm": "mecoffload.llm.comllm",
}
