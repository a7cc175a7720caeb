"""User errors of the three-tier engines (``tiers`` and ``ecs``): one line for the user, exit 2.

- :class:`TierScenarioError` (a :class:`~mecoffload.core.errors.ScenarioError`): a tier or
  EdgeCloudSim scenario that cannot be read or validated (``ecs.readers.EcsFormatError``
  derives from it: a malformed EdgeCloudSim file);
- :class:`TierPolicyError` (a :class:`~mecoffload.core.errors.PolicyError`): an unknown tier
  policy or EdgeCloudSim orchestrator, a bad policy argument, invalid actions.

While the command line still catches the older ``mecoffload.scenario.ScenarioError`` instead of
``core.errors.UserError`` (issue 12 moves it to core), both classes derive from it as well; once
the two are one class the extra base disappears by itself.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ..core.errors import PolicyError, ScenarioError
from ..scenario import ScenarioError as _CliScenarioError

_CLI = () if issubclass(_CliScenarioError, ScenarioError) else (_CliScenarioError,)


class TierScenarioError(ScenarioError, *_CLI):
    """A tier / EdgeCloudSim scenario could not be read or validated."""


class TierPolicyError(PolicyError, *_CLI):
    """Unknown tier policy or orchestrator, bad argument, or invalid actions."""


@contextmanager
def tier_scenario_errors(prefix: str = "") -> Iterator[None]:
    """Re-raise the one-line scenario errors of the shared scenario helpers (TOML presets,
    ``--set`` overrides, pydantic validation) as :class:`TierScenarioError`, prefixed."""
    try:
        yield
    except TierScenarioError:
        raise
    except (ScenarioError, _CliScenarioError) as exc:
        raise TierScenarioError(f"{prefix}{exc}") from None
