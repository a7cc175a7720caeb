"""The structured access log: one JSON line per request on stderr, written in bulk.

``logging`` costs ~100 µs per record on this project's loaded 2-core machine (a LogRecord, the
caller lookup, one write and flush per line), as much as a decision itself. ``AccessLog`` keeps
the lines (orjson-encoded) in memory and writes them out in one ``write`` + ``flush`` at most
``FLUSH_S`` after the first of them, when ``MAX_LINES`` have collected, and at shutdown
(``flush``: the app's lifespan end and ``atexit``). Whether lines are written at all is still the
``mecoffload.serve.access`` logger's level (``serve --no-access-log`` sets it to WARNING).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import sys

try:  # the serve extra pins orjson; plain json writes the same lines
    import orjson

    def dumps(doc) -> bytes:
        """JSON bytes of ``doc`` (compact; NaN becomes null with orjson; NumPy arrays as nested lists,
        written by orjson itself: the same digits as their ``tolist()``)."""
        return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
except ImportError:  # pragma: no cover
    def dumps(doc) -> bytes:
        """JSON bytes of ``doc`` (compact)."""
        return json.dumps(doc, allow_nan=False, separators=(",", ":"), default=lambda a: a.tolist()).encode()

FLUSH_S = 0.05  # s a line may wait in memory
MAX_LINES = 1024  # lines kept before a write regardless
access_log = logging.getLogger("mecoffload.serve.access")
_LOGS: list["AccessLog"] = []  # every AccessLog of this process, for flush_all


def flush_all() -> None:
    """Write what every access log of this process still holds (the test suite calls it after each
    test, so the lines land in that test's captured output)."""
    for log in _LOGS:
        log.flush()


class AccessLog:
    """Buffered JSON lines on ``sys.stderr`` (see the module docstring)."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self._timer: asyncio.TimerHandle | None = None
        atexit.register(self.flush)
        _LOGS.append(self)

    @staticmethod
    def enabled() -> bool:
        return access_log.isEnabledFor(logging.INFO)

    def write(self, doc: dict) -> None:
        """Queue one line; it is written within ``FLUSH_S``."""
        self.lines.append(dumps(doc))
        if len(self.lines) >= MAX_LINES:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)
            except RuntimeError:  # no event loop: write now
                self.flush()

    def flush(self) -> None:
        """Write the queued lines (one write, one flush)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.lines:
            return
        lines, self.lines = self.lines, []
        text = b"\n".join(lines) + b"\n"
        stream = sys.stderr
        try:
            out = getattr(stream, "buffer", None)
            if out is not None:
                stream.flush()  # anything written as text before these lines goes first
                out.write(text)
                out.flush()
            else:
                stream.write(text.decode())
                stream.flush()
        except (OSError, ValueError):  # stderr closed (shutdown): the lines are lost, the service is not
            pass
