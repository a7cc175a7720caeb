"""Metrics of seed 001 (AL, TDR, PR, LBI; eqs 28-33), realized queue metrics, seed 000's
maximum server delay and device energy, accumulated over a batch of episodes (``Accumulator``)
or computed on a fixed state set (``static_metrics``).

Estimated metrics use the decision-time generalized cost J (eq 11) of the chosen location;
realized metrics use what the queue simulation actually did. LBI (eq 33) is computed per
episode (one topology each) and averaged. Per-server counts and utilisations are reported
with servers ranked by capacity within each episode (offload_1 / util_1 = fastest server).
"""

from __future__ import annotations

import numpy as np

from .cost import LATE_SLACK_S, obs_latency, oracle_costs
from .dynamics import EDGE, LOCAL, UPLINK, Obs, SimState, SlotOutcome
from .params import Params


def jain_index(x: np.ndarray) -> float:
    """Jain's fairness index (eq 33) in [1/W, 1]; 0 when nothing was offloaded."""
    x = np.asarray(x, dtype=float)
    s2 = float((x**2).sum())
    return float(x.sum() ** 2 / (len(x) * s2)) if s2 > 0 else 0.0


class Accumulator:
    """Collects per-decision and per-slot records for B episodes of one policy."""

    def __init__(self, p: Params, batch: int):
        self.p, self.B = p, batch
        E = p.n_servers
        self.j_sum = np.zeros(batch)
        self.j_paper_sum = np.zeros(batch)
        self.oracle_sum = np.zeros(batch)
        self.n_dec = np.zeros(batch, np.int64)
        self.n_late = np.zeros(batch, np.int64)
        self.actions = np.zeros((batch, p.n_actions), np.int64)  # decisions per action (E+1 = reject)
        self.lat_parts: list[np.ndarray] = []
        self.est_parts: list[np.ndarray] = []
        self.lat_loc_parts: list[np.ndarray] = []
        self.work = np.zeros((batch, E))
        self.energy = np.zeros(batch)
        self.max_delay: list[np.ndarray] = []  # per slot, (B,)
        self.slots_served = 0

    def decision(self, env: np.ndarray, a: np.ndarray, j_all: np.ndarray, j_paper: np.ndarray | None = None) -> None:
        """Record one decision per row (envs distinct); j_all: (n, A) generalized costs (s) under the
        scenario's cost model; j_paper: the same under the paper model (default: j_all)."""
        b = env
        j = j_all[np.arange(len(a)), a]
        self.j_paper_sum[b] += j if j_paper is None else j_paper[np.arange(len(a)), a]
        self.j_sum[b] += j
        self.oracle_sum[b] += j_all.min(1)
        self.n_dec[b] += 1
        self.n_late[b] += j > self.p.deadline_s + LATE_SLACK_S
        self.actions[b, a] += 1

    def slot_delay(self, state: SimState) -> None:
        """Seed 000: maximum over servers of L_e·γ/F_e after this slot's decisions (s)."""
        self.max_delay.append((state.backlog_bits * self.p.gamma / state.f_edge).max(1))

    def outcome(self, out: SlotOutcome) -> None:
        self.lat_parts.append(out.latency_s)
        self.est_parts.append(out.est_s)
        self.lat_loc_parts.append(out.lat_loc)
        self.work += out.work_edge
        self.energy += out.energy_j
        self.slots_served += 1

    def summary(self, state: SimState) -> dict:
        """All metrics as a flat dict of floats (units in the key names)."""
        p = self.p
        n = max(int(self.n_dec.sum()), 1)
        al_s = float(self.j_sum.sum() / n)
        oracle_s = float(self.oracle_sum.sum() / n)
        lat = np.concatenate(self.lat_parts) if self.lat_parts else np.zeros(0)
        completed = int(state.completed.sum())
        dropped = state.dropped.sum(0)
        rejected = int(state.rejected.sum())
        ended = completed + int(dropped.sum()) + rejected
        # servers ranked by capacity within each episode: S1 = fastest, so pooled counts mean something
        rank = np.argsort(-state.f_edge, axis=1, kind="stable")
        where = self.actions[:, : p.n_servers + 1]  # locations; rejections are counted apart
        ranked = np.concatenate([where[:, :1], np.take_along_axis(where[:, 1:], rank, axis=1)], axis=1)
        offl = ranked.sum(0)
        lbi = np.mean([jain_index(a) for a in where[:, 1:]]) if self.B else 0.0
        cap = state.f_edge * p.slot_s * max(self.slots_served, 1)
        util = (self.work / cap).mean(0)
        per_ep_al = self.j_sum / np.maximum(self.n_dec, 1) / p.slot_s
        horizon_s = p.horizon * p.slot_s
        md = np.stack(self.max_delay) if self.max_delay else np.zeros((1, self.B))
        out = {
            "tasks": int(self.n_dec.sum()),
            "AL_slots": al_s / p.slot_s,
            "AL_s": al_s,
            "AL_slots_episode_std": float(per_ep_al.std()),
            "AL_paper_slots": float(self.j_paper_sum.sum() / n) / p.slot_s,
            "TDR_pct": 100.0 * float(self.n_late.sum()) / n,
            "PR_pct": 100.0 * oracle_s / al_s if al_s > 0 else 0.0,
            "oracle_cost_slots": oracle_s / p.slot_s,
            "LBI_pct": 100.0 * float(lbi),
            "local_pct": 100.0 * float(offl[0]) / n,
            "realized_mean_s": float(lat.mean()) if lat.size else float("nan"),
            "realized_p50_s": float(np.percentile(lat, 50)) if lat.size else float("nan"),
            "realized_p95_s": float(np.percentile(lat, 95)) if lat.size else float("nan"),
            "realized_p99_s": float(np.percentile(lat, 99)) if lat.size else float("nan"),
            "realized_drop_pct": 100.0 * float(dropped.sum() + rejected) / max(ended, 1),
            "drops_local": int(dropped[LOCAL]),
            "drops_uplink": int(dropped[UPLINK]),
            "drops_edge": int(dropped[EDGE]),
            "drops_rejected": rejected,
            "completed": completed,
            "throughput_tasks_per_s": completed / (self.B * horizon_s),
            "edge_util_mean_pct": 100.0 * float(util.mean()),
            "avg_max_server_delay_s": float(md.mean()),
            "energy_per_task_j": float(self.energy.sum()) / n,
        }
        out.update(estimation_error(lat, np.concatenate(self.est_parts) if self.est_parts else np.zeros(0)))
        out["cost_model"] = p.cost_model
        util_ranked = np.take_along_axis(self.work / cap, rank, axis=1).mean(0)
        for e in range(len(offl)):
            out[f"offload_{e}"] = int(offl[e])
        for e in range(len(util_ranked)):
            out[f"util_{e + 1}_pct"] = 100.0 * float(util_ranked[e])
        return out

    def latencies(self) -> np.ndarray:
        return np.concatenate(self.lat_parts) if self.lat_parts else np.zeros(0)

    def estimates(self) -> np.ndarray:
        """Decision-time estimated latency (s) of each completed task, aligned with ``latencies()``
        (``dynamics.NO_ESTIMATE`` where the task was decided without one)."""
        return np.concatenate(self.est_parts) if self.est_parts else np.zeros(0)

    def max_delay_series(self) -> np.ndarray:
        """(T,) mean over episodes of the per-slot maximum server delay (s)."""
        return np.stack(self.max_delay).mean(1) if self.max_delay else np.zeros(0)


def estimation_error(realized_s: np.ndarray, est_s: np.ndarray) -> dict:
    """How far the decision-time estimate was from what happened, over completed tasks with an
    estimate: mean absolute error (s and % of the realized mean), bias (mean est − realized, s) and
    Pearson correlation. NaN (no data) where no task completed or the correlation is undefined;
    outputs turn NaN into null."""
    ok = est_s >= 0  # tasks decided with an estimate (``dynamics.NO_ESTIMATE`` otherwise)
    r, e = realized_s[ok], est_s[ok]
    if not r.size:
        nan = float("nan")
        return {"est_mae_s": nan, "est_mae_pct": nan, "est_bias_s": nan, "est_corr": nan}
    mae = float(np.abs(e - r).mean())
    corr = float(np.corrcoef(e, r)[0, 1]) if r.size > 1 and e.std() > 0 and r.std() > 0 else float("nan")
    return {"est_mae_s": mae, "est_mae_pct": 100.0 * mae / float(r.mean()), "est_bias_s": float((e - r).mean()),
            "est_corr": corr}


def check_accounting(state: SimState) -> None:
    """Every decided task ended exactly once (completed, dropped or rejected) or is still in flight."""
    lhs = state.arrived
    rhs = state.ended() + state.in_flight()
    if not np.array_equal(lhs, rhs):
        raise AssertionError(f"task accounting broken: arrived {lhs.sum()} != ended+in-flight {rhs.sum()}")


def static_metrics(actions: np.ndarray, obs: Obs, p: Params) -> dict:
    """AL (slots), TDR, PR, LBI (eqs 28-33) of the given actions on a fixed state set."""
    j = oracle_costs(obs, p)
    chosen = j[np.arange(len(actions)), actions]
    counts = np.bincount(actions, minlength=p.n_servers + 1)
    return {
        "AL_slots": float(chosen.mean() / p.slot_s),
        "TDR_pct": float(100 * (chosen > p.deadline_s + LATE_SLACK_S).mean()),
        "PR_pct": float(100 * j.min(1).mean() / chosen.mean()),
        "LBI_pct": float(100 * jain_index(counts[1:])),
        "oracle_match_pct": float(100 * (actions == j.argmin(1)).mean()),
        "offload": counts.tolist(),
    }
