"""Evaluation of MEC policies: ``evaluate`` (policies on common random numbers), ``sweep`` (a scenario
parameter), reports (CSV / Markdown) and plots. The loop and the metrics are the engine's
(``sim.rollout``, ``sim.metrics``)."""
