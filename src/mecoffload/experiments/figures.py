"""PNG figures of the loadbalance (seed 000) and ecs-sample-app1 (EdgeCloudSim) experiments
(matplotlib, headless Agg backend, imported when a figure is drawn)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: int = 90) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    fig.clf()
    _plt().close(fig)
    return path


def max_delay_distribution(series: dict[str, np.ndarray], slot_s: float, path: Path, title: str) -> Path:
    """Seed 000 Fig. 1: per-slot maximum server delay (s) over time, its empirical CDF over the
    slots and a box plot per policy. ``series``: label -> (T,) delays (mean over episodes)."""
    plt = _plt()
    fig, (ax_t, ax_c, ax_b) = plt.subplots(1, 3, figsize=(15, 4.2))
    for i, (label, s) in enumerate(series.items()):
        s = np.asarray(s, float)
        ax_t.plot(np.arange(len(s)) * slot_s, s, lw=1, color=f"C{i}", label=label)
        xs = np.sort(s)
        ax_c.step(xs, np.arange(1, len(xs) + 1) / max(len(xs), 1), where="post", color=f"C{i}", label=label)
    ax_b.boxplot([np.asarray(s, float) for s in series.values()], showfliers=True)
    ax_b.set_xticks(range(1, len(series) + 1), list(series), rotation=30, ha="right", fontsize=8)
    ax_t.set(xlabel="time (s)", ylabel="maximum server delay (s)", title="over time")
    ax_c.set(xlabel="maximum server delay (s)", ylabel="fraction of slots", title="CDF over slots")
    ax_b.set(ylabel="maximum server delay (s)", title="distribution over slots")
    for ax in (ax_t, ax_c, ax_b):
        ax.grid(alpha=0.3)
    ax_t.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path, 80)


def sweep_panels(panels: list[tuple[str, list[float], dict[str, list[float]]]], ylabel: str, path: Path,
                 title: str) -> Path:
    """Seed 000 Fig. 2: one panel per swept parameter; ``panels``: (x label, xs, label -> ys)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    for ax, (xlabel, xs, lines) in zip(axes[0], panels):
        for i, (label, ys) in enumerate(lines.items()):
            ax.plot(xs, ys, marker="os^vDP<>xh"[i % 10], ms=4, lw=1.2, color=f"C{i % 10}", label=label)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        if all(y > 0 for ys in lines.values() for y in ys):
            ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path, 80)


def ours_vs_published(devices: list[int], fields: list[tuple[str, str]], ours: dict, published: dict,
                      path: Path, title: str) -> Path:
    """One panel per field: ours (solid) and the published numbers (dashed) vs device count.
    ``ours`` / ``published``: scenario -> field -> list over ``devices`` (None where absent)."""
    plt = _plt()
    cols = 4
    rows = (len(fields) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (key, label) in zip(axes.flat, fields):
        for i, scn in enumerate(ours):
            y = [np.nan if v is None else v for v in ours[scn][key]]
            ax.plot(devices, y, marker="o", ms=3, lw=1.2, color=f"C{i}", label=f"{scn} (mecoffload)")
            if scn in published:
                r = [np.nan if v is None else v for v in published[scn][key]]
                ax.plot(devices, r, ls="--", marker="x", ms=3, lw=1, color=f"C{i}", label=f"{scn} (EdgeCloudSim)")
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("number of mobile devices", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(fields):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path, 80)
