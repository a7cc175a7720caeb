"""Gymnasium environments over the vectorised MEC dynamics: one offloading decision per step.

``OffloadEnv`` is a plain ``gymnasium.Env`` (flat ``Box`` observation, ``Discrete`` action), so
off-the-shelf agents such as Stable-Baselines3 DQN train on it unmodified. ``OffloadVectorEnv``
runs ``num_envs`` copies over one batched ``SimState`` with NumPy (no Python loop over envs).

Both are thin drivers of :mod:`mecoffload.sim.dynamics` through ``sim.envbatch.EnvBatch`` (B
episodes, each at its own slot, with a pointer to its pending task); the observation is
``sim.features.flat_features`` and the reward comes from ``sim.rewards`` (estimated) or
``sim.realized`` (realized outcomes). This module holds the
spaces, the action masks, the reward choice, seeding and autoreset. Units: seconds, bits, Hz
unless a name says otherwise.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .scenario import Scenario, load_scenario
from .dynamics import Obs, SimState
from .envbatch import EnvBatch
from .features import (OBS_HIGH, SERVER_FEATURES, TASK_FEATURES, check_version, feature_dim, feature_names,
                       flat_features)
from .params import Params
from .realized import RealizedCredit
from .rewards import COSTS, j_slots, reward

RewardKind = Literal["cost", "lacs", "realized"]

_SEED_HIGH = 2**63 - 1


class _Spec:
    """Scenario, action layout and feature scaling shared by the single and vector envs."""

    def __init__(self, scenario: Scenario | str, reward: str, max_servers: int | None, overrides, features: int = 1):
        if isinstance(scenario, str):
            sc = load_scenario(scenario, overrides)
        elif isinstance(scenario, Scenario):
            sc = scenario.with_overrides(overrides)
        else:
            raise TypeError(f"scenario must be a Scenario or a preset name/path, got {type(scenario).__name__}")
        if reward not in ("cost", "lacs", "realized"):
            raise ValueError(f"reward must be 'cost', 'lacs' or 'realized' (got {reward!r})")
        self.version = check_version(features)
        p = Params.from_scenario(sc)
        if p.dnn is not None:
            raise ValueError(
                "the Gymnasium envs take generic tasks (action = a server or the device); this scenario has "
                "DNN-split tasks (dnn.networks), whose actions are (variant, split, server): use "
                "`mecoffload train setnet-dnn` or the DNN policies of `mecoffload evaluate`"
            )
        m = p.n_servers if max_servers is None else int(max_servers)
        if m < p.n_servers:
            raise ValueError(f"max_servers={m} is smaller than the scenario's edge.count={p.n_servers}")
        self.scenario, self.p0, self.reward, self.max_servers = sc, p, reward, m
        self.cost = COSTS.get("j" if reward in ("cost", "realized") else reward)
        self.H = p.history
        self.dim = feature_dim(m, self.H, self.version)
        self.fallback = 0 if p.allow_local else 1
        self.n_actions = m + 1 + int(p.allow_reject)  # 0 local, 1..M servers, M+1 reject (cost.allow_reject)

    def params(self, n_servers: int) -> Params:
        return self.p0 if n_servers == self.p0.n_servers else dataclasses.replace(self.p0, n_servers=n_servers)

    def n_servers_from(self, options: dict[str, Any] | None) -> int:
        options = options or {}
        unknown = set(options) - {"n_servers"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)} (allowed: 'n_servers')")
        e = options.get("n_servers", self.p0.n_servers)
        if isinstance(e, bool) or not isinstance(e, (int, np.integer)) or not 1 <= e <= self.max_servers:
            raise ValueError(
                f"reset option n_servers must be an integer in [1, max_servers={self.max_servers}] (got {e!r})"
            )
        return int(e)

    def feature_names(self) -> list[str]:
        return feature_names(self.max_servers, self.H, self.version)

    def mask(self, n_servers: int) -> np.ndarray:
        """(n_actions,) bool: actions that exist and are allowed."""
        m = np.zeros(self.n_actions, bool)
        m[0] = self.p0.allow_local
        m[1 : n_servers + 1] = True
        m[self.max_servers + 1 :] = True  # reject, when the scenario allows it
        return m

    def to_sim(self, action: np.ndarray, n_servers: int) -> np.ndarray:
        """Env actions (0..M, M+1 = reject) as the dynamics' actions (0..E, E+1 = reject)."""
        return np.where(action > self.max_servers, n_servers + 1, action)

    def features(self, obs: Obs, t: np.ndarray, p: Params) -> np.ndarray:
        """(n, dim) float32 scaled features of the n rows of ``obs``; t: their slot index."""
        return flat_features(obs, t, p, self.max_servers, self.version)

    def rewards(self, obs: Obs, action: np.ndarray, p: Params, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """(reward, J of the action, oracle J), each (n,), J in slots; the realized reward is filled
        in by the env from its ``RealizedCredit`` (0 here)."""
        j = j_slots(obs, p)
        if self.reward == "realized":
            r = np.zeros(len(action))
        else:
            r = reward(j if self.cost is j_slots else self.cost(obs, p, rng), action)
        return r, j[np.arange(len(action)), action], j.min(1)

    def estimated_j(self, obs: Obs, p: Params) -> np.ndarray:
        """(n, n_actions) estimated J (eq 11) in slots; +inf for masked actions (the last column is
        reject, J = τ_max + ρ, when the scenario allows it)."""
        j = np.full((len(obs), self.n_actions), np.inf)
        jj = j_slots(obs, p)
        j[:, : obs.n_servers + 1] = jj[:, : obs.n_servers + 1]
        if p.allow_reject:
            j[:, -1] = jj[:, -1]
        return j


_DOC_MDP = """
    **Observation** (``Box(0, 10, (5 + M·(7+H),), float32)``, M = ``max_servers``, H =
    ``sim.history_slots``; every feature is scaled to O(1) and clipped to [0, 10]).
    Reference magnitudes: D_ref = largest task size (bit), T_ref = deadline τ_max (s),
    F_ref = largest F_e (Hz), R_ref = B·log2(1 + SNR at d0) (bit/s), N_ref = max(1, U·λ)
    (mean arrivals per slot), X_ref = side of the area (m).

    ====================  ================================================================
    index                 feature of the pending task
    ====================  ================================================================
    0                     D / D_ref (task size)
    1                     T^{wait,loc} / T_ref (local FIFO wait, s)
    2                     D·γ/f_loc / T_ref (local compute time, s)
    3                     τ_max / T_ref (deadline, s; = 1 with this scaling)
    4                     t / horizon (slot index; ≥ 1 only in the final observation)
    5 + e·(7+H) + 0       valid flag of server e+1 (0 for padding when E < M)
    ... + 1               F_e / F_ref (CPU, Hz)
    ... + 2               R_e / R_ref (uplink rate of this user in this slot, eq 1, bit/s)
    ... + 3               N_e / N_ref (tasks sent to e and not finished)
    ... + 4               L_e / D_ref (their remaining work, bit)
    ... + 5               d_e / X_ref (user-server distance, m)
    ... + 6               C_e / T_ref (estimated latency on e, eqs 2-8 via ``estimated_costs``, s)
    ... + 7 .. 7+H-1      L_e / D_ref at the end of the last H slots, oldest first (bit)
    ====================  ================================================================

    ``features=2`` (the queue view, ``sim.features.FEATURE_SETS[2]``): ``Box(0, 10, (7 + M·(12+H),))``,
    two more task features after index 4 and five more per server after C_e (then the history):

    ====================  ================================================================
    index                 feature (feature set 2)
    ====================  ================================================================
    5                     W^up_bits / D_ref (bits queued in the device's uplink FIFO)
    6                     W^up / T_ref (expected wait before the task's upload starts, s)
    7 + e·(12+H) + 0..6   as set 1: valid, F_e, R_e, N_e, L_e, d_e, C_e (C_e under ``cost.model``)
    ... + 7               R̄_e / R_ref (mean uplink rate over the fading, bit/s)
    ... + 8               tasks uploading towards e (any device) / N_ref
    ... + 9               tasks in service at e / N_ref
    ... + 10              W_e / (D_ref·γ) (remaining cycles at e)
    ... + 11              C^q_e / T_ref (queue-model latency, ``sim.cost.queue_costs``, s)
    ... + 12 .. 12+H-1    L_e history as set 1
    ====================  ================================================================

    Padded servers (index ≥ E) are all zeros. ``feature_names`` lists the names. The raw
    ``Obs`` (SI units) is in ``last_obs`` for policies that want structured input.

    **Action** ``Discrete(M+1)``: 0 = execute locally, e = offload to edge server e. With
    ``cost.allow_reject`` (admission control) ``Discrete(M+2)``: M+1 = reject, the task is dropped
    at once with reason ``rejected`` (reward −(τ + ρ/Δt) in the "realized" reward, J = τ_max + ρ in
    the estimated ones). ``action_masks()`` (sb3-contrib convention) is False for padded servers and
    for 0 when the scenario forbids local execution. A masked action is *not* an error: it is
    replaced by 0 (local), or by 1 when local is forbidden, and ``info["invalid_action"]`` is True.
    Only an action outside the action space raises ``ValueError``.

    **Reward** (per decision, in slots): ``"cost"`` → −J/Δt, the estimated generalized cost of
    the chosen location (eqs 11, 14; ``sim.rewards.j_slots``); ``"lacs"`` →
    −(J + λ·C_impact)/Δt (eq 26, ``sim.rewards.lacs_slots``, K future tasks sampled from the
    env's ``np_random``), never larger than the "cost" reward of the same state and action;
    ``"realized"`` → what happened (``sim.realized``): a decided task costs its realized latency/Δt
    when it completes and τ + ρ/Δt when it is dropped (unfinished at the end of slot a+τ−1 for a
    task decided in slot a) or rejected. **Delayed credit**: the outcome is known only slots after
    the decision, so the reward of a step is −(sum of the costs of this env's tasks whose outcome
    became known during the step: the slots it served, and a rejection at once), and
    ``info["task_id"]`` is the id of the task decided (its env's count of earlier decisions).
    A learner that wants each decision's own cost (e.g. the DQN) calls ``pop_credits()``: the
    (env, task id, cost) of every outcome since the last call, to match with ``info["task_id"]``.
    Tasks still in flight when an episode is truncated and reset are never credited.

    **Dynamics and episode end.** Reset draws a layout and starts at slot 0 with the slot's
    arrivals. Each step decides one task (``sim.dynamics.decide``); when the slot has no more
    pending task the slot is served and the next slot is drawn, skipping (but serving) slots
    without arrivals, so every observation is a real pending task. ``terminated`` is always
    False; ``truncated`` is True when the next pending task lies at a slot ≥
    ``sim.horizon_slots``: that observation is the true next state (valid for bootstrapping)
    but is not meant to be acted on. Queues are not drained at the end.

    **Info**: ``J_slots`` (J of the executed action), ``oracle_J_slots`` (min over allowed
    actions), ``action`` (executed action), ``slot`` (slot of the decided task),
    ``invalid_action``, ``n_servers``, ``task_id``.
"""


# --------------------------------------------------------------------------- envs


class _Episodes:
    """What both envs keep: the spec, the batch of episodes and the current episode's constants."""

    def _setup(self, scenario: Scenario | str, reward: str, max_servers: int | None, overrides, features: int) -> None:
        self._spec = _Spec(scenario, reward, max_servers, overrides, features)
        self.scenario = self._spec.scenario
        self.max_servers = self._spec.max_servers
        self.reward_kind = reward
        self.feature_names = self._spec.feature_names()
        self._batch: EnvBatch | None = None
        self._p = self._spec.p0
        self._mask = self._spec.mask(self._p.n_servers)
        self.last_obs: Obs | None = None
        self._credit: RealizedCredit | None = None

    @property
    def params(self) -> Params:
        """SI constants of the current episode (``n_servers`` = its E)."""
        return self._p

    @property
    def state(self) -> SimState:
        """The underlying ``SimState`` (row i = env i); read it, do not modify it."""
        self._require_reset()
        return self._batch.state

    def _start(self, seed: int | None, options: dict[str, Any] | None, batch: int) -> int:
        """After ``super().reset(seed=seed)``: fresh episodes with the E of ``options``; returns E."""
        e = self._spec.n_servers_from(options)
        self._p = self._spec.params(e)
        self._mask = self._spec.mask(e)
        exo_seed = seed if seed is not None else int(self.np_random.integers(_SEED_HIGH))
        self._credit = RealizedCredit(self._p) if self.reward_kind == "realized" else None
        self._batch = EnvBatch(self._p, batch, exo_seed, self._credit)
        self.last_obs = self._batch.observe()
        return e

    def pop_credits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``reward="realized"``: (env, task id, realized cost in slots) of every task whose outcome
        became known since the last call (each task exactly once); see the Reward section."""
        self._require_reset()
        if self._credit is None:
            raise RuntimeError("pop_credits() needs reward='realized'")
        return self._credit.pop()

    def _realized_rewards(self, n: int) -> np.ndarray:
        """(n,) −(realized costs, slots) credited per env since the last step; keeps them for ``pop_credits``."""
        env, _, cost = self._credit.fresh()
        return -np.bincount(env, cost, minlength=n)[:n]

    def _estimated_j(self) -> np.ndarray:
        self._require_reset()
        return self._spec.estimated_j(self.last_obs, self._p)

    def _all_features(self) -> np.ndarray:
        return self._spec.features(self.last_obs, self._batch.state.t, self._p)

    def _require_reset(self) -> None:
        if self._batch is None:
            raise RuntimeError("call reset() before using the environment")


class OffloadEnv(_Episodes, gym.Env[np.ndarray, np.int64]):
    __doc__ = (
        """MEC task offloading, one decision per step (B = 1 over ``sim.dynamics``).

    Args:
        scenario: a ``Scenario`` or a preset name / TOML path (default ``"comllm"``).
        reward: ``"cost"`` (eq 14), ``"lacs"`` (eq 26) or ``"realized"`` (outcomes, delayed credit).
        max_servers: M, width of the action space and of the observation (default: the
            scenario's ``edge.count``); ``reset(options={"n_servers": E})`` picks any E ≤ M for
            one episode (default E = ``edge.count``).
        overrides: dotted scenario overrides, e.g. ``{"edge.count": 11}``.
        features: observation feature set (``sim.features.FEATURE_SETS``): 1 (default, seed 001's
            view) or 2 (adds the queue view).

    **Seeding.** ``reset(seed=s)`` seeds the dynamics' exogenous stream with s exactly as
    ``eval.evaluate.run_policy(..., episodes=1, seed=s)`` does (same layout, arrivals, sizes
    and channels), and seeds ``np_random`` (used by the LACS reward). ``seed=None`` draws the
    exogenous seed from ``np_random``.
"""
        + _DOC_MDP
    )

    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: Scenario | str = "comllm",
        *,
        reward: RewardKind = "cost",
        max_servers: int | None = None,
        overrides: dict[str, Any] | list[str] | None = None,
        features: int = 1,
    ):
        self._setup(scenario, reward, max_servers, overrides, features)
        self.observation_space = spaces.Box(0.0, OBS_HIGH, (self._spec.dim,), np.float32)
        self.action_space = spaces.Discrete(self._spec.n_actions)

    @property
    def n_servers(self) -> int:
        return self._p.n_servers

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        e = self._start(seed, options, 1)
        return self._features(), {"slot": int(self._batch.state.t[0]), "n_servers": e}

    def step(self, action):
        self._require_reset()
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is outside the action space Discrete({self._spec.n_actions})")
        a = int(action)
        invalid = not self._mask[a]
        if invalid:
            a = self._spec.fallback
        obs, p = self.last_obs, self._p
        act = self._spec.to_sim(np.array([a]), p.n_servers)
        r, j, j_min = self._spec.rewards(obs, act, p, self.np_random)
        slot = int(self._batch.state.t[0])
        task_id = int(self._batch.state.arrived[0])
        self._batch.decide(obs, act)
        if self._credit is not None:
            r = self._realized_rewards(1)
        self.last_obs = self._batch.observe()
        truncated = bool(self._batch.state.t[0] >= p.horizon)
        info = {
            "J_slots": float(j[0]),
            "oracle_J_slots": float(j_min[0]),
            "action": a,
            "slot": slot,
            "invalid_action": invalid,
            "n_servers": p.n_servers,
            "task_id": task_id,
        }
        return self._features(), float(r[0]), False, truncated, info

    def action_masks(self) -> np.ndarray:
        """(n_actions,) bool: True for actions that exist and are allowed."""
        return self._mask.copy()

    def estimated_costs_slots(self) -> np.ndarray:
        """(n_actions,) estimated J (eq 11) of each action for the pending task, in slots;
        +inf for masked actions. Its argmin is the one-step oracle (eq 15)."""
        return self._estimated_j()[0]

    def _features(self) -> np.ndarray:
        return self._all_features()[0]


class OffloadVectorEnv(_Episodes, VectorEnv):
    __doc__ = (
        """``num_envs`` independent ``OffloadEnv`` episodes over one batched ``SimState``.

    Each sub-environment is the MDP of ``OffloadEnv`` (same observation, action, reward, info
    keys and episode end). ``step(actions)`` decides the pending task of every env at once
    (one ``decide`` call); envs whose slot is exhausted are then served and drawn as a
    sub-batch (rows gathered from the shared state, served, scattered back), so envs move
    through slots at their own pace and every step of every env is a real decision — no
    no-op steps. The hot path has no Python loop over envs; the only loop is over runs of
    consecutive empty slots, which are served and skipped for all affected envs at once.

    Autoreset follows Gymnasium 1.x ``NEXT_STEP`` mode: the step after an env returns
    ``truncated=True`` ignores that env's action, resets it (fresh layout, slot 0) and returns
    its first observation with reward 0 and both flags False. Per-env info entries come with
    the usual ``_key`` masks (False for envs reset in this step).

    Seeding: ``reset(seed=s)`` seeds the shared exogenous stream (initial layouts of all envs
    as ``reset(p, num_envs, s)``) and ``np_random``; autoreset layouts are drawn with seeds from
    ``np_random``. All envs draw their slots from the shared stream, so an env's trajectory
    is deterministic given the seed and all actions, but is not the one ``OffloadEnv(seed=s)``
    produces. ``reset(options={"n_servers": E})`` sets E for all envs (kept by autoresets).

    Args: ``num_envs`` then the keyword arguments of ``OffloadEnv``.
"""
        + _DOC_MDP
    )

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        scenario: Scenario | str = "comllm",
        *,
        reward: RewardKind = "cost",
        max_servers: int | None = None,
        overrides: dict[str, Any] | list[str] | None = None,
        features: int = 1,
    ):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1 (got {num_envs})")
        self.num_envs = int(num_envs)
        self._setup(scenario, reward, max_servers, overrides, features)
        self.single_observation_space = spaces.Box(0.0, OBS_HIGH, (self._spec.dim,), np.float32)
        self.single_action_space = spaces.Discrete(self._spec.n_actions)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = spaces.MultiDiscrete(np.full(self.num_envs, self._spec.n_actions))
        self._autoreset = np.zeros(self.num_envs, bool)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        e = self._start(seed, options, self.num_envs)
        self._autoreset[:] = False
        all_ = np.ones(self.num_envs, bool)
        info = {
            "slot": self._batch.state.t.copy(), "_slot": all_,
            "n_servers": np.full(self.num_envs, e), "_n_servers": all_.copy(),
        }
        return self._features(), info

    def step(self, actions):
        self._require_reset()
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or not self.action_space.contains(actions.astype(np.int64, copy=False)):
            raise ValueError(
                f"actions must be {self.num_envs} integers in [0, {self._spec.n_actions - 1}] (got {actions!r})"
            )
        n, p = self.num_envs, self._p
        resetting = self._autoreset.copy()
        act_rows = np.flatnonzero(~resetting)
        rewards = np.zeros(n)
        j = np.full(n, np.nan)
        j_min = np.full(n, np.nan)
        executed = np.zeros(n, np.int64)
        invalid = np.zeros(n, bool)
        slot = self._batch.state.t.copy()
        task_id = self._batch.state.arrived.copy()
        if act_rows.size:
            obs = self.last_obs.take(act_rows)
            a = actions[act_rows].astype(np.int64)
            bad = ~self._mask[a]
            a = np.where(bad, self._spec.fallback, a)
            sim_a = self._spec.to_sim(a, p.n_servers)
            r, ja, jm = self._spec.rewards(obs, sim_a, p, self.np_random)
            rewards[act_rows], j[act_rows], j_min[act_rows] = r, ja, jm
            executed[act_rows], invalid[act_rows] = a, bad
            self._batch.decide(obs, sim_a)
        if self._credit is not None:
            rewards = self._realized_rewards(n)
            rewards[resetting] = 0.0
        if resetting.any():
            self._batch.reset_rows(np.flatnonzero(resetting), int(self.np_random.integers(_SEED_HIGH)))
        self.last_obs = self._batch.observe()
        truncated = (self._batch.state.t >= p.horizon) & ~resetting
        self._autoreset = truncated.copy()
        m = ~resetting
        info = {
            "J_slots": j, "_J_slots": m,
            "oracle_J_slots": j_min, "_oracle_J_slots": m,
            "action": executed, "_action": m,
            "slot": slot, "_slot": m.copy(),
            "invalid_action": invalid, "_invalid_action": m.copy(),
            "n_servers": np.full(n, p.n_servers), "_n_servers": np.ones(n, bool),
            "task_id": task_id, "_task_id": m.copy(),
        }
        return self._features(), rewards, np.zeros(n, bool), truncated, info

    def action_masks(self) -> np.ndarray:
        """(num_envs, n_actions) bool: True for actions that exist and are allowed."""
        return np.broadcast_to(self._mask, (self.num_envs, self._mask.size)).copy()

    def estimated_costs_slots(self) -> np.ndarray:
        """(num_envs, n_actions) estimated J (eq 11) in slots; +inf for masked actions."""
        return self._estimated_j()

    def _features(self) -> np.ndarray:
        return self._all_features()


__all__ = [
    "OffloadEnv", "OffloadVectorEnv", "OBS_HIGH", "TASK_FEATURES", "SERVER_FEATURES",
    "flat_features", "feature_names", "feature_dim",
]
