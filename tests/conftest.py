"""Suite-wide hooks."""

import sys

import pytest


@pytest.fixture(autouse=True)
def _flush_access_logs():
    """The decision service buffers its access-log lines (serve/accesslog.py); write them before the
    test ends, into its captured output, instead of after the session summary."""
    yield
    mod = sys.modules.get("mecoffload.serve.accesslog")
    if mod is not None:
        mod.flush_all()
