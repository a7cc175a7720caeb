"""Resource bounds: refuse a run whose memory estimate exceeds the machine's free memory, before
any work, instead of being killed by the kernel half-way (issue 13 item 3).

``free_memory_bytes()``
    what this process may still allocate: ``MemAvailable`` of ``/proc/meminfo``, lowered to the
    room left under a cgroup v2 memory limit (``memory.max - memory.current``) when there is one;
    None where neither can be read (the check is then skipped).
``check_memory(estimate_bytes, what)``
    a :class:`~mecoffload.core.errors.UserError` (one line: the estimate, the free memory and
    what to reduce) when ``estimate_bytes`` exceeds the free memory.
``fmt_bytes(n)``
    ``"23.8 GiB"``.

The estimates themselves live next to what they size (e.g.
``mecoffload.sim.scenario.evaluation_memory_bytes`` for an MEC evaluation,
``GAPolicy.memory_bytes`` for the genetic algorithm); they are rough upper estimates of the
large arrays, not exact accounting.
"""

from __future__ import annotations

from pathlib import Path

from .errors import UserError

MEMINFO = Path("/proc/meminfo")
CGROUP = Path("/sys/fs/cgroup")


def fmt_bytes(n: float) -> str:
    """A byte count for a message: ``512 B``, ``3.1 MiB``, ``23.8 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover - unreachable


def _meminfo_available() -> int | None:
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    try:
        limit = (CGROUP / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(int(limit) - int((CGROUP / "memory.current").read_text().strip()), 0)
    except (OSError, ValueError):
        return None


def free_memory_bytes() -> int | None:
    """Bytes this process may still allocate (module docstring), or None when unknown."""
    known = [v for v in (_meminfo_available(), _cgroup_room()) if v is not None]
    return min(known) if known else None


def check_memory(estimate_bytes: float, what: str, hint: str = "") -> None:
    """Refuse (UserError) a run of ``what`` whose memory estimate exceeds the free memory."""
    free = free_memory_bytes()
    if free is not None and estimate_bytes > free:
        tail = f"; {hint}" if hint else ""
        raise UserError(f"{what} needs about {fmt_bytes(estimate_bytes)} of memory but only {fmt_bytes(free)} "
                        f"is free{tail}")
