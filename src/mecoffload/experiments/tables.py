"""Shared output helpers of the experiments: one table written as markdown and CSV, JSON-safe
results (no NaN), availability checks for optional packages, and a stage logger on stderr."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..core.jsonsafe import finite


def cell(v, digits: int = 4) -> str:
    """A table cell: floats with ``digits`` decimals, None / NaN as an en dash."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.{digits}f}"
    return str(v)


def write_table(out: Path, name: str, title: str, header: list[str], rows: list[list], digits: int = 4,
                note: str = "") -> str:
    """Write ``out/name.csv`` and ``out/name.md``; return the markdown (title, table, note)."""
    with (Path(out) / f"{name}.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows([["" if v is None else v for v in r] for r in rows])
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v, digits) for v in r) + " |" for r in rows]
    if note:
        lines += ["", note]
    text = "\n".join(lines) + "\n"
    (Path(out) / f"{name}.md").write_text(text)
    return text


def write_json(path: Path, obj) -> dict:
    """Write ``finite(obj)`` as strict JSON (``allow_nan=False``); return it."""
    doc = finite(obj)
    Path(path).write_text(json.dumps(doc, indent=1, allow_nan=False))
    return doc


def budget_of(budgets: dict[str, dict], name: str, overrides: dict | None) -> dict:
    """A deep copy of ``budgets[name]`` with ``overrides`` (budget keys) applied."""
    if name not in budgets:
        raise ValueError(f"budget must be one of {', '.join(budgets)} (got '{name}')")
    return {**json.loads(json.dumps(budgets[name])), **(overrides or {})}


def finish(out: Path, doc: dict, t_start: float, report, log) -> dict:
    """Stamp the wall time (s), write ``results.json`` and ``report(out / "report.md", doc)``; return the JSON doc."""
    doc["wall_s"] = round(time.perf_counter() - t_start, 1)
    doc = write_json(Path(out) / "results.json", doc)
    report(Path(out) / "report.md", doc)
    log(f"done in {doc['wall_s']} s")
    return doc


def missing_modules(*modules: str) -> list[str]:
    """The top-level modules among ``modules`` that are not installed (located, not imported)."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


class Stages:
    """Prints ``[name +elapsed s] stage`` lines on stderr when enabled (progress of a long run)."""

    def __init__(self, name: str, enabled: bool):
        self.name, self.enabled, self.t0 = name, enabled, time.perf_counter()

    def __call__(self, text: str) -> None:
        if self.enabled:
            print(f"[{self.name} +{time.perf_counter() - self.t0:.0f} s] {text}", file=sys.stderr, flush=True)
