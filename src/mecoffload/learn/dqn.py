"""Double + dueling DQN on ``OffloadEnv`` (seed 001's value-based DRL baseline, Table II).

The whole learner reads top to bottom in this file (CleanRL style): config, replay buffer, then
``train``: collect ε-greedy experience, store it, regress Q(s, a) on the double-DQN target
r + γ·Q_target(s', argmax_a' Q(s', a')) with the Huber loss and Adam (``_QLearner``),
Polyak-average the target network, and finally write ``model.safetensors`` + ``config.json`` +
``curve.png``. The Q-network is defined with the policy that runs it (``policies.nets``).

MDP: exactly the one of :class:`mecoffload.sim.env.OffloadEnv` (one decision per step, reward
−J/Δt of the chosen location, eq 14), except that the Q-network does not see the "slot"
feature (t / horizon): the horizon is a simulation artefact (episodes are *truncated*, never
terminated, and we bootstrap through truncation), so the learned policy is stationary, and at
decision time a policy does not get the slot index from ``Obs`` anyway.

Experience is collected with :class:`~mecoffload.sim.env.OffloadVectorEnv` (16 envs by
default) rather than one ``OffloadEnv``: one batched ``decide``/``serve`` call and one batched
forward pass serve 16 decisions, so acting costs about 4-5× less per transition (measured on
the 2-core dev CPU, ε-greedy acting only: ≈3,400 vs ≈730 transitions/s), which leaves the
time budget to gradient steps; 16 concurrent episodes with different layouts also make the
replay buffer more diverse. The vector env's next-step autoreset is handled by not storing
the (ignored) action of an env on the step that resets it.

Result (``mecoffload train dqn --scenario comllm --seed 0``, default config: 150,000
decisions, ≈1.5 min on the 2-core dev CPU; evaluated with ``-n 20 --seed 0``): estimated AL
3.036 slots, TDR 0 %, PR 98.0 % (oracle 3.005 slots; seed 001 Table II's DQN: 3.397 slots,
4.35 %, 87.68 %). It does better than the paper's DQN mostly because the observation already
holds each server's estimated latency C_e (eqs 2-8), so Q only has to learn the deadline
penalty, the local branch and the (discounted) congestion left for later tasks.

``reward="realized"`` (``mecoffload train dqn --reward realized``): the env's reward is the
realized one (``OffloadVectorEnv(reward="realized")``), credited in hindsight: a transition waits
(``learn.realized.Hindsight``) until its own task's outcome is known (``pop_credits``) and enters
the replay buffer with r = −(realized latency/Δt, or τ + ρ/Δt if dropped); the target is then
r + γ·Q(s', ·) as before, s' the env's next decision. ``feature_set=2`` adds the queue view.

The input size is fixed by the topology (5 + M·(7 + H) features, M = max servers, H = history
slots), so a checkpoint only runs on the number of servers it was trained for; the
``setnet`` learner is the topology-agnostic alternative.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from ..core.errors import UserError, clip
from ..policies.dqn import DQNPolicy
from ..policies.nets import qnetwork_class
from ..sim.scenario import Scenario
from ..sim.env import OffloadVectorEnv
from ..sim.rollout import run_closed_loop
from .checkpoint import save_checkpoint
from .curves import Panel, Series, plot_curves
from .guards import finite_loss
from .realized import Hindsight


@dataclass
class DQNConfig:
    steps: int = 150_000
    """training budget in environment transitions (task decisions), summed over all envs and
    rounded up to a multiple of ``num_envs``; the `--steps` of `mecoffload train dqn`"""
    num_envs: int = 16
    """environments of the ``OffloadVectorEnv`` that collects experience (one batched step
    = ``num_envs`` transitions)"""
    gamma: float = 0.5
    """discount per decision (not per slot: about 1.2 decisions are taken per slot on comllm);
    0 would be the myopic one-step oracle's objective, larger values weigh the congestion a
    decision leaves for the following tasks"""
    reward_scale: float = 0.1
    """rewards (−J in slots) are multiplied by this before learning, so Q is in units of
    10 slots = 1 s on comllm and the Huber loss sees O(1) errors"""
    lr: float = 5e-4
    """Adam learning rate"""
    batch_size: int = 128
    """transitions per gradient step"""
    buffer_size: int = 100_000
    """replay buffer capacity in transitions (oldest overwritten first)"""
    learning_starts: int = 5_000
    """transitions collected with ε = 1 behaviour before the first gradient step (capped at
    10 % of ``steps`` so that short runs still learn)"""
    train_every: int = 1
    """batched env steps (each = ``num_envs`` transitions) between gradient steps"""
    target_tau: float = 0.01
    """Polyak coefficient of the target-network update θ' ← τ·θ + (1−τ)·θ' (1.0 = hard copy)"""
    target_every: int = 1
    """gradient steps between target-network updates"""
    eps_start: float = 1.0
    """ε of the ε-greedy behaviour policy at step 0 (probability of a uniformly random allowed action)"""
    eps_end: float = 0.02
    """final ε"""
    eps_fraction: float = 0.25
    """fraction of ``steps`` over which ε decays linearly from ``eps_start`` to ``eps_end``"""
    hidden: tuple[int, ...] = (128, 128)
    """widths of the shared hidden layers (ReLU) of the Q-network"""
    dueling: bool = True
    """dueling head: Q(s, a) = V(s) + A(s, a) − mean_a A(s, a)"""
    double: bool = True
    """double DQN target: the online network picks argmax_a', the target network evaluates it"""
    huber_delta: float = 1.0
    """δ of the Huber (smooth L1) loss, in scaled-reward units (see ``reward_scale``)"""
    grad_clip: float = 10.0
    """maximum global L2 norm of the gradient"""
    max_servers: int | None = None
    """M, action/observation width (default: the scenario's edge.count)"""
    drop_features: tuple[str, ...] = ("slot",)
    """observation features the Q-network does not see (see the module docstring)"""
    threads: int = 1
    """torch intra-op threads during training (results are reproducible for a fixed value)"""
    reward: str = "cost"
    """"cost" (−J/Δt, estimated) or "realized" (the task's realized cost, credited in hindsight)"""
    feature_set: int = 1
    """observation feature set (``sim.features.FEATURE_SETS``): 1 = seed 001's view, 2 = with the queue view"""
    eval_episodes: int = 20
    """episodes of the final greedy evaluation reported in the summary (0 = skip); they are
    drawn from a seed derived from the training seed, not from the evaluation seeds"""


REALIZED = {"reward": "realized", "feature_set": 2}
"""the config changes of ``--reward realized`` (``mecoffload train dqn --reward realized``)"""

# --------------------------------------------------------------------------- network


QNetwork = qnetwork_class()
"""the Q-network (``mecoffload.policies.nets``): MLP torso + dueling head"""


def masked_argmax(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """argmax over the allowed actions (mask: bool, broadcastable to q)."""
    return q.masked_fill(~mask, -math.inf).argmax(dim=1)


# --------------------------------------------------------------------------- replay buffer


class ReplayBuffer:
    """Ring buffer of transitions in preallocated NumPy arrays."""

    def __init__(self, capacity: int, obs_dim: int):
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.action = np.zeros(capacity, np.int64)
        self.reward = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)  # true termination only (never on OffloadEnv)
        self.capacity, self.pos, self.size = capacity, 0, 0

    def add(self, obs, action, reward, next_obs, done) -> None:
        idx = (self.pos + np.arange(len(action))) % self.capacity
        self.obs[idx], self.next_obs[idx] = obs, next_obs
        self.action[idx], self.reward[idx], self.done[idx] = action, reward, done
        self.pos = int((self.pos + len(action)) % self.capacity)
        self.size = min(self.size + len(action), self.capacity)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        i = rng.integers(0, self.size, n)
        return tuple(torch.from_numpy(a[i]) for a in (self.obs, self.action, self.reward, self.next_obs, self.done))


# --------------------------------------------------------------------------- training


def train(
    scenario: Scenario,
    out: Path,
    steps: int | None = None,
    seed: int = 0,
    progress: bool = False,
    config: DQNConfig | None = None,
    reward: str | None = None,
) -> dict:
    """Train on ``scenario``; write ``out/{model.safetensors, config.json, curve.png}``; return a summary.

    ``steps`` (transitions) overrides ``config.steps``. Same seed and config ⇒ same weights.
    """
    cfg = config or DQNConfig()
    if reward not in (None, "cost", "realized"):
        raise UserError(f"--reward for dqn must be 'cost' or 'realized' (got {clip(reward, 40)})")
    if reward == "realized":
        cfg = dataclasses.replace(cfg, **REALIZED)
    if steps is not None:
        cfg = dataclasses.replace(cfg, steps=int(steps))
    out = Path(out)
    t_start = time.perf_counter()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        summary = _train(scenario, out, cfg, seed, progress, t_start)
    finally:
        torch.set_num_threads(threads_before)
    return summary


def _train(scenario: Scenario, out: Path, cfg: DQNConfig, seed: int, progress: bool, t_start: float) -> dict:
    # -- seeding: independent streams for the envs, torch init, exploration, replay sampling and evaluation
    env_seed, torch_seed, explore_seed, sample_seed, eval_seed = (
        int(s.generate_state(1, np.uint64)[0] >> np.uint64(1)) for s in np.random.SeedSequence([seed, 0xD0]).spawn(5)
    )
    torch.manual_seed(torch_seed)
    explore_rng = np.random.default_rng(explore_seed)
    sample_rng = np.random.default_rng(sample_seed)

    # -- environments, the features the network sees, networks and buffer
    if cfg.reward not in ("cost", "realized"):
        raise ValueError(f"dqn reward must be 'cost' or 'realized' (got {cfg.reward!r})")
    envs = OffloadVectorEnv(cfg.num_envs, scenario, reward=cfg.reward, max_servers=cfg.max_servers,
                            features=cfg.feature_set)
    p = envs.params
    names, keep = _inputs(envs, cfg)
    obs = envs.reset(seed=env_seed)[0][:, keep]
    mask_np = envs.action_masks()[0]  # the same for every env and step (E is fixed)
    learner = _QLearner(len(keep), envs.max_servers + 1, torch.from_numpy(mask_np), cfg)
    allowed = np.flatnonzero(mask_np)
    n = cfg.num_envs
    iters = max(1, math.ceil(cfg.steps / n))
    learning_starts = min(cfg.learning_starts, cfg.steps // 10)
    eps_steps = max(1.0, cfg.eps_fraction * cfg.steps)
    log = _Log(n)
    resetting = np.zeros(n, bool)  # envs whose next step is an autoreset (their action is ignored)
    hindsight = Hindsight(n) if cfg.reward == "realized" else None

    bar = _ProgressBar(cfg.steps) if progress else None
    try:
        for it in range(iters):
            step = it * n
            eps = max(cfg.eps_end, cfg.eps_start + (cfg.eps_end - cfg.eps_start) * step / eps_steps)
            actions = learner.act(obs, eps, step < learning_starts, allowed, explore_rng)
            next_obs, reward, terminated, truncated, info = envs.step(actions)
            next_obs = next_obs[:, keep]
            # store real transitions; an env reset in this step ignored its action
            acted = ~resetting
            _store(learner.buf, hindsight, envs, info, cfg, resetting, obs, actions, reward, next_obs, terminated)
            log.transitions(step + n, acted, reward, info["oracle_J_slots"], truncated | terminated)
            resetting = truncated | terminated
            obs = next_obs
            if step + n > learning_starts and it % cfg.train_every == 0:
                log.loss(step + n, learner.update(sample_rng))
            if bar is not None:
                bar.update(step + n, eps, log.recent_reward())
    finally:
        if bar is not None:
            bar.close()
    log.close(iters * n)
    train_wall = time.perf_counter() - t_start

    save_checkpoint(out, learner.qnet.state_dict(), _checkpoint_config(scenario, cfg, seed, envs, names, keep))
    summary = _summary(out, iters * n, log, learner, train_wall)
    if cfg.eval_episodes > 0:  # greedy, on episodes no training env saw: estimated AL / TDR / PR
        m = run_closed_loop(p, DQNPolicy(p, str(out)), cfg.eval_episodes, eval_seed).metrics
        summary.update({f"eval_{k}": round(float(m[k]), 4)
                        for k in ("AL_slots", "TDR_pct", "PR_pct", "realized_mean_s", "realized_drop_pct")})
    _plot_curve(log.episodes, log.losses, out / "curve.png", scenario.name)
    summary["wall_s"] = round(time.perf_counter() - t_start, 2)
    return summary


def _store(buf: "ReplayBuffer", hindsight: Hindsight | None, envs: OffloadVectorEnv, info: dict, cfg: DQNConfig,
           resetting: np.ndarray, obs, actions, reward, next_obs, done) -> None:
    """Store the step's real transitions (an env reset in this step ignored its action): at once with
    the estimated reward, or (realized) when each task's own outcome is credited."""
    acted = ~resetting
    if hindsight is None:
        buf.add(obs[acted], actions[acted], reward[acted] * cfg.reward_scale, next_obs[acted], done[acted])
        return
    hindsight.reset_envs(np.flatnonzero(resetting))
    env = np.flatnonzero(acted)
    hindsight.add(env, info["task_id"][acted], obs[acted], actions[acted], next_obs[acted], done[acted])
    o, a, cost, o2, d = hindsight.credit(*envs.pop_credits())
    if len(cost):
        buf.add(o, a, (-cfg.reward_scale * cost).astype(np.float32), o2, d)


def _inputs(envs: OffloadVectorEnv, cfg: DQNConfig) -> tuple[list[str], np.ndarray]:
    """(all feature names, indices of those the network sees: all but ``drop_features``)."""
    names = envs.feature_names
    unknown = sorted(set(cfg.drop_features) - set(names))
    if unknown:
        raise ValueError(f"drop_features: unknown feature(s) {unknown}")
    return names, np.array([i for i, n in enumerate(names) if n not in cfg.drop_features])


class _QLearner:
    """Online and target Q-networks, their optimiser and the replay buffer: ε-greedy acting and
    one gradient step on the double-DQN target with a Polyak-averaged target network."""

    def __init__(self, in_dim: int, n_actions: int, mask: torch.Tensor, cfg: DQNConfig):
        self.qnet = QNetwork(in_dim, n_actions, tuple(cfg.hidden), cfg.dueling)
        self.target = QNetwork(in_dim, n_actions, tuple(cfg.hidden), cfg.dueling)
        self.target.load_state_dict(self.qnet.state_dict())
        for prm in self.target.parameters():
            prm.requires_grad_(False)
        self.opt = torch.optim.Adam(self.qnet.parameters(), lr=cfg.lr)
        self.buf = ReplayBuffer(min(cfg.buffer_size, cfg.steps), in_dim)
        self.mask, self.cfg, self.grad_steps = mask, cfg, 0

    def act(self, obs: np.ndarray, eps: float, explore_all: bool, allowed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """ε-greedy over the allowed actions (all random while ``explore_all``)."""
        n = len(obs)
        with torch.no_grad():
            greedy = masked_argmax(self.qnet(torch.from_numpy(obs)), self.mask).numpy()
        explore = rng.random(n) < eps
        if explore_all:
            explore[:] = True
        return np.where(explore, allowed[rng.integers(0, allowed.size, n)], greedy)

    def update(self, rng: np.random.Generator) -> float:
        """One gradient step on r + γ·Q_target(s', argmax_a' Q(s', a')); returns the Huber loss."""
        cfg, mask = self.cfg, self.mask
        s, a, r, s2, d = self.buf.sample(cfg.batch_size, rng)
        with torch.no_grad():
            q_next_target = self.target(s2)
            a2 = masked_argmax(self.qnet(s2) if cfg.double else q_next_target, mask)
            y = r + cfg.gamma * (1.0 - d) * q_next_target.gather(1, a2[:, None]).squeeze(1)
        q = self.qnet(s).gather(1, a[:, None]).squeeze(1)
        loss = nn.functional.huber_loss(q, y, delta=cfg.huber_delta)
        value = finite_loss(loss.item(), "DQN Huber TD loss", self.grad_steps, "a lower learning rate")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.qnet.parameters(), cfg.grad_clip)
        self.opt.step()
        self.grad_steps += 1
        if self.grad_steps % cfg.target_every == 0:
            with torch.no_grad():
                for pt, po in zip(self.target.parameters(), self.qnet.parameters()):
                    pt.lerp_(po, cfg.target_tau)
        return value


class _Log:
    """The training curve: per finished episode (step, mean reward, mean oracle reward, decisions)
    and the mean loss of every 50 gradient steps (step, loss)."""

    def __init__(self, n: int):
        self.ep_reward = np.zeros(n)  # sum of rewards (−J, slots) of the running episode
        self.ep_oracle = np.zeros(n)  # sum of −(oracle J) on the same states
        self.ep_len = np.zeros(n, np.int64)
        self.episodes: list[tuple[int, float, float, int]] = []
        self.losses: list[tuple[int, float]] = []
        self.loss_acc, self.loss_n = 0.0, 0

    def transitions(self, step: int, acted: np.ndarray, reward: np.ndarray, oracle_j: np.ndarray, done: np.ndarray) -> None:
        self.ep_reward[acted] += reward[acted]
        self.ep_oracle[acted] -= oracle_j[acted]
        self.ep_len[acted] += 1
        for i in np.flatnonzero(done & acted):
            self.episodes.append((step, self.ep_reward[i] / self.ep_len[i], self.ep_oracle[i] / self.ep_len[i],
                                  int(self.ep_len[i])))
            self.ep_reward[i] = self.ep_oracle[i] = self.ep_len[i] = 0

    def loss(self, step: int, value: float) -> None:
        self.loss_acc += value
        self.loss_n += 1
        if self.loss_n == 50:
            self.close(step)

    def close(self, step: int) -> None:
        if self.loss_n:
            self.losses.append((step, self.loss_acc / self.loss_n))
            self.loss_acc, self.loss_n = 0.0, 0

    def recent_reward(self) -> float:
        recent = [e[1] for e in self.episodes[-20:]]
        return float(np.mean(recent)) if recent else float("nan")


def _checkpoint_config(scenario: Scenario, cfg: DQNConfig, seed: int, envs: OffloadVectorEnv, names: list[str],
                       keep: np.ndarray) -> dict:
    p = envs.params
    return {
        "kind": "dqn",
        "scenario": scenario.name,
        "n_servers": int(p.n_servers),
        "max_servers": int(envs.max_servers),
        "history": int(p.history),
        "n_actions": int(envs.max_servers + 1),
        "obs_dim": len(names),
        "input_dim": int(len(keep)),
        "hidden": list(cfg.hidden),
        "dueling": bool(cfg.dueling),
        "features": [names[i] for i in keep],
        "input_index": keep.tolist(),
        "feature_layout": "mecoffload.sim.env.flat_features(obs, t, p, max_servers, feature_set)[:, input_index]",
        "q_units": f"reward_scale x reward = {cfg.reward_scale} x (-{'realized cost' if cfg.reward == 'realized' else 'J'} / slot)",
        "reward": cfg.reward,
        "feature_set": int(cfg.feature_set),
        "cost_model": p.cost_model,
        "seed": int(seed),
        "train": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "scenario_config": scenario.model_dump(mode="json"),
    }


def _summary(out: Path, steps: int, log: _Log, learner: _QLearner, train_wall: float) -> dict:
    episodes = log.episodes
    summary: dict = {
        "kind": "dqn",
        "out": str(out),
        "steps": int(steps),
        "episodes": len(episodes),
        "gradient_steps": learner.grad_steps,
        "parameters": int(sum(x.numel() for x in learner.qnet.parameters())),
        "train_wall_s": round(train_wall, 2),
    }
    tail = episodes[-max(1, len(episodes) // 10):] if episodes else []
    if tail:
        summary["final_mean_reward_slots"] = round(float(np.mean([e[1] for e in tail])), 4)
        summary["final_train_pr_pct"] = round(100 * float(np.sum([e[2] * e[3] for e in tail]) / np.sum([e[1] * e[3] for e in tail])), 2)
    if log.losses:
        summary["final_loss"] = round(log.losses[-1][1], 6)
    return summary


# --------------------------------------------------------------------------- progress and curve


class _ProgressBar:
    """rich progress bar on stderr: transitions, ε and the mean reward of the last 20 episodes."""

    def __init__(self, total: int):
        self.prog = Progress(
            TextColumn("dqn"), BarColumn(), MofNCompleteColumn(), TextColumn("steps ε={task.fields[eps]:.2f} "
            "reward={task.fields[rew]:.3f} slots"), TimeRemainingColumn(), console=Console(stderr=True), transient=True,
        )
        self.prog.start()
        self.task = self.prog.add_task("dqn", total=total, eps=1.0, rew=float("nan"))

    def update(self, done: int, eps: float, rew: float) -> None:
        self.prog.update(self.task, completed=done, eps=eps, rew=rew)

    def close(self) -> None:
        self.prog.stop()


def _plot_curve(episodes: list, losses: list, path: Path, title: str) -> None:
    """Episode mean reward (raw, smoothed, and the oracle's on the same states) and the TD loss."""
    top, bottom = [], []
    if episodes:
        e = np.array(episodes, dtype=float)
        w = max(1, len(e) // 30)
        mean = lambda y: np.convolve(y, np.ones(w) / w, mode="valid")  # noqa: E731
        top = [Series(e[:, 1], e[:, 0], ".", options={"ms": 2, "alpha": 0.3, "color": "C0"}),
               Series(mean(e[:, 1]), e[w - 1:, 0], "-", f"DQN (ε-greedy), mean of {w} episodes", {"color": "C0"}),
               Series(mean(e[:, 2]), e[w - 1:, 0], "--", "one-step oracle on the same states", {"color": "k"})]
    if losses:
        loss = np.array(losses, dtype=float)
        bottom = [Series(loss[:, 1], loss[:, 0], options={"color": "C1"})]
    plot_curves(path, [Panel(f"DQN training on {title}", top, "", "episode mean reward −J (slots)"),
                       Panel("", bottom, "environment steps (decisions)", "Huber TD loss", log_y=bool(losses))],
                rows=2, panel_size=(7, 3), sharex=True)
