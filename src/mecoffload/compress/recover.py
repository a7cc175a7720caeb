"""``--recover STEPS``: short fine-tuning of a pruned model on oracle labels, masks kept.

Cross-entropy of the subject's action scores on the one-step oracle's action (seed 001 eq 15)
over states visited by the ε-oracle in the simulator (``llm.datasets.collect_states``), AdamW,
batch 64 (LLM: 8); after every step the pruned weights are set back to zero, so the sparsity
is unchanged. EdgeNetLLM reports its results with no retraining; this is the optional extra.
"""

from __future__ import annotations

import numpy as np

from ..llm.datasets import collect_states
from ..sim.cost import oracle_actions
from .models import Subject, logits
from .prune import apply_masks

LR = {"setnet": 1e-3, "dqn": 1e-3, "llm": 1e-4}
BATCH = {"setnet": 64, "dqn": 64, "llm": 8}


def recover(s: Subject, masks: dict, steps: int, seed: int = 0, progress=None) -> list[float]:
    """Run ``steps`` AdamW steps; return the loss of every step (nats)."""
    import torch

    if steps <= 0:
        return []
    p = s.policy.p
    batch = BATCH[s.family]
    obs = collect_states(p, min(steps * batch, 20_000), seed + 7)
    labels = torch.from_numpy(oracle_actions(obs, p))
    params = [q for q in s.module.parameters() if q.is_floating_point()]
    for q in params:
        q.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=LR[s.family], weight_decay=0.0)
    rng = np.random.default_rng(seed)
    losses = []
    s.module.train(False)
    try:
        for _ in range(steps):
            idx = rng.choice(len(obs), size=min(batch, len(obs)), replace=False)
            out = logits(s, obs.take(idx), grad=True)
            loss = torch.nn.functional.cross_entropy(out, labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            apply_masks(s.module, masks)
            losses.append(float(loss.detach()))
            if progress is not None:
                progress()
    finally:
        for q in params:
            q.requires_grad_(False)
        refresh(s)
    return losses


def refresh(s: Subject) -> None:
    """Drop cached results of the old weights (the LLM's prefix keys/values)."""
    prefix = getattr(getattr(s.policy, "scorer", None), "prefix", None)
    if prefix is not None:
        prefix.invalidate()
