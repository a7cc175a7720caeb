"""Old home of the MEC scenario; it lives in :mod:`mecoffload.sim.scenario` on the base
:mod:`mecoffload.core.scenario`. Re-exported here so that ``mecoffload.scenario.load_scenario``
and friends keep working."""

from .core.errors import ScenarioError
from .core.scenario import Section as _Section
from .core.scenario import load_preset, parse_assignment, set_path, validate_model
from .sim.scenario import (
    ChannelSection,
    CostSection,
    EdgeSection,
    LacsSection,
    Scenario,
    SimSection,
    TaskSection,
    UsersSection,
    load_scenario,
    preset_names,
    validate_scenario,
)

__all__ = ["ChannelSection", "CostSection", "EdgeSection", "LacsSection", "Scenario", "ScenarioError", "SimSection",
           "TaskSection", "UsersSection", "_Section", "load_preset", "load_scenario", "parse_assignment",
           "preset_names", "set_path", "validate_model", "validate_scenario"]
