"""Paper experiments, one registry. Each entry is a lazy ``"module:run"`` string whose function is

    run(budget: str, out: Path, seed: int, progress: bool) -> dict

which writes its tables (markdown + CSV) and plots into ``out`` and returns a JSON-able dict.
``mecoffload experiment NAME`` runs one; ``mecoffload experiment --list`` lists them. A new
experiment is a module of this package with a ``run`` function and one ``EXPERIMENTS.lazy`` line.
"""

from ..core.errors import UserError
from ..core.registry import Registry

BUDGETS = ("small", "paper")
"""``small``: minutes on a laptop CPU; ``paper``: the published sizes"""

EXPERIMENTS: Registry = Registry("experiment", UserError)
"""name -> run function (lazy ``"module:run"`` entries, imported when the experiment runs)"""

EXPERIMENTS.lazy("iot-devices", "mecoffload.experiments.iot_devices:run",
                 "seed 002 Figs 4-8: every tier policy vs the number of IoT devices")
EXPERIMENTS.lazy("comllm", "mecoffload.experiments.comllm:run",
                 "seed 001 Tables II-VI: LLM policies (SFT, GRPO, COMLLM) vs baselines (needs the 'llm' extra)")
