"""GRPO core (seed 001 §IV-D, eqs 17-19) over an exact action distribution, shared by the set
network (``learn.setnet``) and the LLM learners (``llm.grpo``).

The policy gives log π(a|s) over all E+1 actions of every state in one pass, so the group of G
actions per state is sampled from π_old directly (eq 17), advantages are normalised within each
group (eq 18), and the clipped-ratio objective carries an *exact* KL(π_θ‖π_ref), summed over the
action set (eq 19). Forbidden actions have log-probability −inf in both policies and add nothing
to the KL (nor NaN to its gradient). Arguments are torch tensors (n, E+1) of log-probabilities
unless a name says otherwise; no torch import is needed here.
"""

from __future__ import annotations

import numpy as np


def sample_groups(logp_old, group: int, rng: np.random.Generator) -> np.ndarray:
    """G actions per row from π_old (eq 17), (n, G) int64 (one uniform draw per sample from ``rng``)."""
    probs = logp_old.exp().double().numpy()
    probs /= probs.sum(1, keepdims=True)
    u = rng.random((probs.shape[0], group, 1))
    a = (u > np.cumsum(probs, 1)[:, None, :]).sum(-1)
    return np.minimum(a, probs.shape[1] - 1).astype(np.int64)


def group_advantages(r, floor: float = 1e-6):
    """Eq 18: (r − mean) / (std + floor) within each row's group of rewards (n, G); zero when all are
    equal. A larger ``floor`` (reward units) keeps differences far below it from being blown up to ±1."""
    return (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + floor)


def exact_kl(logp, logp_ref):
    """KL(π_θ‖π_ref) summed over the action set, mean over rows (a scalar tensor)."""
    return (logp.exp() * (logp - logp_ref).nan_to_num(0.0, 0.0, 0.0)).sum(-1).mean()


def grpo_loss(logp, logp_old, logp_ref, actions, adv, clip_eps: float, beta: float):
    """−(eq 19): clipped-ratio surrogate over the G samples (``actions`` (n, G) int64 tensor,
    ``adv`` (n, G)) + β·exact KL(π_θ‖π_ref). Returns (loss, kl)."""
    ratio = (logp.gather(1, actions) - logp_old.gather(1, actions)).exp()
    surr = (ratio * adv).minimum(ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv).mean()
    kl = exact_kl(logp, logp_ref)
    return -surr + beta * kl, kl
