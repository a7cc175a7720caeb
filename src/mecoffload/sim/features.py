"""The flat observation of the Gymnasium envs (``OffloadEnv``): scaled task and per-server features.

Shared by the envs and by the policies that must see exactly what a learner saw (``policies.dqn``);
it needs no Gymnasium. The layout is documented in :class:`mecoffload.sim.env.OffloadEnv`.

Feature sets (``FEATURE_SETS``, chosen by ``version``; a checkpoint records the one it was trained
on as ``feature_set``, absent = 1):

- 1: seed 001's view (the task, and per server F_e, R_e, N_e, L_e, distance, estimated C_e, L_e
  history). Every checkpoint trained before the queue view keeps reading exactly these.
- 2: set 1 plus the queue view of ``sim.dynamics.Obs``: the device's uplink backlog (bit) and
  expected wait (s); per server the mean rate R̄_e, tasks uploading to e vs in service at e, their
  remaining cycles, and the queue-model latency C^q_e (``sim.cost.queue_costs``, whatever the
  scenario's ``cost.model``).
"""

from __future__ import annotations

import numpy as np

from .cost import obs_latency, queue_costs
from .dynamics import Obs
from .params import Params

OBS_HIGH = 10.0
"""Every (scaled) observation feature is clipped to [0, OBS_HIGH]."""

TASK_FEATURES = ("size", "local_wait", "local_compute", "deadline", "slot")
SERVER_FEATURES = ("valid", "f_edge", "rate", "n_active", "backlog", "distance", "est_latency")
QUEUE_TASK_FEATURES = ("uplink_backlog", "uplink_wait")
QUEUE_SERVER_FEATURES = ("mean_rate", "n_uploading", "n_in_service", "backlog_cycles", "queue_latency")
FEATURE_SETS = {1: (TASK_FEATURES, SERVER_FEATURES),
                2: (TASK_FEATURES + QUEUE_TASK_FEATURES, SERVER_FEATURES + QUEUE_SERVER_FEATURES)}
"""version -> (task feature names, per-server feature names before the H history entries)"""
LATEST = max(FEATURE_SETS)


def check_version(version: int) -> int:
    """The feature-set version, or ValueError naming the allowed ones."""
    if isinstance(version, bool) or version not in FEATURE_SETS:
        raise ValueError(f"feature set must be one of {sorted(FEATURE_SETS)} (got {version!r})")
    return int(version)


def feature_dim(max_servers: int, history: int, version: int = 1) -> int:
    """Length of the flat observation: T task features + M·(S + H) server features
    (set 1: T = 5, S = 7; set 2: T = 7, S = 12)."""
    task, srv = FEATURE_SETS[check_version(version)]
    return len(task) + max_servers * (len(srv) + history)


def feature_names(max_servers: int, history: int, version: int = 1) -> list[str]:
    """Name of every entry of the flat observation, in order (see the layout table of ``OffloadEnv``)."""
    task, srv = FEATURE_SETS[check_version(version)]
    srv = [*srv, *(f"backlog_hist_{h - history}" for h in range(history))]
    return [*task, *(f"s{e + 1}_{n}" for e in range(max_servers) for n in srv)]


def flat_features(obs: Obs, t: np.ndarray, p: Params, max_servers: int | None = None, version: int = 1) -> np.ndarray:
    """(n, ``feature_dim(M, H, version)``) float32 scaled features of the n rows of ``obs``: the env's observation.

    t: (n,) slot index of each row's task. M = ``max_servers`` (default ``obs.n_servers``);
    servers beyond ``obs.n_servers`` are zero padding. The reference magnitudes depend only on
    scenario constants that ``n_servers`` does not change, so any ``Params`` of the scenario
    gives the same features. Used by ``OffloadEnv`` / ``OffloadVectorEnv`` and by policies
    that must see exactly what a learner saw (``policies.dqn``).
    """
    version = check_version(version)
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
    task = [obs.bits / size_ref, obs.local_wait_s / deadline_s, obs.bits * p.gamma / p.f_loc / deadline_s,
            np.full(n, p.deadline_s / deadline_s), np.asarray(t) / p.horizon]
    lat = obs_latency(obs, p)
    cols = [np.ones((n, E)), obs.f_edge / freq_ref, obs.rate / rate_ref, obs.n_active / count_ref,
            obs.backlog_bits / size_ref, obs.dist / dist_ref, lat[:, 1:] / deadline_s]
    if version >= 2:
        task += [obs.uplink_bits / size_ref, obs.uplink_wait_s / deadline_s]
        q = queue_costs(obs.bits, obs.local_wait_s, obs.mean_rate, obs.uplink_wait_s, obs.f_edge, obs.n_in_service,
                        obs.backlog_cycles, p)
        cols += [obs.mean_rate / rate_ref, obs.n_uploading / count_ref, obs.n_in_service / count_ref,
                 obs.backlog_cycles / (size_ref * p.gamma), q[:, 1:] / deadline_s]
    srv = np.zeros((n, M, len(cols) + p.history))
    srv[:, :E, : len(cols)] = np.stack(cols, axis=-1)
    srv[:, :E, len(cols) :] = obs.hist / size_ref
    out = np.concatenate([np.stack(task, axis=1), srv.reshape(n, -1)], axis=1)
    return np.clip(out, 0.0, OBS_HIGH).astype(np.float32)
