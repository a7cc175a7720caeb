"""One-time pruning of a trained model, in place, with masks kept for optional recovery.

Unstructured magnitude pruning sets the ``round(S·n)`` weights of smallest |w| to zero, either in
each prunable weight matrix separately (``scope="layer"``) or over all of them at once
(``scope="global"``); ties are broken by position, so the count is exact. Structured pruning
zeroes whole groups, ranked by their L2 norm: output channels of hidden layers (setnet, DQN),
attention heads (rows of q_proj and columns of o_proj) and MLP channels (rows of gate/up_proj and
columns of down_proj) of each decoder layer (LLM). Shapes are kept (zeros are stored), so every
loader and exporter reads the model unchanged; decoder layers are dropped by ``--layers``
(``llm.model.prune_layers``). Biases, norms, embeddings and the tied ``lm_head`` are never pruned.
"""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = ("layer", "global")
METHODS = ("magnitude", "structured")
EXCLUDE = ("lm_head",)
"""Linear modules never pruned nor quantised (the LM head is tied to the input embedding)"""


def prunable(model) -> dict:
    """{name: nn.Linear} of every Linear module of ``model`` except ``EXCLUDE``."""
    from torch import nn

    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.split(".")[-1] not in EXCLUDE}


def _smallest(scores, k: int):
    """Bool mask (True = keep) with the ``k`` smallest entries of the 1-D ``scores`` False (stable ties)."""
    import torch

    keep = torch.ones(scores.numel(), dtype=torch.bool)
    if k > 0:
        keep[torch.argsort(scores, stable=True)[:k]] = False
    return keep


def magnitude(model, sparsity: float, scope: str = "layer") -> dict:
    """Zero the smallest-|w| share ``sparsity`` of the prunable weights; return {name: keep mask}."""
    import torch

    layers = prunable(model)
    masks = {}
    with torch.no_grad():
        if scope == "global":
            flat = torch.cat([m.weight.detach().abs().flatten() for m in layers.values()])
            keep = _smallest(flat, round(sparsity * flat.numel()))
            start = 0
            for name, m in layers.items():
                n = m.weight.numel()
                masks[name] = keep[start:start + n].view_as(m.weight)
                start += n
        else:
            for name, m in layers.items():
                w = m.weight.detach()
                masks[name] = _smallest(w.abs().flatten(), round(sparsity * w.numel())).view_as(w)
        apply_masks(model, masks)
    return masks


@dataclass(frozen=True)
class Group:
    """Structured unit set: ``rows`` (Linear names whose output rows, and biases, form the units),
    ``cols`` (Linear names whose input columns do), ``size`` (rows/columns per unit: a head's width)."""

    rows: tuple[str, ...]
    cols: tuple[str, ...] = ()
    size: int = 1


def structured(model, groups: list[Group], sparsity: float) -> dict:
    """Zero ``round(S·units)`` units of every group, those of smallest L2 norm; {name: keep mask}."""
    import torch

    mods = dict(model.named_modules())
    masks: dict = {}
    with torch.no_grad():
        for g in groups:
            parts = [mods[r].weight.detach().reshape(-1, g.size * mods[r].weight.shape[1]) for r in g.rows]
            parts += [mods[c].weight.detach().t().reshape(-1, g.size * mods[c].weight.shape[0]) for c in g.cols]
            score = sum((x.double() ** 2).sum(1) for x in parts).sqrt()
            unit_keep = _smallest(score, round(sparsity * score.numel()))
            keep = unit_keep.repeat_interleave(g.size)
            for r in g.rows:
                m = masks.get(r, torch.ones_like(mods[r].weight, dtype=torch.bool))
                masks[r] = m & keep[:, None]
                if mods[r].bias is not None:
                    mods[r].bias.mul_(keep.to(mods[r].bias.dtype))
            for c in g.cols:
                m = masks.get(c, torch.ones_like(mods[c].weight, dtype=torch.bool))
                masks[c] = m & keep[None, :]
        apply_masks(model, masks)
    return masks


def llm_groups(model) -> list[Group]:
    """Attention heads and MLP channels of every decoder layer of a (Llama-style) causal LM."""
    groups = []
    for name, mod in model.named_modules():
        if hasattr(mod, "self_attn") and hasattr(mod, "mlp"):
            a = mod.self_attn
            head = int(getattr(a, "head_dim", a.q_proj.out_features // model.config.num_attention_heads))
            groups.append(Group((f"{name}.self_attn.q_proj",), (f"{name}.self_attn.o_proj",), head))
            groups.append(Group((f"{name}.mlp.gate_proj", f"{name}.mlp.up_proj"), (f"{name}.mlp.down_proj",)))
    return groups


def apply_masks(model, masks: dict) -> None:
    """w ← w·mask for every masked Linear (after an optimiser step, to keep the pruned weights zero)."""
    import torch

    mods = dict(model.named_modules())
    with torch.no_grad():
        for name, keep in masks.items():
            mods[name].weight.mul_(keep.to(mods[name].weight.dtype))


def sparsity_of(model) -> float:
    """Share of exactly-zero weights over every prunable Linear weight (0..1)."""
    layers = prunable(model)
    total = sum(m.weight.numel() for m in layers.values())
    zeros = sum(int((m.weight == 0).sum()) for m in layers.values())
    return zeros / total if total else 0.0
