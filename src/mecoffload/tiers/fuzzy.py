"""Mamdani fuzzy inference vectorised over tasks (NumPy), and the rule bases of the orchestrators.

Membership functions are piecewise linear, given by (x, μ) points as in FCL (``TERM low :=
(0, 1) (20, 1) (40, 0)``) and flat beyond the end points. Inference follows jFuzzyLogic as
used by EdgeCloudSim: AND = min, activation = min (clipping), accumulation = max; the output
universe is sampled at 1001 points and defuzzified by centre of gravity (``COG``) or the
left-most maximum (``LM``). Rows are tasks; nothing loops over tasks in Python.

Rule bases:

- ``SONMEZ_EDGE`` and ``SONMEZ_CLOUD``: the two-stage fuzzy workload orchestrator of Sonmez,
  Ozgovde & Ersoy (IEEE TNSM 2019, seed 002 ref [23]) as published with EdgeCloudSim's
  sample_app4 (27 + 81 rules). Stage 1 picks the nearest or the best remote edge server from the
  MAN delay and the two utilisations, stage 2 edge or cloud from WAN bandwidth, task length,
  delay sensitivity and the chosen server's utilisation.
- ``FLORES``: the fuzzy offloading of Flores et al. (2017, seed 002 ref [25]) as EdgeCloudSim's
  sample_app4 implements it for comparison (69 rules over WAN bandwidth, CPU speed, delay
  sensitivity, data size; an incomplete rule base, so some inputs fire no rule).
- ``ALMUTAIRI``: inputs of Almutairi & Aldossary (J. Cloud Comput. 2021, seed 002 ref [12]):
  VM utilisation, task length, network demand, delay sensitivity -> local edge / remote edge /
  cloud. The paper's rule table is not available to us; the 81 rules here come from one
  stated principle (see :func:`almutairi_table`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Points = tuple[tuple[float, float], ...]


def membership(x: np.ndarray, points: Points) -> np.ndarray:
    """μ(x) of a piecewise-linear term given by its (x, μ) points, flat outside."""
    xs = np.array([p[0] for p in points], float)
    ys = np.array([p[1] for p in points], float)
    return np.interp(np.asarray(x, float), xs, ys)


@dataclass(frozen=True)
class FuzzyInput:
    name: str
    terms: tuple[Points, ...]  # in the order used by the rule table

    def fuzzify(self, x: np.ndarray) -> np.ndarray:
        """(n, K) membership of every term."""
        return np.stack([membership(x, t) for t in self.terms], -1)


@dataclass(frozen=True)
class FIS:
    """A Mamdani system: inputs, a dense rule table (one axis per input, entries = output
    term index or -1 for "no rule"), output terms and the defuzzification method."""

    inputs: tuple[FuzzyInput, ...]
    table: np.ndarray  # shape (K_1, ..., K_m), int
    outputs: tuple[Points, ...]
    method: str = "COG"  # or "LM"
    default: float = 0.0  # crisp output when no rule fires
    universe: tuple[float, float] = (0.0, 100.0)

    def strengths(self, *x: np.ndarray) -> np.ndarray:
        """(n, C) accumulated firing strength of every output term (max over its rules of the
        min over the rule's antecedents)."""
        mus = [inp.fuzzify(v) for inp, v in zip(self.inputs, x)]
        n = mus[0].shape[0]
        m = len(mus)
        acc = None
        for i, mu in enumerate(mus):
            shape = [n] + [1] * m
            shape[i + 1] = mu.shape[1]
            mu = mu.reshape(shape)
            acc = mu if acc is None else np.minimum(acc, mu)
        fire = acc.reshape(n, -1)  # (n, R)
        flat = self.table.reshape(-1)
        out = np.zeros((n, len(self.outputs)))
        for c in range(len(self.outputs)):
            sel = flat == c
            if sel.any():
                out[:, c] = fire[:, sel].max(1)
        return out

    def defuzzify(self, s: np.ndarray) -> np.ndarray:
        """Crisp output (n,) from the term strengths (n, C).

        COG samples the output universe at 1001 points (as jFuzzyLogic does); LM (left-most
        maximum) is exact: the smallest x at which a term of the largest strength reaches it.
        """
        top = s.max(1) if s.size else np.zeros(0)
        if self.method == "LM":
            xs = np.full(s.shape, np.inf)
            for c, pts in enumerate(self.outputs):
                xs[:, c] = np.where(s[:, c] >= top - 1e-12, _leftmost_at_least(pts, s[:, c]), np.inf)
            val = xs.min(1)
        elif self.method == "COG":
            grid = np.linspace(self.universe[0], self.universe[1], 1001)
            shapes = np.stack([membership(grid, t) for t in self.outputs])  # (C, X)
            agg = np.minimum(s[:, :, None], shapes[None]).max(1)  # (n, X)
            tot = agg.sum(1)
            val = (agg * grid[None]).sum(1) / np.where(tot > 0, tot, 1.0)
        else:  # pragma: no cover - validated by construction
            raise ValueError(self.method)
        return np.where(top > 0, val, self.default)

    def __call__(self, *x: np.ndarray) -> np.ndarray:
        return self.defuzzify(self.strengths(*x))


def _leftmost_at_least(points: Points, level: np.ndarray) -> np.ndarray:
    """Smallest x with μ(x) >= level (level in (0, 1]) for a piecewise-linear term; inf if never."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    out = np.where(level <= ys[0], xs[0], np.inf)
    for i in range(len(xs) - 1):
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
        if y1 > y0:  # rising segment reaches the level at x0 + (level - y0)/(y1 - y0)·(x1 - x0)
            hit = (level > y0) & (level <= y1)
            x = x0 + (level - y0) / (y1 - y0) * (x1 - x0)
        else:
            hit = level <= y1
            x = np.full(np.shape(level), float(x0))
        out = np.where(np.isinf(out) & hit, x, out)
    return out


def _table(text: str, shape: tuple[int, ...], symbols: str) -> np.ndarray:
    """Rule table from a string of output symbols in row-major order ('.' = no rule)."""
    chars = [c for c in text if c in symbols + "."]
    assert len(chars) == int(np.prod(shape)), (len(chars), shape)
    return np.array([symbols.index(c) if c != "." else -1 for c in chars]).reshape(shape)


LOW_MED_HIGH_PCT = (((0, 1), (20, 1), (40, 0)), ((30, 0), (50, 1), (70, 0)), ((60, 0), (80, 1), (100, 1)))
UNIT_LMH = (((0, 1), (0.2, 1), (0.4, 0)), ((0.3, 0), (0.5, 1), (0.7, 0)), ((0.6, 0), (0.8, 1), (1, 1)))
WAN_BW = FuzzyInput("wan_bw_mbps", (((0, 1), (2, 1), (4, 0)), ((3, 0), (5, 1), (7, 0)), ((6, 0), (8, 1), (21, 1))))
TASK_LEN = FuzzyInput("task_length_mi", (((0, 1), (4000, 1), (8000, 0)), ((6000, 0), (12000, 1), (18000, 0)),
                                         ((16000, 0), (20000, 1), (50000, 1))))
DELAY_SENS = FuzzyInput("delay_sensitivity", UNIT_LMH)
EDGE_OUT = (((0, 0), (30, 1), (60, 0)), ((40, 0), (70, 1), (100, 0)))  # edge|cloud, nearest|remote

# Stage 2 (edge vs cloud), axes: avg_edge_util, task_size, wan_bw, delay_sensitivity (low, medium, high each)
SONMEZ_CLOUD = FIS(
    inputs=(FuzzyInput("edge_util_pct", LOW_MED_HIGH_PCT), TASK_LEN, WAN_BW, DELAY_SENS),
    table=_table("""
        EEE CEE CEE  EEE CCE CCE  EEE CCE CCE
        EEE CCE CCE  EEE CCE CCE  CCE CCE CCE
        CCE CCC CCC  CCE CCC CCC  CCE CCC CCC""", (3, 3, 3, 3), "EC"),
    outputs=EDGE_OUT, method="LM")

# Stage 1 (nearest vs best remote edge), axes: nearest_util, best_remote_util, man_delay
SONMEZ_EDGE = FIS(
    inputs=(FuzzyInput("nearest_util_pct", LOW_MED_HIGH_PCT), FuzzyInput("remote_util_pct", LOW_MED_HIGH_PCT),
            FuzzyInput("man_delay_s", (((0, 1), (0.001, 1), (0.004, 0)), ((0.002, 0), (0.007, 1), (0.012, 0)),
                                       ((0.01, 0), (0.013, 1), (10, 1))))),
    table=_table("""
        RNN NNN NNN
        RRN RRN NNN
        RRR RRR RRN""", (3, 3, 3), "NR"),
    outputs=EDGE_OUT, method="LM")

# Flores (EdgeCloudSim FUZZY_COMPETITOR), axes: cpu_speed, data_size, wan_bw, video_execution;
# L = local processing (the edge), R = remote processing (the cloud), '.' = no rule
FLORES = FIS(
    inputs=(FuzzyInput("cpu_speed_pct", LOW_MED_HIGH_PCT), FuzzyInput("data_size", UNIT_LMH), WAN_BW, DELAY_SENS),
    table=_table("""
        LLL .RR RRR   .LL .LR RRR   ... ... LLL
        LLL LRR LRR   LLR LLR LRR   L.. L.. LLL
        LLL RLL LLL   LLL LLL LLL   LLL LLR LLL""", (3, 3, 3, 3), "LR"),
    outputs=(((0, 1), (40, 1), (60, 0)), ((40, 0), (60, 1), (100, 1))), method="COG")

NET_DEMAND = FuzzyInput("network_demand_kb", (((0, 1), (500, 1), (1000, 0)), ((500, 0), (1250, 1), (2000, 0)),
                                              ((1500, 0), (2500, 1), (5000, 1))))


def almutairi_table() -> np.ndarray:
    """Rules over (VM utilisation, task length, network demand, delay sensitivity), levels 0..2.

    Principle: the cloud pays off for long, delay-tolerant tasks with little data when the edge
    is busy: cloud if length + utilisation - network demand - sensitivity >= 1; otherwise a
    remote edge server when the local one is highly utilised; otherwise the local edge.
    Outputs: 0 local edge, 1 remote edge, 2 cloud.
    """
    u, l, n, s = np.meshgrid(*[np.arange(3)] * 4, indexing="ij")
    return np.where(l + u - n - s >= 1, 2, np.where(u == 2, 1, 0))


ALMUTAIRI = FIS(
    inputs=(FuzzyInput("local_util_pct", LOW_MED_HIGH_PCT), TASK_LEN, NET_DEMAND, DELAY_SENS),
    table=almutairi_table(),
    outputs=(((0, 1), (10, 1), (30, 0)), ((20, 0), (50, 1), (80, 0)), ((70, 0), (90, 1), (100, 1))),
    method="LM")
