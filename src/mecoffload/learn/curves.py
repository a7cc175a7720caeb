"""The one training-curve figure of every learner (``curve.png`` in a checkpoint folder).

A figure is a grid of ``Panel``s, each with one or more ``Series`` (a raw sequence of numbers is a
plain line against its index). ``plot_curves`` writes it headless (Agg); ``curve_panels`` turns a
learner's ``{name: [values]}`` log into one panel per non-empty entry.

Example (any learner, e.g. ``tiers.dlnet``)::

    plot_curves(out / "curve.png", curve_panels({"tier_loss": losses, "vm_acc": acc}, xlabel="epoch"))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence


@dataclass
class Series:
    """One line (or marker set) of a panel."""

    y: Sequence[float]
    """values"""
    x: Sequence[float] | None = None
    """positions (default: 0, 1, 2, ...)"""
    style: str = "-"
    """matplotlib format string, e.g. "-", "--", "."""
    label: str | None = None
    """legend entry (a panel with a labelled series gets a legend)"""
    options: dict = field(default_factory=dict)
    """further matplotlib line options (color, alpha, ms, lw)"""


@dataclass
class Panel:
    """One subplot."""

    title: str
    series: list
    """``Series`` or plain sequences of numbers"""
    xlabel: str = "update"
    ylabel: str = ""
    log_y: bool = False


def curve_panels(curve: dict[str, Sequence[float]], keys: Sequence[str] | None = None, titles: dict[str, str] | None = None,
                 xlabel: str = "update") -> list[Panel]:
    """One panel per non-empty entry of ``curve`` (in ``keys`` order; title = key with spaces, or ``titles[key]``)."""
    titles = titles or {}
    return [Panel(titles.get(k, k.replace("_", " ")), [curve[k]], xlabel) for k in (keys or list(curve)) if len(curve.get(k, ()))]


def plot_curves(path: Path, panels: Sequence[Panel], *, rows: int = 1, title: str | None = None,
                panel_size: tuple[float, float] = (4.3, 3.5), sharex: bool = False, dpi: int = 100) -> Path | None:
    """Write the panels as a ``rows`` × ⌈n/rows⌉ grid to ``path`` (PNG); nothing to draw → None."""
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = -(-len(panels) // rows)
    fig, axes = plt.subplots(rows, cols, figsize=(panel_size[0] * cols, panel_size[1] * rows), sharex=sharex, squeeze=False)
    for ax, panel in zip(axes.ravel(), panels):
        for s in panel.series:
            s = s if isinstance(s, Series) else Series(s, options={"lw": 0.8})
            x = range(len(s.y)) if s.x is None else s.x
            ax.plot(x, s.y, s.style, label=s.label, **s.options)
        if any(isinstance(s, Series) and s.label for s in panel.series):
            ax.legend(fontsize=8)
        if panel.log_y:
            ax.set_yscale("log")
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)
