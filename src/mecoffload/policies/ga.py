"""Genetic-algorithm baseline of seed 000: one GA per slot over the joint assignment of the
slot's arrivals, in every environment at once.

Chromosome: one location per task that arrived in the slot (gene k = location of the env's
k-th arrival, 0 = local, e = edge server e; never 0 when the scenario forbids local
execution). Genes beyond an env's arrival count are padding and do not count.

Fitness (lower is better), the slot's objective:

- ``max-delay`` (seed 000, default when local execution is forbidden, e.g. ``loadbalance``):
  the maximum server delay after all of the slot's tasks are assigned,
  max_e (L_e + Σ D of the slot's tasks sent to e)·γ/F_e, in seconds; exactly the number the
  ``avg_max_server_delay_s`` metric records for the slot. When local execution is allowed,
  a device that keeps at least one of the slot's tasks counts as one more server with delay
  (local wait + its local cycles)/f_loc, as in ``min-max-delay``.
- ``cost`` (default when local execution is allowed, e.g. ``comllm``): Σ over the slot's
  tasks of the estimated generalized cost J (eq 11, seconds), each evaluated in arrival order
  on the state the simulator's decisions would leave: N_e and L_e include the slot's earlier
  tasks sent to e, a device's local wait includes its earlier local tasks of the slot
  (the same floating-point operations as ``observe``/``decide``, so the fitness of a plan is
  exactly the sum of the ``oracle_costs`` entries it will be charged).

Algorithm (vectorised over envs × individuals; Python loops only over generations and, for
the ``cost`` objective, the ≤ ~10 tasks of the slot): the initial population holds the greedy
plans (``min-max-delay``, ``least-loaded``, ``oracle`` for max-delay; ``oracle``,
``min-max-delay`` for cost), each obtained by running that policy on a copy of the slot's
state, and uniform random individuals. Each generation keeps the ``elite`` best unchanged and
breeds the rest: two parents by tournament selection (size ``tour``), crossover with
probability ``pc`` (``uniform``: each gene from either parent; ``one-point``: a random cut),
then per-gene mutation with probability ``mut`` to a different allowed location. Elitism and
the greedy seeds make the chosen plan never worse than the best greedy plan on the GA's own
objective; among equal plans the first greedy one wins. All randomness comes from the rng
given to ``plan_slot``, so results are deterministic.

Argument (all optional, comma-separated ``key=value``), e.g. ``ga:pop=32,gens=20,mut=0.1``
(bounds: pop ≤ 10,000, gens ≤ 10,000, pop × gens × (E+1) ≤ 10^8):

=========  ========  ==============================================================
key        default   meaning
=========  ========  ==============================================================
pop        32        individuals per environment (2..10,000)
gens       20        generations (0..10,000; 0 = best of the initial population)
mut        0.1       per-gene mutation probability, in [0, 1]
pc         0.9       probability that a child is made by crossover, in [0, 1]
cx         uniform   crossover: ``uniform`` or ``one-point``
elite      2         best individuals copied unchanged each generation (1..pop)
tour       2         tournament size (1..pop)
objective  auto      ``max-delay`` or ``cost``; auto = max-delay iff local is forbidden
=========  ========  ==============================================================

``act`` returns the planned location of the k-th arrival of each env (k = 0, 1, ... as the
evaluation loop calls it). Called without a matching plan (e.g. by a Gymnasium env that does
not call ``plan_slot``), it falls back to the greedy rule of its objective
(``min-max-delay`` or ``oracle``).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import PolicyError, clip
from ..core.resources import check_memory
from ..sim.cost import estimated_costs, generalized_cost, mask_local, queue_costs
from ..sim.dynamics import Arrivals, Obs, SimState, decide, observe
from ..sim.params import Params
from .base import register
from .heuristics import LeastLoadedPolicy
from .minmax import MinMaxDelayPolicy
from .oracle import OraclePolicy
from .specs import Arg, parse_policy_args

OBJECTIVES = ("max-delay", "cost")
CROSSOVERS = ("uniform", "one-point")
MAX_POP = 10_000
"""upper bound of ``pop`` (individuals per environment)"""
MAX_GENS = 10_000
"""upper bound of ``gens``"""
MAX_WORK = 10**8
"""upper bound of pop × gens × (E+1), the genes scored per environment and slot, so that a run
that could not finish in any reasonable time is refused at once"""
GA_ARGS = {
    "pop": Arg(int, 2, MAX_POP), "gens": Arg(int, 0, MAX_GENS), "mut": Arg(float, 0.0, 1.0), "pc": Arg(float, 0.0, 1.0),
    "cx": Arg(str, choices=CROSSOVERS + ("onepoint",)), "elite": Arg(int, 1, MAX_POP), "tour": Arg(int, 1, MAX_POP),
    "objective": Arg(str, choices=OBJECTIVES + ("auto",)),
}
_DEFAULTS = dict(pop=32, gens=20, mut=0.1, pc=0.9, cx="uniform", elite=2, tour=2, objective="auto")


def parse_ga_arg(arg: str | None, p: Params) -> dict:
    """Parse ``pop=32,gens=20,...`` into a settings dict; raise a one-line PolicyError on bad input."""
    cfg = {**_DEFAULTS, **parse_policy_args("ga", arg, GA_ARGS)}
    if cfg["cx"] == "onepoint":
        cfg["cx"] = "one-point"
    if cfg["objective"] == "auto":
        cfg["objective"] = "cost" if p.allow_local else "max-delay"
    pop, work = cfg["pop"], cfg["pop"] * cfg["gens"] * (p.n_servers + 1)
    checks = [
        (cfg["elite"] <= pop, f"elite must be in [1, pop={pop}], got {cfg['elite']}"),
        (cfg["tour"] <= pop, f"tour must be in [1, pop={pop}], got {cfg['tour']}"),
        (work <= MAX_WORK, f"pop × gens × (E+1) = {pop} × {cfg['gens']} × {p.n_servers + 1} = {work:.3g} "
                           f"is over the bound {MAX_WORK:.0e}"),
    ]
    for ok, msg in checks:
        if not ok:
            raise PolicyError(f"ga argument '{clip(arg, 60)}': {msg}")
    return cfg


class _SlotContext:
    """Per-slot constants of the fitness evaluation, batch-first (B envs, A arrivals)."""

    def __init__(self, state: SimState, arr: Arrivals, p: Params):
        B, A = arr.valid.shape
        E = state.f_edge.shape[1]
        self.valid = arr.valid
        self.bits = np.where(arr.valid, arr.bits, 0.0)
        self.user = arr.user
        self.rate = np.ones((B, A, E))  # 1 bit/s on padding keeps D/R finite (D = 0 there)
        self.envs_at = []
        for k in range(A):  # the exact rates observe() will show (same arrays, same operations)
            obs = observe(state, arr, k, p)
            self.rate[obs.env, k] = obs.rate
            self.envs_at.append(obs.env)
        self.f_edge = state.f_edge
        self.n0 = state.n_active
        self.L0 = state.backlog_bits
        self.lw0 = state.local_wait_cyc
        if p.cost_model == "queue":  # the queue view: in service (fixed within the slot), uplink FIFOs (s)
            bb = np.arange(B)[:, None]
            self.mean_rate = state.mean_rate[bb, arr.user]  # (B,A,E) bit/s
            self.n_srv = state.eq_n.astype(np.float64)
            self.cycles = state.eq_cyc.sum(-1)
            dest_rate = np.take_along_axis(state.mean_rate, state.uq_dest, axis=2)  # (B,U,QU)
            self.uw0 = (state.uq_bits / dest_rate).sum(-1)  # (B,U) s; uq_bits is 0 beyond each queue


@register("ga", "seed 000 genetic algorithm per slot over the joint assignment (ga:pop=32,gens=20,mut=0.1,objective=max-delay|cost)")
class GAPolicy:
    name = "ga"

    def __init__(self, p: Params, arg: str | None = None):
        self.p = p
        cfg = parse_ga_arg(arg, p)
        self.pop, self.gens, self.mut, self.pc = cfg["pop"], cfg["gens"], cfg["mut"], cfg["pc"]
        self.cx, self.elite, self.tour, self.objective = cfg["cx"], cfg["elite"], cfg["tour"], cfg["objective"]
        if self.objective == "max-delay":
            self._greedy = [MinMaxDelayPolicy(p), LeastLoadedPolicy(p), OraclePolicy(p)]
        else:
            self._greedy = [OraclePolicy(p), MinMaxDelayPolicy(p)]
        self._check_memory(1)  # one environment must fit; reset() checks the real batch
        self._clear()

    def memory_bytes(self, batch: int) -> int:
        """Rough upper estimate (bytes) of the arrays of one slot's planning for ``batch``
        environments: population, children and parents (B, pop, A) int64, fitness temporaries
        (B, pop, E+1) and, with local execution, (B, pop, U) float64, tournaments (B, pop, 2, tour),
        with A the arrivals of an environment in a slot (mean + 4σ for Poisson, U for Bernoulli)."""
        p = self.p
        mean = p.n_users * p.rate
        arrivals = p.n_users if p.arrival == "bernoulli" else mean + 4 * mean**0.5 + 2
        per_individual = 8 * arrivals + 12 * (p.n_servers + 1) + 2 * self.tour + (4 * p.n_users if p.allow_local else 0)
        return int(8 * batch * (self.pop * per_individual + arrivals * p.n_servers))

    def _check_memory(self, batch: int) -> None:
        check_memory(self.memory_bytes(batch), f"policy '{self.name}' with pop={self.pop} on {batch} environment(s)",
                     "lower pop or the number of episodes")

    # ------------------------------------------------------------------ protocol

    def reset(self, batch: int) -> None:
        self._check_memory(batch)
        self._clear()

    def _clear(self) -> None:
        self.plan: np.ndarray | None = None  # (B, A) planned locations of the current slot
        self.best_fitness: np.ndarray | None = None  # (B,) objective of the plan
        self.seed_fitness: np.ndarray | None = None  # (B, S) objective of each greedy seed
        self._ctx: _SlotContext | None = None
        self._k = 0

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        ctx, k = self._ctx, self._k
        if ctx is not None and k < len(ctx.envs_at):
            env = ctx.envs_at[k]
            if np.array_equal(obs.env, env) and np.array_equal(obs.bits, ctx.bits[env, k]):
                self._k = k + 1
                return self.plan[env, k].astype(np.int64)
        return np.asarray(self._greedy[0].act(obs, rng), dtype=np.int64)

    # ------------------------------------------------------------------ planning

    def plan_slot(self, state: SimState, arr: Arrivals, rng: np.random.Generator) -> np.ndarray:
        """Run the GA for every env on this slot's arrivals; returns the plan (B, A)."""
        p = self.p
        B, A = arr.valid.shape
        self._k = 0
        self._ctx = _SlotContext(state, arr, p)
        if A == 0:
            self.plan = np.zeros((B, 0), np.int64)
            self.best_fitness = self.seed_fitness = None
            return self.plan
        E = state.f_edge.shape[1]
        lo = 0 if p.allow_local else 1
        nch = E + 1 - lo
        P = self.pop
        seeds = self.greedy_plans(state, arr)[:P]  # (S, B, A)
        S = seeds.shape[0]
        pop = np.empty((B, P, A), np.int64)
        pop[:, :S] = seeds.transpose(1, 0, 2)
        pop[:, S:] = rng.integers(lo, E + 1, (B, P - S, A))
        fit = self.fitness(pop)
        self.seed_fitness = fit[:, :S].copy()
        bi = np.arange(B)[:, None]
        n_el, nc = self.elite, P - self.elite
        for _ in range(self.gens if nc > 0 else 0):
            order = np.argsort(fit, axis=1, kind="stable")[:, :n_el]
            elite, elite_fit = pop[bi, order], fit[bi, order]
            # tournament selection of two parents per child
            cand = rng.integers(0, P, (B, nc, 2, self.tour))
            best_in = np.argmin(fit[bi[..., None, None], cand], -1)  # (B, nc, 2)
            win = cand.reshape(-1, self.tour)[np.arange(B * nc * 2), best_in.ravel()].reshape(B, nc, 2)
            pa, pb = pop[bi, win[..., 0]], pop[bi, win[..., 1]]
            # crossover: genes where `from_b` is set come from the second parent
            if self.cx == "uniform":
                from_b = rng.random((B, nc, A)) < 0.5
            else:
                cut = rng.integers(1, A, (B, nc, 1)) if A > 1 else np.ones((B, nc, 1), np.int64)
                from_b = np.arange(A) >= cut
            from_b &= rng.random((B, nc, 1)) < self.pc
            child = np.where(from_b, pb, pa)
            # per-gene mutation to a different allowed location
            if nch > 1 and self.mut > 0:
                hit = rng.random((B, nc, A)) < self.mut
                shift = rng.integers(1, nch, (B, nc, A))
                child = np.where(hit, lo + (child - lo + shift) % nch, child)
            pop = np.concatenate([elite, child], axis=1)
            fit = np.concatenate([elite_fit, self.fitness(child)], axis=1)
        best = np.argmin(fit, axis=1)  # first minimum: elites (then greedy seeds) win ties
        self.plan = pop[np.arange(B), best]
        self.best_fitness = fit[np.arange(B), best]
        return self.plan

    def greedy_plans(self, state: SimState, arr: Arrivals) -> np.ndarray:
        """(S, B, A) the slot's decisions of each greedy seed policy, run on copies of ``state``."""
        p = self.p
        B, A = arr.valid.shape
        out = np.zeros((len(self._greedy), B, A), np.int64)
        out[...] = 0 if p.allow_local else 1  # padding genes: any allowed location
        for s, pol in enumerate(self._greedy):
            st = state.copy()
            for k in range(A):
                obs = observe(st, arr, k, p)
                a = np.asarray(pol.act(obs, None), dtype=np.int64)
                out[s, obs.env, k] = a
                decide(st, obs, a, p)
        return out

    def fitness(self, pop: np.ndarray) -> np.ndarray:
        """(B, Q) slot objective (s) of every individual of ``pop`` (B, Q, A) on the current slot."""
        if self._ctx is None:
            raise RuntimeError("ga: fitness() needs plan_slot() first")
        if self.objective == "max-delay":
            return self._max_delay(pop)
        return self._cost(pop)

    def _max_delay(self, pop: np.ndarray) -> np.ndarray:
        c, p = self._ctx, self.p
        B, Q, A = pop.shape
        E, U = c.f_edge.shape[1], c.lw0.shape[1]
        srv = np.arange(1, E + 1)
        backlog = np.broadcast_to(c.L0[:, None, :], (B, Q, E))
        for k in range(A):  # sequential sums, exactly as decide() adds them (+0.0 elsewhere)
            on = (pop[:, :, k, None] == srv) & c.valid[:, k, None, None]
            backlog = backlog + on * c.bits[:, k, None, None]
        worst = (backlog * p.gamma / c.f_edge[:, None, :]).max(-1)
        if p.allow_local:
            lw = np.broadcast_to(c.lw0[:, None, :], (B, Q, U))
            has = np.zeros((B, Q, U), bool)
            usr = np.arange(U)
            for k in range(A):
                mine = ((pop[:, :, k] == 0) & c.valid[:, k, None])[..., None] & (c.user[:, k, None, None] == usr)
                lw = lw + mine * (c.bits[:, k] * p.gamma)[:, None, None]
                has |= mine
            worst = np.maximum(worst, np.where(has, lw / p.f_loc, 0.0).max(-1))
        return worst

    def _cost(self, pop: np.ndarray) -> np.ndarray:
        c, p = self._ctx, self.p
        if p.cost_model == "queue":
            return self._queue_cost(pop)
        B, Q, A = pop.shape
        E, U = c.f_edge.shape[1], c.lw0.shape[1]
        srv, usr = np.arange(1, E + 1), np.arange(U)
        n = np.broadcast_to(c.n0[:, None, :], (B, Q, E))
        backlog = np.broadcast_to(c.L0[:, None, :], (B, Q, E))
        lw = np.broadcast_to(c.lw0[:, None, :], (B, Q, U))
        f_edge = c.f_edge[:, None, :]
        bi, rows = np.arange(B), np.arange(B * Q)
        total = np.zeros((B, Q))
        for k in range(A):
            g, vk, u = pop[:, :, k], c.valid[:, k][:, None], c.user[:, k]
            d = np.broadcast_to(c.bits[:, k][:, None], (B, Q))
            cost = estimated_costs(d, c.rate[:, k][:, None, :], lw[bi, :, u] / p.f_loc, f_edge, n, backlog, p)
            j = generalized_cost(cost, p).reshape(B * Q, E + 1)[rows, g.ravel()].reshape(B, Q)
            total = total + np.where(vk, j, 0.0)
            if k + 1 < A:  # the state the next task sees (adding exact zeros elsewhere)
                on = (g[..., None] == srv) & vk[..., None]
                backlog = backlog + on * d[..., None]
                n = n + on
                mine = ((g == 0) & vk)[..., None] & (u[:, None, None] == usr)
                lw = lw + mine * (d * p.gamma)[..., None]
        return total

    def _queue_cost(self, pop: np.ndarray) -> np.ndarray:
        """(B, Q) sum of the queue-aware J (``sim.cost.queue_costs``) of the slot's tasks in arrival
        order: each decision adds its upload (D/R̄ s) to its device's FIFO or its cycles to the local
        queue; the tasks in service do not change within the slot."""
        c, p = self._ctx, self.p
        B, Q, A = pop.shape
        U = c.lw0.shape[1]
        usr = np.arange(U)
        lw = np.broadcast_to(c.lw0[:, None, :], (B, Q, U))
        uw = np.broadcast_to(c.uw0[:, None, :], (B, Q, U))
        bi, rows = np.arange(B), np.arange(B * Q)
        total = np.zeros((B, Q))
        for k in range(A):
            g, vk, u = pop[:, :, k], c.valid[:, k][:, None], c.user[:, k]
            d = np.broadcast_to(c.bits[:, k][:, None], (B, Q))
            rate = c.mean_rate[:, k][:, None, :]  # (B,1,E)
            lat = queue_costs(d, lw[bi, :, u] / p.f_loc, rate, uw[bi, :, u], c.f_edge[:, None, :], c.n_srv[:, None, :],
                              c.cycles[:, None, :], p)
            j = mask_local(generalized_cost(lat, p), p).reshape(B * Q, -1)[rows, g.ravel()].reshape(B, Q)
            total = total + np.where(vk, j, 0.0)
            if k + 1 < A:
                mine = vk[..., None] & (u[:, None, None] == usr)  # (B,Q,U): the device of task k
                up = np.take_along_axis(np.broadcast_to(rate, (B, Q, rate.shape[-1])), np.maximum(g - 1, 0)[..., None], 2)[..., 0]
                uw = uw + (mine & (g > 0)[..., None]) * (d / up)[..., None]
                lw = lw + (mine & (g == 0)[..., None]) * (d * p.gamma)[..., None]
        return total
