"""Per-slot arrival rates: a constant ``task.rate`` or a schedule (issue 14 item 5).

``task.rate`` in a scenario is a number (λ_p, tasks per user per slot) or a table
``[task.rate]`` with ``kind`` (validated in ``sim.scenario``):

- ``piecewise``: ``rates = [...]`` for ``slots = [...]`` slots each, in turn, then repeating;
- ``onoff``: a two-state Markov-modulated source, rate ``on`` or ``off``; each on (off) period
  lasts a geometric number of slots with mean ``mean_on_slots`` (``mean_off_slots``): the state
  leaves on with probability 1/mean_on_slots per slot. ``scope = "env"`` (default) keeps one state
  per environment (a burst hits every user of a cell at once, so the servers see it too);
  ``scope = "user"`` one per user (independent sources);
- ``diurnal``: ``mean + amplitude·sin(2π(t + phase_slots)/period_slots)`` in slot t;
- ``csv``: per-slot rates read from a file (row i = slot i, the last field of each row; a first
  row that is not a number is a header; ``#`` starts a comment), repeating after the last row.

Deterministic kinds become one periodic table of per-slot rates, looked up at each env's own
slot ``t``. The on/off state starts from its stationary distribution (P(on) = mean_on /
(mean_on + mean_off)), drawn at ``reset`` after the layout, and moves once per slot with arrivals
before the slot's counts are drawn. Every draw comes from the exogenous stream in a fixed order
(state moves, counts, then the channel and sizes in ``dynamics.draw_slot``), so every policy sees
the same arrivals; a constant rate draws exactly what it always did.
Units: rates in tasks per user per slot (a probability for Bernoulli arrivals), t in slots.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field

import numpy as np

RATE_MAX = 20.0
"""largest rate allowed anywhere (tasks per user per slot), as for a constant ``task.rate``"""
MAX_PERIOD_SLOTS = 1_000_000
"""longest periodic table (piecewise sum of slots, diurnal period, CSV rows)"""
MAX_CSV_BYTES = 32 * 2**20


@dataclass(frozen=True, eq=False)
class Schedule:
    """A non-constant rate in array form. ``table`` (period,) for the periodic kinds; ``on``,
    ``off``, ``leave_on``, ``leave_off`` (per-slot switch probabilities), ``on_fraction`` and
    ``per_user`` for the on/off source."""

    kind: str  # "table" | "onoff"
    table: np.ndarray = field(default_factory=lambda: np.zeros(0))
    on: float = 0.0
    off: float = 0.0
    leave_on: float = 0.0
    leave_off: float = 0.0
    on_fraction: float = 0.0
    per_user: bool = False


def schedule_of(rate) -> Schedule | None:
    """The ``Schedule`` of a validated ``task.rate`` (None for a constant number)."""
    if isinstance(rate, float):
        return None
    kind = rate.kind
    if kind == "onoff":
        return Schedule("onoff", on=rate.on, off=rate.off, leave_on=1.0 / rate.mean_on_slots,
                        leave_off=1.0 / rate.mean_off_slots, on_fraction=rate.on_fraction(),
                        per_user=rate.scope == "user")
    if kind == "piecewise":
        table = np.repeat(np.asarray(rate.rates, float), np.asarray(rate.slots, np.int64))
    elif kind == "diurnal":
        t = np.arange(rate.period_slots) + rate.phase_slots
        table = np.maximum(rate.mean + rate.amplitude * np.sin(2 * np.pi * t / rate.period_slots), 0.0)
    elif kind == "csv":
        table = rate.rates
    else:  # pragma: no cover - the scenario validates kind
        raise ValueError(f"unknown task.rate.kind {kind!r}")
    table = np.array(table, float)
    table.flags.writeable = False
    return Schedule("table", table=table)


def initial_state(schedule: Schedule | None, exo: np.random.Generator, batch: int, users: int) -> np.ndarray:
    """(B, S) int8 on/off state at slot 0 (S = users for a per-user source, else 1), drawn from
    the stationary distribution; zeros and no draw for every other rate."""
    if schedule is None or schedule.kind != "onoff":
        return np.zeros((batch, 1), np.int8)
    shape = (batch, users if schedule.per_user else 1)
    return (exo.random(shape) < schedule.on_fraction).astype(np.int8)


def draw_counts(schedule: Schedule | None, arrival: str, rate: float, t: np.ndarray, on: np.ndarray,
                exo: np.random.Generator, users: int) -> np.ndarray:
    """(B, U) task counts of one slot; ``t`` (B,) each env's slot, ``on`` (B, S) the on/off state
    (moved one slot in place first). Poisson counts or Bernoulli (one task with probability λ)."""
    B = t.shape[0]
    if schedule is None:  # exactly the draws of a constant rate before schedules existed
        lam = rate
    elif schedule.kind == "onoff":
        u = exo.random(on.shape)
        np.copyto(on, np.where(on == 1, u >= schedule.leave_on, u < schedule.leave_off))
        lam = np.where(on == 1, schedule.on, schedule.off)
    else:
        lam = schedule.table[t % schedule.table.size][:, None]
    if arrival == "poisson":
        return exo.poisson(lam, (B, users))
    return (exo.random((B, users)) < lam).astype(np.int64)


def slot_rates(schedule: Schedule | None, rate: float, t: np.ndarray, on: np.ndarray, users: int) -> np.ndarray:
    """(B, U) rate in force for each user in slot ``t`` (B,) given the on/off state ``on`` (B, S)
    (for inspection and tests; ``draw_counts`` moves the state first)."""
    B = t.shape[0]
    if schedule is None:
        return np.full((B, users), rate)
    if schedule.kind == "onoff":
        return np.broadcast_to(np.where(on == 1, schedule.on, schedule.off), (B, users)).astype(float)
    return np.broadcast_to(schedule.table[t % schedule.table.size][:, None], (B, users)).copy()


def read_rate_csv(path: str) -> np.ndarray:
    """Per-slot rates from a CSV file (see the module doc), as a read-only float array; every
    problem is one ValueError line naming the file, the row and the allowed range."""
    head = f"task.rate.path '{path[:120]}'"
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        raise ValueError(f"{head}: no such file") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{head}: not a regular file")
    if st.st_size > MAX_CSV_BYTES:
        raise ValueError(f"{head}: too large ({st.st_size / 2**20:.1f} MiB > {MAX_CSV_BYTES // 2**20} MiB)")
    try:
        with open(path, encoding="utf-8-sig") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{head}: cannot read ({type(exc).__name__})") from None
    rates: list[float] = []
    for i, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        field = text.split(",")[-1].strip()
        try:
            v = float(field)
        except ValueError:
            if not rates and i == _first_row(lines):
                continue  # a header
            raise ValueError(f"{head}: row {i}: not a number ({field[:40]!r})") from None
        if not (math.isfinite(v) and 0 <= v <= RATE_MAX):
            raise ValueError(f"{head}: row {i}: need 0 <= rate <= {RATE_MAX:g} tasks per user per slot (got {field[:40]})")
        rates.append(v)
        if len(rates) > MAX_PERIOD_SLOTS:
            raise ValueError(f"{head}: more than {MAX_PERIOD_SLOTS} rows")
    if not rates or max(rates) <= 0:
        raise ValueError(f"{head}: needs at least one row with a rate > 0 (tasks per user per slot)")
    out = np.array(rates)
    out.flags.writeable = False
    return out


def _first_row(lines: list[str]) -> int:
    """1-based number of the first row that is not blank or a comment."""
    return next(i for i, line in enumerate(lines, 1) if line.split("#", 1)[0].strip())
