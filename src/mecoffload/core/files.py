"""Reading a user's input file safely: one rule for every reader (scenario TOML, EdgeCloudSim
``.properties`` and XML).

:func:`read_user_bytes` ``stat``\\ s the path *before* opening it and refuses anything that is
not a regular file — a folder, and above all a FIFO (``open`` would block forever), a character
device such as ``/dev/zero`` (a read never ends) or a socket — and a file over ``max_bytes``.
Every failure is one line of the caller's error class (a
:class:`~mecoffload.core.errors.UserError`), starting with ``head``.
"""

from __future__ import annotations

import stat
from pathlib import Path

from .errors import UserError

MAX_INPUT_BYTES = 16 * 2**20
"""default size limit of an input file (16 MiB; the largest shipped input is a few kB)"""


def read_user_bytes(path: str | Path, head: str, error: type[UserError] = UserError,
                    max_bytes: int = MAX_INPUT_BYTES, what: str = "file", missing: str = "no such file") -> bytes:
    """The bytes of the regular file ``path``; a missing file (``missing``), a folder (``is a
    folder, not a WHAT``), a FIFO, device or socket (``not a regular file``), a file over
    ``max_bytes`` or a read error is one ``error`` line starting with ``head``."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise error(f"{head}: {missing}") from None
    except NotADirectoryError:
        raise error(f"{head}: no such file (a part of the path is a file)") from None
    except OSError as exc:
        raise error(f"{head}: cannot read ({exc.strerror or type(exc).__name__})") from None
    except ValueError:  # a NUL byte in the path
        raise error(f"{head}: not a valid path") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{head}: is a folder, not a {what}")
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block forever, a device never ends
        raise error(f"{head}: not a regular file (a FIFO, device or socket)")
    if st.st_size > max_bytes:
        raise error(f"{head}: too large ({st.st_size / 2**20:.1f} MiB > {max_bytes // 2**20} MiB)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{head}: cannot read ({exc.strerror or type(exc).__name__})") from None
