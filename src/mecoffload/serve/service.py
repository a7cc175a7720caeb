"""The decision service without HTTP: a scenario, the policy being served, and the monitor.

``Service.decide(snapshots)`` groups the snapshots by their number of servers E (a policy is built
once per E and cached: setnet and the LLM policies take any E, DQN only its own), then decides
round by round (the j-th task of every snapshot at once) exactly as the simulator's decision loop
does. Estimated latencies are ``sim.cost.obs_latency`` (eqs 2-8, s) of every option. Policies with
scores (setnet ``logits``, the LLM policies ``log_probs``) decide by their argmax and report the
softmax as probabilities; the others report none.

Torch runs on one thread (``torch.set_num_threads(1)``) with the models in eval mode and no
autograd: a decision is a few small matrix products, more threads only add overhead.
"""

from __future__ import annotations

import dataclasses
import threading
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import UserError
from ..policies.base import make_policy
from ..policies.compressed import int8_folder
from ..policies.setnet import FEATURES, SetNetPolicy
from ..sim.cost import obs_latency
from ..sim.dynamics import Arrivals, observe, reset
from ..sim.params import Params
from ..sim.rollout import check_actions, policy_seed
from ..sim.scenario import Scenario
from .monitor import Monitor
from .columnar import columns_out
from .columns import Parsed, concat, prepare
from .snapshot import SnapshotError

STOCHASTIC = ("random", "lacs", "ga")
"""policies that draw from their random stream: served decisions depend on the request order"""
POLICY_CACHE = 8  # numbers of servers a policy is kept built for


@dataclass
class Served:
    """A policy spec and its instances, one per number of servers E (built on first use)."""

    spec: str
    p: Params
    by_e: dict[int, object] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    alone: bool = False
    """decide each request on its own (never coalesced): True for int8 folders, whose dynamic
    quantisation scales the activations per forward pass, so a row's decision can depend on the
    rows decided with it (``policies.compressed.int8_folder``)"""

    def for_servers(self, n: int):
        pol = self.by_e.get(n)
        if pol is None:
            with self.lock:
                pol = self.by_e.get(n)
                if pol is None:
                    try:
                        pol = self._build(n)
                    except UserError as exc:  # e.g. a DQN built for another E: the request's servers are at fault
                        raise SnapshotError(("body", "servers"), f"{n} servers: {exc}") from None
                    if len(self.by_e) >= POLICY_CACHE:
                        self.by_e.pop(next(k for k in self.by_e if k != self.p.n_servers))
                    self.by_e[n] = pol
        return pol

    def _build(self, n: int):
        """The policy built for n servers (a bad spec or checkpoint: UserError)."""
        p = self.p if n == self.p.n_servers else dataclasses.replace(self.p, n_servers=n)
        pol = make_policy(self.spec, p)
        _eval_mode(pol)
        _trace_setnet(pol)
        return pol


def _eval_mode(pol) -> None:
    """Put every torch module a policy holds into eval mode (dropout etc. off)."""
    for value in vars(pol).values():
        if hasattr(value, "eval") and hasattr(value, "parameters"):
            value.eval()


def _trace_setnet(pol) -> None:
    """Run a setnet policy's module as its frozen TorchScript trace (the same aten kernels without
    the per-module Python calls: 1 row 93 vs 269 µs, 64 rows 270 vs 386 µs here), but only when it gives
    bit-identical logits on probe inputs of several shapes (n rows, E servers); else keep it."""
    net = getattr(pol, "net", None)
    if not isinstance(pol, SetNetPolicy) or net is None:
        return
    import torch

    ft, fs = FEATURES[getattr(pol, "feature_set", 1)]
    g = torch.Generator().manual_seed(0)
    probes = [(torch.randn(n, ft, generator=g), torch.randn(n, e, fs, generator=g)) for n, e in ((1, 6), (5, 3), (64, 11))]
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch 2.13 marks torch.jit deprecated; it is pinned (==2.13.0)
            traced = torch.jit.freeze(torch.jit.trace(net, probes[0], check_trace=False).eval())  # weights as constants
        with torch.inference_mode():
            same = all(torch.equal(traced(*x), net(*x)) for _ in range(3) for x in probes)  # 3: past the JIT's profiling runs
    except Exception:  # noqa: BLE001 - a module the tracer cannot take keeps running eagerly
        return
    if same:
        pol.net = traced


def _append(out: list, idx: list, k: np.ndarray, action: np.ndarray, n: int, ids: range, cost: list, meets: list,
            probs: list | None) -> None:
    """Append one round's decisions (rows ``k`` of the group ``idx``) to ``out`` as JSON-ready dicts."""
    for r, (row, a) in enumerate(zip(k.tolist(), action.tolist())):
        out[idx[row]].append({
            "decision_id": ids[r], "action": a, "location": "local" if a == 0 else "edge" if a <= n else "reject",
            "server": a - 1 if 1 <= a <= n else None, "estimated_latency_s": cost[r], "meets_deadline": meets[r],
            "probabilities": None if probs is None else probs[r]})


def _sub_rounds(rounds: list, off: int, n: int) -> list:
    """The rows of ``rounds`` (of a combined call) that belong to the snapshots off..off+n-1, as
    rounds of that request alone (its own snapshot indices, its decision ids)."""
    mine = []
    for idx, k, action, e, cost, meets, probs, ids in rounds:
        snap = np.asarray(idx)[k]
        m = (snap >= off) & (snap < off + n)
        if m.any():
            mine.append((range(n), snap[m] - off, action[m], e, cost[m], meets[m], None if probs is None else probs[m],
                         np.arange(ids.start, ids.stop)[m].tolist()))
    return mine


def _softmax(scores) -> np.ndarray:
    s = scores.double() if hasattr(scores, "double") else scores
    s = s.numpy() if hasattr(s, "numpy") else np.asarray(s, np.float64)
    s = s - s.max(1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(1, keepdims=True)


class Service:
    """Decisions of one policy on one scenario, with monitoring and a policy that can be replaced."""

    def __init__(self, scenario: Scenario, spec: str, seed: int = 0) -> None:
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:  # heuristics only
            pass
        self.sc, self.p = scenario, Params.from_scenario(scenario)
        self.rng = policy_seed(seed)
        self.monitor = Monitor()
        self.ready = False
        self.served = self.load(spec)
        self.monitor.serving(spec, None)
        self.ready = True
        self.monitor.ready.set(1)

    def load(self, spec: str) -> Served:
        """Build ``spec`` for the scenario (validated now: bad input raises UserError)."""
        served = Served(spec, self.p, alone=int8_folder(spec.partition(":")[2]))
        pol = served._build(self.p.n_servers)
        if hasattr(pol, "plan_slot"):
            raise UserError(f"policy '{spec}' plans whole slots of all devices at once (plan_slot); "
                            "it cannot decide one snapshot: serve a per-task policy")
        served.by_e[self.p.n_servers] = pol
        self._warm(pol, spec)
        return served

    def _warm(self, pol, spec: str) -> None:
        """One decision on a synthetic state, unrecorded, so that the first request finds the compiled
        kernels and torch ready (the service is ready only after it). Stochastic policies draw from
        their own throw-away stream here."""
        p = self.p
        state, _ = reset(p, 1, 0)
        arr = Arrivals(user=np.zeros((1, 1), np.int64), bits=np.full((1, 1), p.size_lo_bit), valid=np.ones((1, 1), bool))
        obs = observe(state, arr, 0, p)
        self._act(pol, obs, spec, policy_seed(0))
        obs_latency(obs, p)

    def swap(self, spec: str) -> str:
        """Serve ``spec`` from now on; requests already running finish with the policy they started with."""
        new = self.load(spec)
        old, self.served = self.served, new
        self.monitor.serving(new.spec, old.spec)
        return old.spec

    def info(self) -> dict:
        p = self.p
        return {"policy": self.served.spec, "scenario": self.sc.name, "n_servers": p.n_servers,
                "history_slots": p.history, "slot_s": p.slot_s, "deadline_s": p.deadline_s,
                "device_cpu_ghz": p.f_loc / 1e9, "density_gcycles_per_mbit": p.gamma / 1e3,
                "allow_local": p.allow_local, "allow_reject": p.allow_reject, "cost_model": p.cost_model,
                "deterministic": self.served.spec.partition(":")[0] not in STOCHASTIC}

    def decide(self, snapshots, first: int = 0) -> tuple[str, list[list[dict]] | dict]:
        """(policy spec, decisions of every snapshot's tasks in order) for validated snapshots (a list
        of ``schema.Snapshot``, or a ``columns.Parsed`` of them; a columnar one, ``columnar.parse``,
        gets K x T arrays laid out as ``schema.ColumnsOut``); ``first`` < 0 marks a single-snapshot
        request (error locations without an index). All or nothing: a ``SnapshotError`` leaves the
        monitor untouched (no decision counted or kept)."""
        parsed = snapshots if isinstance(snapshots, Parsed) else prepare(snapshots, first, self.p)
        return self.decide_parts([parsed])[0]

    def decide_parts(self, parts: list[Parsed]) -> list[tuple[str, list[list[dict]] | dict]]:
        """Decide the ``Parsed`` of several requests in one go (the coalescer: one forward pass per
        round for all of them, on copies of their boards) and give each its own (spec, decisions):
        dict lists per snapshot, or K x T arrays for a columnar one. All or nothing, as ``decide``."""
        spec, rounds = self._rounds(parts[0] if len(parts) == 1 else concat(parts))
        out, off = [], 0
        for part in parts:
            mine = rounds if len(parts) == 1 else _sub_rounds(rounds, off, part.n)
            if part.columnar:
                (g,) = part.groups.values()
                out.append((spec, columns_out(mine, part.n, g.board.rounds)))
            else:
                rows: list[list[dict]] = [[] for _ in range(part.n)]
                for idx, k, action, n, cost, meets, probs, ids in mine:
                    _append(rows, idx, k, action, n, ids, cost.tolist(), meets.tolist(),
                            None if probs is None else probs.tolist())
                out.append((spec, rows))
            off += part.n
        return out

    def _rounds(self, parsed: Parsed) -> tuple[str, list]:
        """Decide every round of every group (the j-th task of every snapshot at once, as the simulator's
        decision loop), then book them in the monitor: (spec, [(idx, k, action, E, cost, meets, probs,
        decision ids)] in decision order)."""
        served = self.served  # one policy for the whole request, even if it is replaced meanwhile
        rounds = []
        for n, g in parsed.groups.items():
            pol, b = served.for_servers(n), g.board
            for j in range(b.rounds):
                k, obs = b.observe(j)
                action, probs = self._act(pol, obs, served.spec)
                cost = obs_latency(obs, self.p)
                if not np.isfinite(cost).all():
                    bad = int(k[np.flatnonzero(~np.isfinite(cost).all(1))[0]])
                    raise SnapshotError(g.at[bad], "the estimated latencies leave the float range: give realistic "
                                                   "sizes, rates, CPU frequencies and backlogs")
                rounds.append((g.idx, k, action, n, cost, cost <= b.deadline_s[k, j][:, None], probs))
                b.decide(k, obs, action, self.p)
        booked = []
        for idx, k, action, n, cost, meets, probs in rounds:  # every row decided: book them, in order
            chosen = np.where(action <= n, cost[np.arange(len(k)), np.minimum(action, n)], np.nan)  # E+1: reject
            booked.append((idx, k, action, n, cost, meets, probs, self.monitor.record(served.spec, action, n, chosen)))
        return served.spec, booked

    def _act(self, pol, obs, spec: str, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        scores_of = getattr(pol, "logits", None) or getattr(pol, "log_probs", None) or \
            (pol.scores if getattr(pol, "scores_are_logits", False) else None)  # onnx: setnet or an encoder
        if scores_of is not None:
            scores = scores_of(obs)
            action = np.asarray(scores.argmax(1), np.int64)
            probs = _softmax(scores)
        else:
            action, probs = np.asarray(pol.act(obs, self.rng if rng is None else rng), np.int64), None
        p = pol.p if isinstance(getattr(pol, "p", None), Params) else dataclasses.replace(self.p, n_servers=obs.n_servers)
        check_actions(action, len(obs), p, spec)
        return action, probs
