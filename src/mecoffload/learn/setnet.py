"""Train `setnet` the COMLLM way (seed 001 §IV-C/IV-D) on a tiny permutation-equivariant network.

Stage 1, imitation (eqs 15-16): roll out the one-step oracle (with ε random actions so that the
states are diverse) in a batch of simulated environments, label every visited state with the
oracle action (argmin of estimated J) and minimise the cross-entropy.

Stage 2, GRPO (eqs 17-19) with the LACS-shaped reward (eq 26): roll out the current policy
(sampling) in the simulator; for every visited state draw G = 8 actions from π_old, reward each
with −(J + λ·C_impact)/Δt (K = 3 sampled future tasks, λ = 0.3, eqs 22-25; clipped at
``cost_cap_slots``), normalise the rewards within the group, and maximise the clipped-ratio
objective (ε = 0.2) minus β·KL(π_θ‖π_ref), β = 0.005, where π_ref is the frozen imitation
policy. The KL is exact: the action set is small, so it is summed over all actions.

Train on E = 6 only; the network runs unchanged on any number of servers.

``reward="realized"`` (``mecoffload train setnet --reward realized``): stage 2 rewards each of the G
sampled actions with its *realized* team cost instead: the simulation is branched G ways at the
state, the task decided with each action, and every branch run on with the current greedy policy
under common random numbers (``learn.realized.branch_costs``): the cost is what the env's tasks of
the next ``window_slots`` slots then really cost (realized latency / Δt, τ + ρ/Δt per drop). The
imitation stage then copies the scenario's own oracle (``cost.model``, e.g. the queue-aware one),
and the network reads ``feature_set`` (2 = with the queue view). ``rates`` trains on several
arrival rates (episode batches cycle through them).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from ..core.errors import UserError, clip
from ..policies.oracle import OraclePolicy
from ..policies.setnet import build_setnet, masked_logits, set_features
from ..sim.scenario import Scenario
from ..sim.params import Params
from ..sim.rewards import lacs_slots, reward
from ..sim.rollout import episodes, epsilon_oracle
from .checkpoint import require_torch, save_checkpoint
from .curves import Panel, plot_curves
from .grpo_core import sample_groups
from .grpo_realized import GrpoConfig, grpo_update, realized_batch
from .guards import finite_loss
from .realized import Episodes


@dataclass
class SetNetConfig(GrpoConfig):
    hidden: int = 64
    """width of every hidden layer"""
    envs: int = 32
    """environments simulated in parallel for rollouts"""
    imitation_slots: int = 400
    """slots (of Δt each) rolled out by the behaviour policy to build the imitation set"""
    imitation_epsilon: float = 0.3
    """probability that the behaviour policy takes a uniformly random action instead of the oracle's"""
    imitation_epochs: int = 6
    """passes over the imitation set"""
    batch_size: int = 256
    """states per gradient step in the imitation stage"""
    lr_imitation: float = 1e-3
    """Adam learning rate, imitation stage"""
    grpo_iters: int = 150
    """GRPO updates (the `--steps` of `mecoffload train setnet`)"""
    grpo_slots: int = 4
    """slots rolled out with the current policy per GRPO update"""
    cost_cap_slots: float = 30.0
    """rewards are −min(J + λ·C_impact, cap) in slots: beyond deadline + penalty nothing is learned"""
    reward: str = "lacs"
    """stage-2 reward: "lacs" (estimated, eq 26) or "realized" (branched rollouts, see the module docstring)"""
    feature_set: int = 1
    """network input (``policies.setnet.FEATURES``): 1 = seed 001's view, 2 = with the queue view"""
    rates: tuple[float, ...] = ()
    """arrival rates λ the episodes cycle through (empty: the scenario's)"""
    teacher: str = ""
    """argument of the oracle the imitation stage copies (``policies.oracle``, e.g.
    "uploads=compete,doomed=local"); empty: the scenario's plain oracle (eq 15)"""


def _rollouts(p: Params, envs: int, seed: int):
    """Endless stream of Obs over batched episodes; ``send`` the actions of each."""
    return episodes(p, envs, (seed * 100_003 + e for e in itertools.count()))


def _tensors(torch, obs, p: Params, feature_set: int = 1):
    task, server = set_features(obs, p, feature_set)
    return torch.from_numpy(task), torch.from_numpy(server)


REALIZED = {"reward": "realized", "feature_set": 2, "rates": (0.3, 0.5, 0.6), "imitation_slots": 200, "grpo_iters": 60,
            "teacher": "uploads=compete,doomed=local"}
"""the config changes of ``--reward realized`` (``mecoffload train setnet --reward realized``). The teacher
counts the tasks uploading to a server as competing for it and sends a task that no location serves in
time to its own CPU (``sim.cost.committed_view``, ``doomed_to_local``): on ``comllm`` at λ = 0.6 that
oracle drops 9.2 % of the tasks, the plain queue oracle 13.3 % (20 episodes, seed 0)."""


def train(scenario: Scenario, out: Path, steps: int | None = None, seed: int = 0, progress: bool = False,
          config: SetNetConfig | None = None, reward: str | None = None) -> dict:
    """Imitation then GRPO (LACS or realized reward) on ``scenario``; writes the checkpoint to ``out``.
    ``reward="realized"`` applies ``REALIZED`` to the config; "lacs" keeps it."""
    torch = require_torch()
    cfg = config or SetNetConfig()
    if reward not in (None, "lacs", "realized"):
        raise UserError(f"--reward for setnet must be 'lacs' or 'realized' (got {clip(reward, 40)})")
    if reward == "realized":
        cfg = dataclasses.replace(cfg, **REALIZED)
    if steps is not None:
        cfg.grpo_iters = steps
    if cfg.reward not in ("lacs", "realized"):
        raise ValueError(f"setnet reward must be 'lacs' or 'realized' (got {cfg.reward!r})")
    torch.manual_seed(seed)
    # realized: many small forward passes in the branches, where a second intra-op thread only spins
    torch.set_num_threads(1 if cfg.reward == "realized" else min(2, torch.get_num_threads()))
    p = Params.from_scenario(scenario)
    rng = np.random.Generator(np.random.PCG64([seed, 7]))
    plist = [dataclasses.replace(p, rate=float(r)) for r in cfg.rates] or [p]
    net = build_setnet(cfg.hidden, cfg.feature_set)
    t0 = time.perf_counter()
    curve: dict[str, list] = {"imitation_loss": [], "imitation_acc": [], "grpo_reward": [], "grpo_kl": []}

    with Progress(disable=not progress, transient=True) as bar:
        # stage 1: imitation of the oracle (eqs 15-16) on states of the ε-oracle
        data = _imitation_set(_rollouts(p, cfg.envs, seed), p, cfg, rng, bar)
        if len(plist) > 1:  # the other rates' states too, ≈ as many each
            parts = [data] + [_imitation_set(_rollouts(q, cfg.envs, seed), q, cfg, rng, bar) for q in plist[1:]]
            data = tuple(np.concatenate(x) for x in zip(*parts))
        _imitate(torch, net, data, p, cfg, seed, bar, curve)
        # stage 2: GRPO with the LACS-shaped reward (eqs 17-19, 22-26) against the frozen imitation policy
        ref = build_setnet(cfg.hidden, cfg.feature_set)
        ref.load_state_dict(net.state_dict())
        ref.eval()
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr_grpo)
        label = "GRPO + realized" if cfg.reward == "realized" else "GRPO + LACS"
        if cfg.reward == "realized":
            stream, obs = Episodes(plist, cfg.envs, seed + 1), None
        else:
            stream = _rollouts(p, cfg.envs, seed + 1)
            obs = next(stream)
        job = bar.add_task(label, total=cfg.grpo_iters)
        for _ in range(cfg.grpo_iters):
            if cfg.reward == "realized":
                batch = _realized_batch(torch, stream, net, ref, cfg, rng)
            else:
                batch, obs = _grpo_batch(torch, stream, obs, net, ref, p, cfg, rng)
            _grpo_update(torch, net, opt, batch, p, cfg, curve)
            bar.update(job, advance=1, description=f"{label}  reward {curve['grpo_reward'][-1]:.3f}")

    n = len(data[2])
    wall = time.perf_counter() - t0
    config = {"kind": "setnet", "hidden": cfg.hidden, "feature_set": cfg.feature_set, "reward": cfg.reward,
              "cost_model": p.cost_model, "trained_on": scenario.name, "trained_n_servers": p.n_servers,
              "seed": seed, "train": asdict(cfg), "wall_s": round(wall, 1), "imitation_samples": int(n)}
    save_checkpoint(out, dict(net.state_dict()), config)
    _plot(curve, out / "curve.png")
    return {"kind": "setnet", "out": str(out), "wall_s": round(wall, 1), "imitation_samples": int(n),
            "imitation_final_acc": float(np.mean(curve["imitation_acc"][-20:])),
            "grpo_iters": cfg.grpo_iters, "grpo_final_reward_slots": float(np.mean(curve["grpo_reward"][-10:] or [0]))}


def _imitation_set(stream, p: Params, cfg: SetNetConfig, rng: np.random.Generator, bar) -> tuple[np.ndarray, ...]:
    """(task features, server features, oracle labels) of ≈ ``imitation_slots`` slots of ε-oracle decisions
    (the oracle: the scenario's, or ``cfg.teacher``'s)."""
    task_x, server_x, labels = [], [], []
    obs = next(stream)
    n_target = int(cfg.imitation_slots * cfg.envs * p.n_users * p.rate)  # ≈ tasks in that many slots
    job = bar.add_task("imitation: collecting", total=n_target)
    teacher = OraclePolicy(p, cfg.teacher) if cfg.teacher else None
    while sum(len(y) for y in labels) < n_target:
        if teacher is None:
            act, best = epsilon_oracle(obs, p, rng, cfg.imitation_epsilon)
        else:  # the draws of epsilon_oracle (the coin, then the action), the teacher's labels
            best = teacher.act(obs, rng)
            explore = rng.random(len(obs)) < cfg.imitation_epsilon
            act = np.where(explore, rng.integers(0 if p.allow_local else 1, p.n_servers + 1, len(obs)), best)
        t, s = set_features(obs, p, cfg.feature_set)
        task_x.append(t), server_x.append(s), labels.append(best)
        bar.advance(job, len(obs))
        obs = stream.send(act)
    return np.concatenate(task_x), np.concatenate(server_x), np.concatenate(labels)


def _imitate(torch, net, data: tuple, p: Params, cfg: SetNetConfig, seed: int, bar, curve: dict) -> None:
    """Minimise the cross-entropy to the oracle labels (eq 16), ``imitation_epochs`` shuffled passes."""
    tx, sx, y = (torch.from_numpy(x) for x in data)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr_imitation)
    n = len(y)
    steps_per_epoch = max(1, n // cfg.batch_size)
    job = bar.add_task("imitation: training", total=cfg.imitation_epochs * steps_per_epoch)
    g = torch.Generator().manual_seed(seed)
    for _ in range(cfg.imitation_epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            logits = masked_logits(net(tx[idx], sx[idx]), p.allow_local)
            loss = torch.nn.functional.cross_entropy(logits, y[idx])
            value = finite_loss(loss.item(), "imitation loss", len(curve["imitation_loss"]), "a lower learning rate")
            opt.zero_grad()
            loss.backward()
            opt.step()
            curve["imitation_loss"].append(value)
            curve["imitation_acc"].append(float((logits.argmax(1) == y[idx]).float().mean()))
            bar.advance(job)


def _grpo_batch(torch, stream, obs, net, ref, p: Params, cfg: SetNetConfig, rng: np.random.Generator):
    """States visited by the current policy over ≈ ``grpo_slots`` slots, each with G actions sampled from
    π_old and their LACS rewards; returns ((task, server, actions, rewards, log π_old, log π_ref), next obs)."""
    parts = []
    seen = 0
    while seen < cfg.grpo_slots * cfg.envs * p.n_users * p.rate:
        t, s = _tensors(torch, obs, p)
        with torch.no_grad():
            logp_old = torch.log_softmax(masked_logits(net(t, s), p.allow_local), -1)
            logp_ref = torch.log_softmax(masked_logits(ref(t, s), p.allow_local), -1)
        cost = lacs_slots(obs, p, rng)
        a = sample_groups(logp_old, cfg.group_size, rng)  # G samples from π_old per state (eq 17)
        parts.append((t, s, torch.from_numpy(a), torch.from_numpy(reward(cost, a, cfg.cost_cap_slots)).float(),
                      logp_old, logp_ref))
        seen += len(obs)
        obs = stream.send(a[:, 0])  # the environment follows the policy's first sample
    return tuple(torch.cat(x) for x in zip(*parts)), obs


def _realized_batch(torch, eps: Episodes, net, ref, cfg: SetNetConfig, rng: np.random.Generator) -> tuple:
    """States of the on-policy episodes, every ``branch_every``-th round, with G actions sampled from
    π_old and their realized team costs (``learn.grpo_realized``); the same tuple as ``_grpo_batch``."""
    return realized_batch(torch, eps, net, ref, _inputs(torch, cfg.feature_set), _logits, cfg, rng)


def _inputs(torch, feature_set: int):
    return lambda obs, p: _tensors(torch, obs, p, feature_set)


def _logits(net, x: tuple, p: Params):
    return masked_logits(net(*x), p.allow_local)


def _grpo_update(torch, net, opt, batch: tuple, p: Params, cfg: SetNetConfig, curve: dict) -> None:
    """``grpo_epochs`` passes of the clipped objective with the exact KL (eqs 18-19) over one batch."""
    floor = cfg.adv_floor_slots if cfg.reward == "realized" else 1e-6
    grpo_update(torch, net, opt, batch, _logits, p, cfg, floor, curve)


def _plot(curve: dict, path: Path) -> None:
    plot_curves(path, [
        Panel("imitation cross-entropy", [curve["imitation_loss"]], "gradient step"),
        Panel("imitation accuracy (oracle match)", [curve["imitation_acc"]], "gradient step"),
        Panel("GRPO: LACS reward of visited actions (slots)", [curve["grpo_reward"]], "GRPO update"),
    ])
