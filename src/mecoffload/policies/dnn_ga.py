"""``dnn-ga``: a genetic algorithm over a slot's joint (split, server) assignment of DNN-split tasks.

Per env and slot, an individual is one action ``(v * K + k) * E + e`` per arrival. Fitness (lower is better) is the
mean over the slot's tasks of the queue-aware latency (``sim.dnncost``) evaluated sequentially in arrival
order — each task sees the local stages, uploads and edge work of those before it — plus ρ for every
task whose estimate exceeds the deadline (eq 11's generalized cost). Population 0 is ``dnn-oracle``'s
greedy plan, the others that plan with each gene re-drawn (uniform allowed variant, uniform valid split,
uniform server) with probability ``mut``; each generation keeps the best individual and fills the rest with uniform
crossovers of two binary-tournament parents, then mutation. Deterministic: the compiled loop is seeded
from the policy's stream once per slot.

Argument (optional, comma-separated ``key=value``): ``dnn-ga:pop=16,gens=10,mut=0.1``
(pop 2..1,000, gens 0..1,000, mut in [0, 1]).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import PolicyError
from ..sim.dnncost import commit, latency_of, plan_rows
from ..sim.dynamics import Arrivals, SimState
from ..sim.kernels import njit
from ..sim.params import Params
from .base import register
from .dnn import DnnOracle, slot_state


@register("dnn-ga", "DNN tasks: genetic algorithm over the slot's joint (variant, split, server) assignment, seeded "
                    "with dnn-oracle's plan (dnn-ga:pop=16,gens=10,mut=0.1)")
class DnnGa(DnnOracle):
    name = "dnn-ga"

    def __init__(self, p: Params, arg: str | None = None):
        opts = {"pop": 16.0, "gens": 10.0, "mut": 0.1}
        for item in filter(None, (arg or "").split(",")):
            key, _, val = item.partition("=")
            try:
                opts[key] = float(val) if key in opts else float("nan")
            except ValueError:
                opts[key] = float("nan")
            if key not in ("pop", "gens", "mut") or not np.isfinite(opts[key]):
                raise PolicyError(f"dnn-ga: arguments pop=2..1000, gens=0..1000, mut=0..1 (got '{item[:40]}')")
        self.pop, self.gens, self.mut = int(opts["pop"]), int(opts["gens"]), opts["mut"]
        if not (2 <= self.pop <= 1000 and 0 <= self.gens <= 1000 and 0 <= self.mut <= 1):
            raise PolicyError("dnn-ga: arguments pop=2..1000, gens=0..1000, mut=0..1")
        super().__init__(p, None)

    def plan_slot(self, state: SimState, arr: Arrivals, rng: np.random.Generator) -> np.ndarray:
        p, t = self.p, self.t
        b, j = np.nonzero(arr.valid)
        out = np.zeros(arr.valid.shape, np.int64)
        if b.size:
            g = slot_state(state, p)
            greedy, _ = plan_rows(b, arr.user[b, j], arr.net[b, j], *(a.copy() for a in g), t.dev_s, t.up_bits, t.srv_s,
                                  t.n_layers, t.allowed, p.slot_s, True)
            out[b, j] = evolve(b, arr.user[b, j], arr.net[b, j], greedy, *g, t.dev_s, t.up_bits, t.srv_s, t.n_layers,
                               t.allowed, p.slot_s, p.deadline_s, p.rho_s, self.pop, self.gens, self.mut,
                               int(rng.integers(0, 2**31 - 1)))
        self._plan, self._valid, self._k = out, arr.valid, 0
        return out


@njit
def _fitness(rows, genes, grp, usr, net, lw, uw, rate, f, n_c, w_c, dev_s, up_bits, srv_s, n_layers, K, dt, late_s,
             rho_s):
    """Mean generalized cost (s) of one env's tasks ``rows`` under ``genes`` (actions), decided in order."""
    E = srv_s.shape[2]
    g = grp[rows[0]]
    lw1, uw1, nc1, wc1 = lw[g:g + 1].copy(), uw[g:g + 1].copy(), n_c[g:g + 1].copy(), w_c[g:g + 1].copy()
    total = 0.0
    for i in range(rows.size):
        r = rows[i]
        u, m = usr[r], net[r]
        j, e = genes[i] // E, genes[i] % E
        k = j % K
        nl = n_layers[m]
        c = latency_of(k, e, nl, lw1[0, u], uw1[0, u], rate[g, u, e], f[g, e], nc1[0, e], wc1[0, e], dev_s[m, j],
                       up_bits[m, j], srv_s[m, j, e], dt)
        total += c + rho_s if c > late_s else c
        commit(0, u, m, j, k, e, nl, lw1, uw1, rate[g:g + 1], f[g:g + 1], nc1, wc1, dev_s, up_bits, srv_s)
    return total / rows.size


@njit
def _mutate(genes, rows, net, n_layers, allowed, K, E, mut):
    """Re-draw each gene with probability ``mut``: an allowed variant (drawn only when there are several),
    a valid split and a server, uniformly."""
    V = allowed.shape[1]
    for i in range(rows.size):
        if np.random.random() < mut:
            m = net[rows[i]]
            v = 0
            if V > 1:
                q = np.random.randint(0, allowed[m].sum())
                for w in range(V):
                    if allowed[m, w]:
                        if q == 0:
                            v = w
                            break
                        q -= 1
            genes[i] = (v * K + np.random.randint(0, n_layers[m] + 1)) * E + np.random.randint(0, E)


@njit
def evolve(grp, usr, net, greedy, lw, uw, rate, f, n_c, w_c, dev_s, up_bits, srv_s, n_layers, allowed, dt, late_s,
           rho_s, pop, gens, mut, seed):
    """The GA for every env (rows grouped by ``grp``, in order); returns the best assignment per row."""
    np.random.seed(seed)
    E = srv_s.shape[2]
    K = dev_s.shape[1] // allowed.shape[1]
    out = greedy.copy()
    lo = 0
    while lo < grp.size:
        hi = lo
        while hi < grp.size and grp[hi] == grp[lo]:
            hi += 1
        rows = np.arange(lo, hi)
        P = np.empty((pop, rows.size), np.int64)
        fit = np.empty(pop)
        for q in range(pop):
            P[q] = greedy[lo:hi]
            if q:
                _mutate(P[q], rows, net, n_layers, allowed, K, E, mut)
            fit[q] = _fitness(rows, P[q], grp, usr, net, lw, uw, rate, f, n_c, w_c, dev_s, up_bits, srv_s, n_layers,
                              K, dt, late_s, rho_s)
        for _ in range(gens):
            best = np.argmin(fit)
            Q = np.empty_like(P)
            qf = np.empty(pop)
            Q[0], qf[0] = P[best], fit[best]
            for q in range(1, pop):
                a, b = np.random.randint(0, pop), np.random.randint(0, pop)
                pa = a if fit[a] <= fit[b] else b
                a, b = np.random.randint(0, pop), np.random.randint(0, pop)
                pb = a if fit[a] <= fit[b] else b
                for i in range(rows.size):
                    Q[q, i] = P[pa, i] if np.random.random() < 0.5 else P[pb, i]
                _mutate(Q[q], rows, net, n_layers, allowed, K, E, mut)
                qf[q] = _fitness(rows, Q[q], grp, usr, net, lw, uw, rate, f, n_c, w_c, dev_s, up_bits, srv_s, n_layers,
                                 K, dt, late_s, rho_s)
            P, fit = Q, qf
        out[lo:hi] = P[np.argmin(fit)]
        lo = hi
    return out
