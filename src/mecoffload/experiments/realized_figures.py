"""PNG figures of ``experiment realized``: realized drops per policy over users × λ, and the
estimated vs realized latency of completed tasks per cost model (matplotlib, headless)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .figures import _plt, _save


def drop_heatmaps(heat: dict[str, np.ndarray], users: list[int], rates: list[float], path: Path) -> Path:
    """One heat map per policy: realized drop % (colour, one shared scale) over U (rows) × λ (columns)."""
    plt = _plt()
    n = len(heat)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, layout="constrained")
    top = max([float(np.nanmax(h)) for h in heat.values() if np.isfinite(h).any()] + [1.0])
    for ax, (name, h) in zip(axes.ravel(), heat.items()):
        im = ax.imshow(h, vmin=0, vmax=top, cmap="viridis", aspect="auto", origin="lower")
        for (a, b), v in np.ndenumerate(h):
            if np.isfinite(v):
                ax.text(b, a, f"{v:.1f}", ha="center", va="center", fontsize=6, color="w" if v < top / 2 else "k")
        ax.set_xticks(range(len(rates)), [f"{r:g}" for r in rates], fontsize=7)
        ax.set_yticks(range(len(users)), [str(u) for u in users], fontsize=7)
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("λ (tasks/user/slot)", fontsize=7)
        ax.set_ylabel("users U", fontsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="realized drop %")
    fig.suptitle("realized drop % per policy", fontsize=10)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def estimate_scatter(pairs: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, most: int = 4000) -> Path:
    """Estimated (x) vs realized (y) latency (s) of completed tasks, one panel per cost model
    (at most ``most`` points each, evenly spaced); the diagonal is a perfect model."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 4.2), squeeze=False)
    for ax, (model, (est, real)) in zip(axes[0], pairs.items()):
        ok = est >= 0
        est, real = est[ok], real[ok]
        step = max(1, len(est) // most)
        ax.scatter(est[::step], real[::step], s=3, alpha=0.4)
        hi = float(max(est.max(initial=0), real.max(initial=0)))
        ax.plot([0, hi], [0, hi], "k--", lw=0.8)
        mae = float(np.abs(est - real).mean()) if len(est) else float("nan")
        ax.set(xlabel="estimated latency (s)", ylabel="realized latency (s)",
               title=f"cost model '{model}': MAE {mae:.3f} s ({100 * mae / max(real.mean(), 1e-12):.1f} %)")
        ax.grid(alpha=0.3)
    return _save(fig, path, 80)
