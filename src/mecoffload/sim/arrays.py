"""Small vectorised array helpers shared by the engines."""

from __future__ import annotations

import numpy as np


def group_rank(g: np.ndarray) -> np.ndarray:
    """Rank of each element among equal keys, in array order (0 for the first of each key)."""
    if g.size == 0:
        return np.zeros(0, np.int64)
    srt = np.argsort(g, kind="stable")
    gs = g[srt]
    start = np.searchsorted(gs, gs, side="left")
    rank = np.empty(g.size, np.int64)
    rank[srt] = np.arange(g.size) - start
    return rank
