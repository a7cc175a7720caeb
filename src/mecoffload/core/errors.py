"""User-facing errors: every one is a single line for the user and exit code 2 in the CLI.

Each subsystem raises a subclass of :class:`UserError`; ``mecoffload.cli.main`` catches
``UserError`` once. Anything else escaping to the CLI is a bug (exit 1, with a hint to report it).
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad user input (value, file, combination); the message is one line for the user."""


class ScenarioError(UserError):
    """A scenario could not be loaded or validated."""


class PolicyError(UserError):
    """Unknown policy or bad policy argument."""


class CheckpointError(UserError):
    """A checkpoint is missing, malformed or does not fit the scenario."""


class MissingExtraError(UserError):
    """An optional dependency (an extra of the package) is not installed."""


def clip(value: object, limit: int = 80) -> str:
    """Short rendering of a user value for error messages: at most ``limit`` characters, control
    characters escaped (a value never breaks the one-line message)."""
    if isinstance(value, (list, tuple)) and len(value) > limit:
        value = value[:limit]  # never render a huge array whole
    text = str(value)[: limit + 1]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
