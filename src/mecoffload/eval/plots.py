"""Matplotlib figures for evaluations and sweeps (PNG, headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .evaluate import PolicyRun  # noqa: E402

BAR_METRICS = [
    ("AL_slots", "Average latency AL (slots)"),
    ("TDR_pct", "Task drop rate TDR (%)"),
    ("PR_pct", "Performance ratio PR (%)"),
    ("LBI_pct", "Load balancing index LBI (%)"),
]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_bars(runs: dict[str, PolicyRun], out: Path) -> Path:
    """AL / TDR / PR / LBI per policy (seed 001 Table II as bars)."""
    names = list(runs)
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    for ax, (key, title) in zip(axes, BAR_METRICS):
        ax.bar(range(len(names)), [runs[n].metrics[key] for n in names], color="tab:blue")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    return _save(fig, out / "metrics_bars.png")


def plot_latency_cdf(runs: dict[str, PolicyRun], out: Path) -> Path:
    """Empirical CDF of realized latency of completed tasks."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in runs.items():
        lat = np.sort(r.latencies)
        if lat.size:
            ax.plot(lat, np.arange(1, lat.size + 1) / lat.size, label=name)
    ax.set_xlabel("realized latency (s)")
    ax.set_ylabel("CDF of completed tasks")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out / "latency_cdf.png")


def plot_offload(runs: dict[str, PolicyRun], out: Path) -> Path:
    """Offloading distribution per location (seed 001 Table V)."""
    names = list(runs)
    n_loc = sum(1 for k in runs[names[0]].metrics if k.startswith("offload_"))
    fig, ax = plt.subplots(figsize=(max(6, n_loc * 0.9), 4))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        m = runs[name].metrics
        counts = np.array([m[f"offload_{e}"] for e in range(n_loc)], float)
        ax.bar(np.arange(n_loc) + i * width, 100 * counts / max(counts.sum(), 1), width, label=name)
    ax.set_xticks(np.arange(n_loc) + 0.4 - width / 2, ["local"] + [f"S{e}" for e in range(1, n_loc)])
    ax.set_ylabel("share of tasks (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, out / "offload_distribution.png")


def plot_max_delay(runs: dict[str, PolicyRun], out: Path, slot_s: float) -> Path:
    """Maximum server delay over time (seed 000 Fig. 1), mean over episodes."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, r in runs.items():
        s = r.max_delay_series
        ax.plot(np.arange(len(s)) * slot_s, s, label=name, lw=1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("max server delay (s)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out / "max_server_delay.png")


SWEEP_METRICS = [
    ("AL_slots", "AL (slots)"),
    ("TDR_pct", "TDR (%)"),
    ("PR_pct", "PR (%)"),
    ("realized_mean_s", "realized mean latency (s)"),
    ("realized_drop_pct", "realized drop rate (%)"),
    ("avg_max_server_delay_s", "avg max server delay (s)"),
]


def plot_sweep(result: dict[str, dict[str, dict]], param: str, out: Path) -> Path:
    """One panel per metric, one line per policy, x = swept value."""
    values = list(result)
    policies = list(result[values[0]])
    try:
        xs = [float(v) for v in values]
    except ValueError:
        xs = list(range(len(values)))
    fig, axes = plt.subplots(2, 3, figsize=(14, 7))
    for ax, (key, title) in zip(axes.ravel(), SWEEP_METRICS):
        for pol in policies:
            ax.plot(xs, [result[v][pol][key] for v in values], marker="o", label=pol)
        ax.set_xlabel(param)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    return _save(fig, out / "sweep.png")
