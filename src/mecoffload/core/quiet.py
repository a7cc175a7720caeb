"""Quiet by default: the warnings and log chatter of third-party packages stay off stderr unless
``--verbose`` (issue 13 item 7). mecoffload's own ``warning:`` lines are never filtered.

``quiet_third_party(verbose)``
    unless ``verbose``: ignore every Python warning issued from a module of :data:`THIRD_PARTY`
    (matplotlib, transformers, torch, numba, ray, pydantic, ...), set the log level of their
    loggers to ERROR, and set the environment variables that the packages read when imported
    (``TRANSFORMERS_VERBOSITY=error``, ``TRANSFORMERS_NO_ADVISORY_WARNINGS=1``,
    ``TOKENIZERS_PARALLELISM=false``, ``RAY_BACKEND_LOG_LEVEL=error``) where they are not set
    already. Nothing heavy is imported; calling it twice is harmless.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

THIRD_PARTY = ("matplotlib", "transformers", "torch", "numba", "ray", "pydantic", "peft", "huggingface_hub",
               "accelerate", "tokenizers", "safetensors", "gymnasium", "stable_baselines3", "PIL", "llvmlite")
"""packages whose warnings and logs are hidden unless --verbose"""

ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "RAY_BACKEND_LOG_LEVEL": "error",
}
"""environment read by the packages at import time (set only where the user has not set it)"""


def quiet_third_party(verbose: bool = False) -> None:
    """Hide third-party warnings and logs (see the module docstring); ``verbose`` leaves everything as is."""
    if verbose:
        return
    pattern = r"(" + "|".join(THIRD_PARTY) + r")(\..*)?\Z"
    warnings.filterwarnings("ignore", module=pattern)
    for key, value in ENV.items():
        os.environ.setdefault(key, value)
    for name in THIRD_PARTY:
        logging.getLogger(name).setLevel(logging.ERROR)
    tf_logging = getattr(sys.modules.get("transformers.utils.logging"), "set_verbosity_error", None)
    if tf_logging is not None:  # already imported: the environment variable is read too late
        tf_logging()
