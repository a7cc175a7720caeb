"""Vectorised array helpers of the three-tier engines (``tiers`` and ``ecs``).

Groups are runs of equal keys; "in array order" means the order of the elements in the input.
``group_rank`` (rank inside a group) lives in :mod:`mecoffload.sim.arrays`, shared with the MEC
engine.
"""

from __future__ import annotations

import numpy as np


def run_starts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For keys sorted so that equal keys are contiguous: (first, start) where ``first[i]``
    marks the first element of a run and ``start[i]`` is the index where i's run begins."""
    first = np.empty(keys.size, bool)
    if keys.size:
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
    start = np.maximum.accumulate(np.where(first, np.arange(keys.size), 0)) if keys.size else np.zeros(0, np.int64)
    return first, start


def run_cumsum(x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum of ``x`` inside runs (``start`` from :func:`run_starts`),
    summed run by run: the sums of one run never mix with another's, so the result of a run
    does not depend on the other runs (an environment's results on its batch)."""
    pos = np.arange(x.size) - start
    cs = x.copy()
    for k in range(1, int(pos.max(initial=0)) + 1):
        i = np.flatnonzero(pos == k)
        cs[i] = cs[i - 1] + x[i]
    return cs


def group_cumsum(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum of x among equal keys g, in array order; exact per group."""
    if g.size == 0:
        return np.zeros(0)
    srt = np.argsort(g, kind="stable")
    _, start = run_starts(g[srt])
    out = np.empty(x.size)
    out[srt] = run_cumsum(np.asarray(x, float)[srt], start)
    return out


def scatter_add(a: np.ndarray, idx: np.ndarray, w) -> None:
    """a[idx] += w with repeated indices (one bincount added to a; faster than np.add.at)."""
    if np.size(idx):
        a += np.bincount(idx, weights=np.broadcast_to(np.asarray(w, float), np.shape(idx)), minlength=a.size)


def grow_last(a: np.ndarray, q: int, fill) -> np.ndarray:
    """``a`` padded with ``fill`` along its last axis to width ``q``."""
    pad = np.full(a.shape[:-1] + (q - a.shape[-1],), fill, dtype=a.dtype)
    return np.concatenate([a, pad], axis=-1)


def search_right(keys: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``searchsorted(keys, q, 'right')``; large query sets are sorted first (much faster)."""
    if q.size < 20000:
        return np.searchsorted(keys, q, side="right")
    o = np.argsort(q)
    out = np.empty(q.size, np.int64)
    out[o] = np.searchsorted(keys, q[o], side="right")
    return out
