"""CSV, JSON and markdown outputs of evaluations and sweeps."""

from __future__ import annotations

import csv
from pathlib import Path

from ..core.jsonsafe import NO_DATA, csv_value, dumps, has_data
from ..sim.scenario import Scenario
from .evaluate import PolicyRun

TABLE_COLUMNS = [
    ("AL_slots", "AL (slots)", "{:.4f}"),
    ("TDR_pct", "TDR %", "{:.2f}"),
    ("PR_pct", "PR %", "{:.2f}"),
    ("LBI_pct", "LBI %", "{:.2f}"),
    ("local_pct", "local %", "{:.1f}"),
    ("realized_mean_s", "real. mean s", "{:.3f}"),
    ("realized_p95_s", "real. p95 s", "{:.3f}"),
    ("realized_drop_pct", "real. drop %", "{:.2f}"),
    ("edge_util_mean_pct", "edge util %", "{:.1f}"),
    ("avg_max_server_delay_s", "max srv delay s", "{:.3f}"),
    ("energy_per_task_j", "energy J/task", "{:.3f}"),
    ("est_mae_pct", "est. err %", "{:.1f}"),
]
"""Columns of the evaluation table; ``est. err %`` is the cost model's mean absolute error against the
realized latency of completed tasks, in % of the realized mean."""


def rankings(metrics: dict[str, dict]) -> tuple[list[str], list[str]]:
    """(by the estimate, by what users got): policy names ordered by AL (the estimated generalized
    cost, lower first), and by realized drop %, then realized mean latency (policies without any
    completed task last)."""
    def realized(name: str) -> tuple:
        m = metrics[name]
        mean = m.get("realized_mean_s")
        return (m.get("realized_drop_pct", float("inf")), mean if has_data(mean) else float("inf"))
    by_al = sorted(metrics, key=lambda n: metrics[n]["AL_slots"])
    return by_al, sorted(metrics, key=realized)


def ranking_lines(metrics: dict[str, dict], cost_model: str) -> list[str]:
    """Markdown lines putting the two rankings side by side (every policy)."""
    by_al, by_real = rankings(metrics)
    lines = [f"| rank | by AL (estimated, cost model '{cost_model}') | by realized drop %, then mean |", "|---|---|---|"]
    for i, (a, r) in enumerate(zip(by_al, by_real), 1):
        m = metrics[r]
        lines.append(f"| {i} | {a} ({fmt('AL_slots', metrics[a]['AL_slots'])} slots) | {r} "
                     f"({fmt('realized_drop_pct', m['realized_drop_pct'])} %, {fmt('realized_mean_s', m['realized_mean_s'])} s) |")
    return lines


def fmt(key: str, value) -> str:
    if not has_data(value):
        return NO_DATA
    for k, _, f in TABLE_COLUMNS:
        if k == key:
            return f.format(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_metrics_csv(metrics: dict[str, dict], path: Path) -> Path:
    keys: list[str] = []
    for m in metrics.values():
        keys += [k for k in m if k not in keys]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["policy", *keys])
        for name, m in metrics.items():
            w.writerow([name, *[csv_value(m.get(k, "")) for k in keys]])
    return path


def markdown_table(metrics: dict[str, dict]) -> str:
    head = "| policy | " + " | ".join(h for _, h, _ in TABLE_COLUMNS) + " |"
    sep = "|---" * (len(TABLE_COLUMNS) + 1) + "|"
    rows = [f"| {n} | " + " | ".join(fmt(k, m[k]) for k, _, _ in TABLE_COLUMNS) + " |" for n, m in metrics.items()]
    return "\n".join([head, sep, *rows])


def write_evaluation(
    runs: dict[str, PolicyRun], scenario: Scenario, episodes: int, seed: int, out: Path, plots: list[Path]
) -> Path:
    """Write metrics.csv, metrics.json and report.md into ``out``."""
    metrics = {n: r.metrics for n, r in runs.items()}
    write_metrics_csv(metrics, out / "metrics.csv")
    (out / "metrics.json").write_text(dumps({"policies": metrics}, indent=2))
    (out / "scenario.json").write_text(scenario.model_dump_json(indent=2))
    md = [
        f"# Evaluation: scenario `{scenario.name}`",
        "",
        f"{scenario.description}",
        "",
        f"{episodes} episodes × {scenario.sim.horizon_slots} slots of {scenario.sim.slot_s} s, seed {seed}; "
        f"{scenario.users.count} users, {scenario.edge.count} edge servers. Every policy saw the same "
        "layouts, arrivals, task sizes and channel draws (common random numbers).",
        "",
        f"AL/TDR/PR/LBI are seed 001's metrics (eqs 28-33) on the estimated generalized cost J under the cost model "
        f"'{scenario.cost.model}' (`cost.model`); 'real.' columns are what the queue simulation realized (latency of "
        "completed tasks, drops at the deadline, rejections); 'est. err %' is the model's mean absolute error "
        "against the realized latency of completed tasks (% of the realized mean).",
        "",
        markdown_table(metrics),
        "",
        "The two rankings (an estimate that ignores a queue ranks policies differently from what users get):",
        "",
        *ranking_lines(metrics, scenario.cost.model),
        "",
        "Offloading distribution (tasks per location, Table V style):",
        "",
    ]
    n_loc = sum(1 for k in next(iter(metrics.values())) if k.startswith("offload_"))
    md.append("| policy | local | " + " | ".join(f"S{e}" for e in range(1, n_loc)) + " |")
    md.append("|---" * (n_loc + 1) + "|")
    for n, m in metrics.items():
        md.append(f"| {n} | " + " | ".join(str(m[f"offload_{e}"]) for e in range(n_loc)) + " |")
    md += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    path = out / "report.md"
    path.write_text("\n".join(md) + "\n")
    return path


def write_sweep(result: dict[str, dict[str, dict]], param: str, scenario: Scenario, out: Path, plot: Path) -> Path:
    rows = []
    for v, per_pol in result.items():
        for pol, m in per_pol.items():
            rows.append({"value": v, "policy": pol, **m})
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with (out / "sweep.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows([{k: csv_value(v) for k, v in r.items()} for r in rows])
    (out / "sweep.json").write_text(dumps({"param": param, "values": result}, indent=2))
    policies = list(next(iter(result.values())))
    md = [f"# Sweep of `{param}` on scenario `{scenario.name}`", ""]
    for key, title in [("AL_slots", "AL (slots)"), ("TDR_pct", "TDR (%)"), ("PR_pct", "PR (%)"),
                       ("realized_mean_s", "realized mean latency (s)"), ("avg_max_server_delay_s", "avg max server delay (s)")]:
        md += [f"### {title}", "", "| policy | " + " | ".join(result) + " |", "|---" * (len(result) + 1) + "|"]
        for pol in policies:
            md.append(f"| {pol} | " + " | ".join(f"{result[v][pol][key]:.4g}" for v in result) + " |")
        md.append("")
    md.append(f"![sweep]({plot.name})")
    path = out / "sweep.md"
    path.write_text("\n".join(md) + "\n")
    return path
