"""Evaluation of a policy on DNN-split tasks (``Params.dnn``): the hooks that ``sim.rollout.run_closed_loop``
uses for DNN actions ``(v * K + k) * E + e`` and the DNN metrics.

The metrics are those of ``sim.metrics.Accumulator`` (realized latency, drops, throughput = inferences
per second, ``energy_per_task_j`` = device energy per inference: compute power x device time + P_tx x
air time) with the estimate being the queue-aware one of ``sim.dnncost`` (AL, TDR, PR: the chosen
(k, e)'s estimate against the least one), the location of a task being 0 when all-local and its server
otherwise, plus: ``split_local_pct`` / ``split_edge_pct`` / ``split_middle_pct`` (all-local, full
offload, a true split), ``split_depth_mean`` (mean k / n), ``accuracy_top1_mean`` (published top-1 of
the variant run), ``variant_<name>_pct`` (share of the decisions running each of the scenario's
variants), ``inferences_per_s`` and ``energy_per_inference_j``. Units: s, J, top-1 %.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import PolicyError
from .dnncost import queue_latency
from .dynamics import Obs
from .metrics import LATE_SLACK_S, Accumulator
from .params import Params


class DnnAccumulator(Accumulator):
    """``Accumulator`` whose locations are 0 = all-local, e = server e, with the split statistics."""

    def __init__(self, p: Params, batch: int):
        super().__init__(p, batch)
        self.actions = np.zeros((batch, p.n_servers + 1), np.int64)
        self.splits = np.zeros(3, np.int64)  # all-local, full offload, middle
        self.depth_sum = 0.0
        self.top1_sum = 0.0
        self.variant_n = np.zeros(p.dnn.n_variants, np.int64)
        self.k_parts: list[np.ndarray] = []  # (n, 3): network, split, variant of every decision

    def dnn_decision(self, obs: Obs, a: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Record one decision per row; ``lat`` (n, V*K, E) queue-aware estimates. Returns the chosen estimate (s)."""
        t = self.p.dnn
        col, e = t.column_of(a)
        v, k = col // t.n_splits, col % t.n_splits
        net = np.asarray(obs.net, np.int64)
        nl = t.n_layers[net]
        rows = np.arange(len(a))
        j = lat[rows, col, e]
        b = obs.env
        self.j_sum[b] += j
        self.j_paper_sum[b] += j
        self.oracle_sum[b] += lat.reshape(len(a), -1).min(1)
        self.n_dec[b] += 1
        self.n_late[b] += j > self.p.deadline_s + LATE_SLACK_S
        self.actions[b, np.where(k == nl, 0, e + 1)] += 1
        self.in_system[b] += 1
        self.splits += [int((k == nl).sum()), int((k == 0).sum()), int(((k > 0) & (k < nl)).sum())]
        self.depth_sum += float((k / nl).sum())
        self.top1_sum += float(t.top1[net, v].sum())
        self.variant_n += np.bincount(v, minlength=t.n_variants)
        self.k_parts.append(np.stack([net, k, v], 1))
        return j

    def summary(self, state) -> dict:
        out = super().summary(state)
        n = max(int(self.n_dec.sum()), 1)
        out.update({
            "split_local_pct": 100.0 * self.splits[0] / n, "split_edge_pct": 100.0 * self.splits[1] / n,
            "split_middle_pct": 100.0 * self.splits[2] / n, "split_depth_mean": self.depth_sum / n,
            "accuracy_top1_mean": self.top1_sum / n, "inferences_per_s": out["throughput_tasks_per_s"],
            "energy_per_inference_j": out["energy_per_task_j"],
        })
        out.update({f"variant_{name}_pct": 100.0 * c / n for name, c in zip(self.p.dnn.variants, self.variant_n)})
        return out

    def split_records(self) -> np.ndarray:
        """(decisions, 3) network index, split k and variant v of every decision, in decision order."""
        return np.concatenate(self.k_parts) if self.k_parts else np.zeros((0, 3), np.int64)


def check_dnn_actions(a: np.ndarray, obs: Obs, p: Params, name: str) -> None:
    """Reject a policy's answer unless it is one valid DNN action ``(v * K + k) * E + e`` per row: in range, a split
    its network has, a variant its network has within its minimum top-1 (``DnnTables.valid``)."""
    if a.shape != (len(obs),):
        raise PolicyError(f"policy '{name}' returned {a.shape} actions for {len(obs)} tasks")
    if not len(a):
        return
    if a.min() < 0 or a.max() >= p.n_actions:
        raise PolicyError(f"policy '{name}' returned a DNN action outside 0..V*K*E-1")
    if not p.dnn.valid[np.asarray(obs.net, np.int64), a // p.n_servers].all():
        raise PolicyError(f"policy '{name}' returned a DNN action deeper than the network or with a model variant it "
                          f"may not run (missing, or more than dnn.max_top1_loss = {p.dnn.max_top1_loss:g} points below fp32)")


def dnn_hooks(p: Params, policy, episodes: int, rng: np.random.Generator):
    """(accumulator, act(obs), estimate(obs, a, p)) of ``sim.rollout.run_closed_loop`` for DNN-split tasks:
    the policy's (k, e) actions checked, recorded with their queue-aware estimate (kept with each task)."""
    if not getattr(policy, "dnn", False):
        raise PolicyError(f"policy '{policy.name}' does not decide DNN-split tasks: use dnn-local, dnn-edge-nearest, "
                          "dnn-edge-least-loaded, neurosurgeon, dnn-oracle or setnet-dnn:DIR")
    acc = DnnAccumulator(p, episodes)
    chosen: dict[int, np.ndarray] = {}

    def act(obs: Obs) -> np.ndarray:
        a = np.asarray(policy.act(obs, rng), dtype=np.int64)
        check_dnn_actions(a, obs, p, policy.name)
        chosen[id(obs)] = acc.dnn_decision(obs, a, queue_latency(obs, p))
        return a

    def estimate(obs: Obs, a: np.ndarray, _p: Params) -> np.ndarray:
        return chosen.pop(id(obs))

    return acc, act, estimate
