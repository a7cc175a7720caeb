"""`llm-grpo`: GRPO (seed 001 §IV-D, eqs 17-19) on the exact action distribution, one-step reward −J.

Per update, for a batch of states from the GRPO set:
1. one forward pass gives log π_θ(a|s) over all E+1 actions (``scoring``); π_old is its detached
   value (one optimisation pass per batch, so θ_old = θ at sampling time);
2. G = 8 actions per state are drawn from π_old (eq 17) and rewarded by the simulator's cost
   model: −J(a) (eq 14) here, −(J + λ·C_impact) (eq 26, LACS) for ``comllm``; rewards are in slots
   and capped at ``cost_cap_slots``;
3. advantages are normalised within each group (eq 18); the clipped-ratio objective minus
   β·KL(π_θ‖π_ref) is maximised (eq 19). The KL is exact — summed over the E+1 actions — and
   π_ref is the frozen SFT policy: the SFT adapter is merged into the base weights and the GRPO
   adapter is a fresh LoRA on top, so π_ref is the same model with the adapter disabled
   (encoder mode: plus a frozen copy of the SFT encoder/head).

Without ``init`` (an SFT checkpoint folder) the SFT stage runs first. Rewards come from
:mod:`mecoffload.sim.rewards` (``COSTS["j"]``, ``COSTS["lacs"]``), or, with ``reward="realized"``
(``mecoffload train llm-grpo --reward realized``), from what happens: a realized outcome needs the
simulation to run on, so a fixed state set cannot give it. The states then come from on-policy
episodes (``learn.realized.Episodes``, ``batch`` envs) instead of the GRPO set, and each of the G
sampled actions is rewarded with its realized team cost (``learn.realized.branch_costs``: the
simulation branched G ways under common random numbers, continued with the current model greedy,
the env's tasks of the next ``REALIZED_WINDOW_SLOTS`` slots summed, slots).
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..learn.checkpoint import CheckpointError, load_checkpoint
from ..learn.grpo_core import group_advantages, grpo_loss, sample_groups
from ..learn.guards import finite_loss
from ..learn.realized import Episodes, branch_costs
from ..sim.scenario import Scenario
from ..sim import rewards
from ..sim.params import Params
from . import LLMError, require_llm
from .datasets import collect_states, save_jsonl
from .sft import (LLMConfig, build_policy_model, checkpoint_tensors, evaluate_set, make_progress, plot_curve, sft_stage,
                  split_tensors, write_checkpoint)


GRPO_KNOBS = ("batch", "grpo_steps", "grpo_states", "group_size", "clip_eps", "kl_beta", "lr_grpo",
              "lr_grpo_encoder", "cost_cap_slots")

REALIZED_WINDOW_SLOTS = 3
"""realized reward: slots of the env's tasks whose realized costs are summed (as ``learn.setnet``)"""
REALIZED_ADV_FLOOR_SLOTS = 0.25
"""realized reward: floor of the group std in eq 18 (slots)"""

# --------------------------------------------------------------------------- training


def grpo_stage(tr, obs, p: Params, cfg: LLMConfig, reward: str, seed: int, bar=None, curve: dict | None = None) -> dict:
    import torch

    rng = np.random.Generator(np.random.PCG64([seed, 17]))
    ref_encoder = copy.deepcopy(tr.encoder) if tr.encoder is not None else None
    if ref_encoder is not None:
        for q in ref_encoder.parameters():
            q.requires_grad_(False)
    lora_ps, enc_ps = tr.trainable_params()
    groups = [{"params": lora_ps, "lr": cfg.lr_grpo}]
    if enc_ps:
        groups.append({"params": enc_ps, "lr": cfg.lr_grpo_encoder})
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    realized = reward == "realized"
    cost_fn = None if realized else rewards.COSTS[reward]
    eps = Episodes([p], cfg.batch, seed * 10 + 4) if realized else None
    n = len(obs)
    per_pass = max(1, n // cfg.batch)
    total = cfg.grpo_steps or per_pass
    curve = curve if curve is not None else {}
    curve.setdefault("grpo_reward", [])
    curve.setdefault("grpo_kl", [])
    job = bar.add_task(f"GRPO ({reward})", total=total) if bar else None
    perm = rng.permutation(n)
    t0 = time.perf_counter()
    tr.model.train()
    for step in range(total):
        if step % per_pass == 0 and step:
            perm = rng.permutation(n)
        idx = perm[(step % per_pass) * cfg.batch:(step % per_pass + 1) * cfg.batch]
        sub = eps.obs() if realized else obs.take(idx)
        logp = tr.log_probs(sub, grad=True)
        logp_old = logp.detach()
        logp_ref = tr.ref_log_probs(sub, ref_encoder)
        a = sample_groups(logp_old, cfg.group_size, rng)
        if realized:
            r, expected = _realized_rewards(torch, tr, eps, sub, a, p, rng)
        else:
            r = torch.from_numpy(rewards.reward(cost_fn(sub, p, rng), a, cfg.cost_cap_slots)).float()
            expected = float((logp_old.exp() * torch.from_numpy(-np.minimum(cost_fn(sub, p, rng), cfg.cost_cap_slots)).float()).sum(1).mean())
        adv = group_advantages(r, REALIZED_ADV_FLOOR_SLOTS if realized else 1e-6)
        loss, kl = grpo_loss(logp, logp_old, logp_ref, torch.from_numpy(a), adv, cfg.clip_eps, cfg.kl_beta)
        finite_loss(loss.item(), f"GRPO ({reward}) loss", step, "a lower --lr-grpo")
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve["grpo_reward"].append(expected)
        curve["grpo_kl"].append(kl.item())
        if bar:
            bar.update(job, advance=1, description=f"GRPO ({reward}) reward {np.mean(curve['grpo_reward'][-10:]):.3f} "
                                                   f"KL {kl.item():.4f}")
    tr.model.eval()
    return {"grpo_steps": total, "grpo_wall_s": round(time.perf_counter() - t0, 1),
            "grpo_final_reward_slots": float(np.mean(curve["grpo_reward"][-10:])),
            "grpo_first_reward_slots": float(np.mean(curve["grpo_reward"][:10]))}


def _realized_rewards(torch, tr, eps: Episodes, sub, a: np.ndarray, p: Params, rng: np.random.Generator):
    """(rewards (n, G) = −realized team cost in slots, mean reward of the first samples); moves the
    episodes on with the first sample of every group."""
    def greedy(o):
        with torch.no_grad():
            return tr.log_probs(o, grad=False).argmax(1).numpy()

    cost = branch_costs(eps.state, eps.arr, eps.k, sub, a, p, greedy, REALIZED_WINDOW_SLOTS, int(rng.integers(2**63)))
    eps.send(sub, a[:, 0])
    return torch.from_numpy(-cost).float(), float(-cost[:, 0].mean())


def train_pipeline(kind: str, reward: str, scenario: Scenario, out: Path, steps: int | None, seed: int, progress: bool,
                   backbone: str | None, config: LLMConfig | None = None, init: str | Path | None = None,
                   data: dict | None = None) -> dict:
    """SFT (or ``init``) then GRPO with ``reward``; writes a ``kind`` checkpoint."""
    try:
        torch = require_llm()
    except LLMError as exc:
        raise CheckpointError(str(exc)) from None
    p = Params.from_scenario(scenario)
    data = data or {}
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    curve: dict = {}
    summary: dict = {}
    out = Path(out)
    try:
        with make_progress(progress) as bar:
            if init:
                tensors, icfg = load_checkpoint(init, "llm-sft")
                cfg = LLMConfig.from_dict(icfg["llm"])
                if config is not None:  # structure (mode, layers, prompt) from init; GRPO knobs from config
                    cfg = replace(cfg, **{k: getattr(config, k) for k in GRPO_KNOBS})
                backbone = icfg["backbone"]
                stages, enc = split_tensors(tensors)
            else:
                cfg = config or LLMConfig()
                backbone = backbone or "smollm2-135m"
                sft = build_policy_model(backbone, cfg, p)
                sobs = data.get("sft") or collect_states(p, cfg.sft_states, seed * 10 + 1)
                summary.update(sft_stage(sft, sobs, p, cfg, seed, bar, curve))
                stages, enc = split_tensors(checkpoint_tensors(sft, "sft"))
                del sft
            if steps is not None:
                cfg.grpo_steps = steps
            tr = build_policy_model(backbone, cfg, p, stages, enc)
            gobs = data.get("grpo") or collect_states(p, cfg.grpo_states, seed * 10 + 2)
            save_jsonl(gobs, p, out / "data" / "grpo.jsonl")
            summary.update(grpo_stage(tr, gobs, p, cfg, reward, seed, bar, curve))
    except LLMError as exc:
        raise CheckpointError(str(exc)) from None
    test = data.get("test") or collect_states(p, min(cfg.test_states, 200), seed * 10 + 3)
    metrics, _ = evaluate_set(tr, test, p)
    wall = time.perf_counter() - t0
    write_checkpoint(out, kind, tr, "grpo", scenario, p, seed,
                     {"reward": reward, "init": str(init) if init else None, "wall_s": round(wall, 1), "test": metrics, **summary})
    plot_curve(curve, out / "curve.png")
    return {"kind": kind, "out": str(out), "backbone": backbone, "mode": cfg.mode, "reward": reward,
            "wall_s": round(wall, 1), **summary, "test_metrics": metrics}


def train(scenario: Scenario, out: Path, steps: int | None = None, seed: int = 0, progress: bool = False,
          backbone: str | None = None, config: LLMConfig | None = None, init: str | Path | None = None,
          data: dict | None = None, reward: str | None = None) -> dict:
    """SFT + GRPO with the one-step reward −J (eq 14), or ``reward="realized"`` (realized outcomes,
    see the module docstring); ``steps`` = GRPO updates."""
    if reward not in (None, "j", "cost", "paper", "realized"):
        raise CheckpointError(f"--reward for llm-grpo must be 'paper' or 'realized' (got {str(reward)[:40]!r})")
    return train_pipeline("llm-grpo", "realized" if reward == "realized" else "j", scenario, out, steps, seed, progress, backbone, config, init, data)
