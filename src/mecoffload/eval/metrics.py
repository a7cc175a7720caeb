"""The MEC engine's metrics live in :mod:`mecoffload.sim.metrics` (learners need them too); this
path re-exports them."""

from ..sim.metrics import Accumulator, check_accounting, jain_index, static_metrics

__all__ = ["Accumulator", "jain_index", "check_accounting", "static_metrics"]
