"""Paper experiments, one registry. Each entry is a lazy ``"module:run"`` string whose function is

    run(budget: str, out: Path, seed: int, progress: bool, ...) -> dict

which writes its tables (markdown + CSV), plots and report into ``out`` and returns a JSON-able
dict. ``mecoffload experiment NAME`` runs one; ``mecoffload experiment --list`` lists them; ``all``
runs every other one into one folder with an ``index.md``. A new experiment is a module of this
package with a ``run`` function and one ``EXPERIMENTS.lazy`` line.
"""

from ..core.errors import UserError
from ..core.registry import Registry

BUDGETS = ("small", "paper")
"""``small``: minutes on a laptop CPU; ``paper``: the published sizes"""

EXPERIMENTS: Registry = Registry("experiment", UserError)
"""name -> run function (lazy ``"module:run"`` entries, imported when the experiment runs)"""

EXPERIMENTS.lazy("iot-devices", "mecoffload.experiments.iot_devices:run",
                 "seed 002 §V: every tier policy vs the number of IoT devices (Figs 4-8)")
EXPERIMENTS.lazy("comllm", "mecoffload.experiments.comllm:run",
                 "seed 001 Tables II-VI: LLM policies (SFT, GRPO, COMLLM) beside the paper's rows (needs the 'llm' extra)")
EXPERIMENTS.lazy("loadbalance", "mecoffload.experiments.loadbalance:run",
                 "seed 000 Figs 1-2: maximum server delay over time and vs λ and L")
EXPERIMENTS.lazy("ecs-sample-app1", "mecoffload.experiments.ecs_sample_app1:run",
                 "EdgeCloudSim sample_app1 sweep beside EdgeCloudSim's published numbers")
EXPERIMENTS.lazy("compress", "mecoffload.experiments.compress:run",
                 "seed 003: retained performance of pruned (0-60 %) and int8 setnet / LLM policies (needs the 'compress' extra)")
EXPERIMENTS.lazy("realized", "mecoffload.experiments.realized:run",
                 "realized drops and latency vs the estimate's ranking: U × λ grid, E, bursty; both cost models")
EXPERIMENTS.lazy("dnn-split", "mecoffload.experiments.dnn_split:run",
                 "seed 004 / issue 16: DNN split points on one device (Neurosurgeon's rule, 3G/LTE/Wi-Fi) and under load "
                 "(1/10/40 devices on 4 servers: load-aware partitioner vs Neurosurgeon)")
EXPERIMENTS.lazy("all", "mecoffload.experiments.all:run",
                 "every experiment above into one folder, with an index.md linking each report")
