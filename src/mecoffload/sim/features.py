"""The flat observation of the Gymnasium envs (``OffloadEnv``): scaled task and per-server features.

Shared by the envs and by the policies that must see exactly what a learner saw (``policies.dqn``);
it needs no Gymnasium. The layout is documented in :class:`mecoffload.sim.env.OffloadEnv`.
"""

from __future__ import annotations

import numpy as np

from .cost import obs_latency
from .dynamics import Obs
from .params import Params

OBS_HIGH = 10.0
"""Every (scaled) observation feature is clipped to [0, OBS_HIGH]."""

TASK_FEATURES = ("size", "local_wait", "local_compute", "deadline", "slot")
SERVER_FEATURES = ("valid", "f_edge", "rate", "n_active", "backlog", "distance", "est_latency")


def feature_dim(max_servers: int, history: int) -> int:
    """Length of the flat observation: 5 task features + M·(7 + H) server features."""
    return len(TASK_FEATURES) + max_servers * (len(SERVER_FEATURES) + history)


def feature_names(max_servers: int, history: int) -> list[str]:
    """Name of every entry of the flat observation, in order (see the layout table below)."""
    srv = [*SERVER_FEATURES, *(f"backlog_hist_{h - history}" for h in range(history))]
    return [*TASK_FEATURES, *(f"s{e + 1}_{n}" for e in range(max_servers) for n in srv)]


def flat_features(obs: Obs, t: np.ndarray, p: Params, max_servers: int | None = None) -> np.ndarray:
    """(n, 5 + M·(7+H)) float32 scaled features of the n rows of ``obs``: the env's observation.

    t: (n,) slot index of each row's task. M = ``max_servers`` (default ``obs.n_servers``);
    servers beyond ``obs.n_servers`` are zero padding. The reference magnitudes depend only on
    scenario constants that ``n_servers`` does not change, so any ``Params`` of the scenario
    gives the same features. Used by ``OffloadEnv`` / ``OffloadVectorEnv`` and by policies
    that must see exactly what a learner saw (``policies.dqn``).
    """
    n, E = obs.rate.shape
    M = E if max_servers is None else int(max_servers)
    if M < E:
        raise ValueError(f"max_servers={M} is smaller than the observation's {E} servers")
    # reference magnitudes: each scaled feature is O(1) in normal operation
    size_ref = p.size_hi_bit  # bit: the largest task
    deadline_s = p.deadline_s  # s: the deadline τ_max
    freq_ref = p.f_edge_hi  # Hz: the fastest possible server
    rate_ref = p.bandwidth_hz * np.log2(1.0 + p.snr_ref)  # bit/s at d0 with |h|² = 1
    count_ref = max(1.0, p.n_users * p.rate)  # tasks: mean arrivals per slot
    dist_ref = p.area_m  # m: side of the area
    task = np.stack(
        [
            obs.bits / size_ref,
            obs.local_wait_s / deadline_s,
            obs.bits * p.gamma / p.f_loc / deadline_s,
            np.full(n, p.deadline_s / deadline_s),
            np.asarray(t) / p.horizon,
        ],
        axis=1,
    )
    lat = obs_latency(obs, p)
    srv = np.zeros((n, M, len(SERVER_FEATURES) + p.history))
    cols = [
        np.ones((n, E)),
        obs.f_edge / freq_ref,
        obs.rate / rate_ref,
        obs.n_active / count_ref,
        obs.backlog_bits / size_ref,
        obs.dist / dist_ref,
        lat[:, 1:] / deadline_s,
    ]
    srv[:, :E, : len(cols)] = np.stack(cols, axis=-1)
    srv[:, :E, len(cols) :] = obs.hist / size_ref
    out = np.concatenate([task, srv.reshape(n, -1)], axis=1)
    return np.clip(out, 0.0, OBS_HIGH).astype(np.float32)
