"""GRPO with realized returns, shared by the set learners (``learn.setnet``, ``learn.setnet_dnn``).

One batch: the on-policy episodes (``learn.realized.Episodes``) are advanced decision round by round;
every ``branch_every``-th round, G actions per state are sampled from π_old and each is rewarded with
its realized team cost (``learn.realized.branch_costs``: the simulation branched G ways under common
random numbers, the current network greedy after the branch); the episodes follow the first sample.
One update: ``grpo_epochs`` passes of the clipped objective with the exact KL to the frozen reference
(eqs 18-19, ``learn.grpo_core``). A learner gives its network's inputs and logits as two functions:

    inputs(obs, p) -> tuple of tensors     logits(net, inputs, p) -> (n, A) masked logits

Units: costs and rewards in slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .grpo_core import group_advantages, grpo_loss, sample_groups
from .guards import finite_loss
from .realized import Episodes, branch_costs

@dataclass
class GrpoConfig:
    """The GRPO knobs shared by the set learners (their configs extend this one)."""

    group_size: int = 8
    """G: actions sampled from π_old per state (eq 17)"""
    clip_eps: float = 0.2
    """ε of the clipped ratio (eq 19)"""
    kl_beta: float = 0.005
    """β of the KL penalty to the imitation policy (eq 19)"""
    lr_grpo: float = 3e-4
    """Adam learning rate, GRPO stage"""
    grpo_epochs: int = 2
    """optimisation passes over each GRPO batch (ratios depart from 1 after the first)"""
    window_slots: int = 3
    """realized reward: slots of the env's tasks (from the decided one on) whose realized costs are summed"""
    branch_every: int = 3
    """realized reward: decision rounds of the on-policy episodes per branched round"""
    adv_floor_slots: float = 0.25
    """realized reward: floor of the group std in eq 18 (slots), so sub-floor differences stay small"""


Inputs = Callable[..., tuple]
Logits = Callable[..., object]


def greedy(torch, net, p, inputs: Inputs, logits: Logits):
    """The continuation policy of the branches: the current network, greedy."""
    def act(obs):
        with torch.no_grad():
            return logits(net, inputs(obs, p), p).argmax(1).numpy()
    return act


def realized_batch(torch, eps: Episodes, net, ref, inputs: Inputs, logits: Logits, cfg,
                   rng: np.random.Generator) -> tuple:
    """(*inputs, actions (n, G), rewards = −cost (n, G) slots, log π_old, log π_ref) over the branched
    rounds of ≈ ``cfg.grpo_slots`` slots of ``cfg.envs`` episodes."""
    parts, seen = [], 0
    while seen < cfg.grpo_slots * cfg.envs * eps.p.n_users * eps.p.rate:
        obs, p = eps.obs(), eps.p
        x = inputs(obs, p)
        with torch.no_grad():
            logp_old = torch.log_softmax(logits(net, x, p), -1)
            logp_ref = torch.log_softmax(logits(ref, x, p), -1)
        a = sample_groups(logp_old, cfg.group_size, rng)
        cost = branch_costs(eps.state, eps.arr, eps.k, obs, a, p, greedy(torch, net, p, inputs, logits),
                            cfg.window_slots, int(rng.integers(2**63)))
        parts.append((*x, torch.from_numpy(a), torch.from_numpy(-cost).float(), logp_old, logp_ref))
        seen += len(obs)
        eps.send(obs, a[:, 0])  # the episodes follow the policy's first sample
        for _ in range(cfg.branch_every - 1):  # rounds between branches: sampled, not branched
            obs = eps.obs()
            with torch.no_grad():
                lp = torch.log_softmax(logits(net, inputs(obs, eps.p), eps.p), -1)
            eps.send(obs, sample_groups(lp, 1, rng)[:, 0])
    return tuple(torch.cat(x) for x in zip(*parts))


def grpo_update(torch, net, opt, batch: tuple, logits: Logits, p, cfg, floor: float, curve: dict) -> None:
    """``cfg.grpo_epochs`` passes of the clipped objective with the exact KL (eqs 18-19) over one batch;
    ``floor``: the group-std floor of eq 18 (reward units). Appends to ``curve["grpo_reward"]`` (the mean
    reward of the first samples) and ``curve["grpo_kl"]``."""
    *x, a, r, lp_old, lp_ref = batch
    adv = group_advantages(r, floor)  # eq 18
    for _ in range(cfg.grpo_epochs):
        logp = torch.log_softmax(logits(net, tuple(x), p), -1)
        loss, kl = grpo_loss(logp, lp_old, lp_ref, a, adv, cfg.clip_eps, cfg.kl_beta)  # eq 19
        finite_loss(loss.item(), "GRPO loss", len(curve["grpo_kl"]), "a lower learning rate")
        opt.zero_grad()
        loss.backward()
        opt.step()
    curve["grpo_reward"].append(float(r[:, 0].mean()))
    curve["grpo_kl"].append(kl.item())
