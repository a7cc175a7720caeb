"""Paper experiments, one registry. Each entry is a function

    run(budget: str, out: Path, seed: int, progress: bool, ...) -> dict

that writes its tables (markdown + CSV), plots and report into ``out`` and returns a JSON-able
dict. ``mecoffload experiment <name>`` lists and runs them; ``all`` runs every other one into
one folder with an ``index.md``. Entries are lazy (``module:attr``): a module is imported only
when its experiment runs.
"""

from ..core.registry import Registry


class _Experiments(Registry):
    """Branch h3 only (drop at the merge, where the CLI reads the Registry API): today's CLI reads
    ``EXPERIMENTS[name]`` as a module path and ``sorted(EXPERIMENTS)`` as the names."""

    def __getitem__(self, name: str) -> str:
        return self.get(name).__module__

    def __iter__(self):
        return iter(self.names())


EXPERIMENTS = _Experiments("experiment")
EXPERIMENTS.lazy("iot-devices", "mecoffload.experiments.iot_devices:run",
                 "seed 002 §V: every tier policy vs the number of IoT devices (Figs 4-8)")
EXPERIMENTS.lazy("comllm", "mecoffload.experiments.comllm:run",
                 "seed 001 Tables II-VI: LLM policies (SFT, GRPO, COMLLM) beside the paper's rows")
EXPERIMENTS.lazy("loadbalance", "mecoffload.experiments.loadbalance:run",
                 "seed 000 Figs 1-2: maximum server delay over time and vs λ and L")
EXPERIMENTS.lazy("ecs-sample-app1", "mecoffload.experiments.ecs_sample_app1:run",
                 "EdgeCloudSim sample_app1 sweep beside EdgeCloudSim's published numbers")
EXPERIMENTS.lazy("all", "mecoffload.experiments.all:run",
                 "every experiment above into one folder, with an index.md linking each report")
