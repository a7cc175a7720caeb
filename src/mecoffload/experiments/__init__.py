"""Paper experiments. Each module ``mecoffload.experiments.<name>`` exposes

    run(budget: str, out: Path, seed: int, progress: bool) -> dict

which writes its tables (markdown + CSV) and plots into ``out`` and returns a JSON-able dict.
``mecoffload experiment <name>`` dispatches here.
"""

EXPERIMENTS = {
    "iot-devices": "mecoffload.experiments.iot_devices",
    "comllm": "mecoffload.experiments.comllm",
}
