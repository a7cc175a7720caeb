"""Train `setnet-dnn` (``policies.setnet_dnn``) by imitation of `dnn-oracle` on the states it visits itself.

DAgger (Ross, Gordon & Bagnell, AISTATS 2011, Algorithm 3.1): round 0 rolls out the queue-aware oracle
(``sim.dnncost.queue_oracle``, what ``dnn-oracle`` decides in each decision round) with a fraction ε of
uniformly random valid candidates, so that the states are diverse; every later round rolls out the
current network (greedy, same ε) and labels the states *it* reaches with the oracle's action. After
every round the network is trained on all labelled states so far (cross-entropy over the valid
candidates, ``epochs`` shuffled passes). The episodes (``learn.realized.Episodes``) run on one stream
across rounds and cycle through ``users`` devices per episode batch (by default the scenario's count
and 40), so the network sees light and heavy load.

``reward="realized"`` (``mecoffload train setnet-dnn --reward realized``) adds a second stage: GRPO with
realized returns (``learn.grpo_realized``, as ``setnet --reward realized``): for the states of its own
episodes the network samples G candidates, each is rewarded with what the env's tasks of the next
``window_slots`` slots then really cost in a branched simulation (realized latency / Δt, τ + ρ/Δt per
drop, the current network greedy after the branch), against the frozen imitation policy as reference.

Deterministic for a seed: the episodes, the ε draws and torch's initialisation and shuffles all derive
from it, torch runs on one thread. ``steps`` (``mecoffload train setnet-dnn --steps``) = DAgger rounds.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from rich.progress import Progress

from ..core.errors import UserError, clip
from ..policies.setnet_dnn import N_FEATURES, build_setnet_dnn, candidate_features, greedy_actions
from ..sim.dnncost import queue_oracle
from ..sim.params import Params
from ..sim.scenario import Scenario
from .checkpoint import require_torch, save_checkpoint
from .curves import Panel, plot_curves
from .grpo_realized import GrpoConfig, grpo_update, realized_batch
from .guards import finite_loss
from .realized import Episodes


@dataclass
class SetNetDnnConfig(GrpoConfig):
    hidden: int = 64
    """width of every hidden layer"""
    envs: int = 16
    """environments simulated in parallel"""
    users: tuple[int, ...] = (0, 40)
    """devices of the episode batches, cycled (0 = the scenario's own count)"""
    rounds: int = 3
    """DAgger rounds (round 0 rolls out the oracle, later ones the network); ``--steps``"""
    samples_per_round: int = 8000
    """decisions labelled per round"""
    epsilon: float = 0.2
    """probability of a uniformly random valid candidate instead of the behaviour policy's"""
    epochs: int = 3
    """passes over all labelled states after each round"""
    batch_size: int = 256
    """states per gradient step"""
    lr: float = 1e-3
    """Adam learning rate"""
    reward: str = "imitation"
    """"imitation" (DAgger only) or "realized" (then GRPO with realized returns)"""
    grpo_iters: int = 30
    """GRPO updates of the realized stage"""
    grpo_slots: int = 2
    """slots of the ``envs`` episodes per GRPO update"""


def _params(scenario: Scenario, users: tuple[int, ...]) -> list[Params]:
    """One Params per device count of ``users`` (0: the scenario's own)."""
    return [Params.from_scenario(scenario.with_overrides({"users.count": u}) if u else scenario) for u in users]


def train(scenario: Scenario, out: Path, steps: int | None = None, seed: int = 0, progress: bool = False,
          config: SetNetDnnConfig | None = None, reward: str | None = None) -> dict:
    """DAgger imitation of ``dnn-oracle`` on ``scenario`` (a DNN-split one), then with ``reward="realized"``
    GRPO with realized returns; writes the checkpoint to ``out``."""
    torch = require_torch()
    cfg = config or SetNetDnnConfig()
    if scenario.dnn is None:
        raise UserError(f"setnet-dnn trains on DNN-split scenarios (dnn-wifi, dnn-lte, dnn-3g), not '{scenario.name}'")
    if reward not in (None, "imitation", "realized"):
        raise UserError(f"--reward for setnet-dnn must be 'imitation' or 'realized' (got {clip(reward, 40)})")
    if reward is not None:
        cfg = replace(cfg, reward=reward)
    if steps is not None:
        cfg.rounds = steps
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # small batches: a second intra-op thread only spins (and order stays fixed)
    plist = _params(scenario, tuple(dict.fromkeys(cfg.users)))
    rng = np.random.Generator(np.random.PCG64([seed, 16]))
    g = torch.Generator().manual_seed(seed)
    net = build_setnet_dnn(cfg.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    eps = Episodes(plist, cfg.envs, seed + 1)
    data: list[tuple[np.ndarray, ...]] = []
    curve: dict[str, list] = {"loss": [], "acc": [], "round_match": [], "grpo_reward": [], "grpo_kl": []}
    t0 = time.perf_counter()
    with Progress(disable=not progress, transient=True) as bar:
        for r in range(cfg.rounds):
            part, match = _collect(torch, eps, None if r == 0 else net, cfg, rng, bar, r)
            data.append(part)
            curve["round_match"].append(match)
            _fit(torch, net, opt, [np.concatenate(x) for x in zip(*data)], cfg, g, bar, curve, r)
        if cfg.reward == "realized":
            _grpo(torch, net, eps, cfg, rng, bar, curve)
    wall = time.perf_counter() - t0
    n = sum(len(d[2]) for d in data)
    p = plist[0]
    meta = {"kind": "setnet-dnn", "hidden": cfg.hidden, "n_features": N_FEATURES, "trained_on": scenario.name,
            "trained_n_servers": p.n_servers, "trained_n_splits": p.dnn.n_splits, "seed": seed, "train": asdict(cfg),
            "wall_s": round(wall, 1), "samples": int(n), "teacher": "dnn-oracle", "reward": cfg.reward}
    save_checkpoint(out, dict(net.state_dict()), meta)
    plot_curves(out / "curve.png", [
        Panel("imitation cross-entropy", [curve["loss"]], "gradient step"),
        Panel("imitation accuracy (oracle match)", [curve["acc"]], "gradient step"),
        *([Panel("GRPO: realized reward of visited candidates (slots)", [curve["grpo_reward"]], "GRPO update")]
          if curve["grpo_reward"] else []),
    ])
    return {"kind": "setnet-dnn", "out": str(out), "wall_s": round(wall, 1), "samples": int(n),
            "final_acc": float(np.mean(curve["acc"][-20:])),
            "oracle_match_per_round": [round(m, 4) for m in curve["round_match"]],
            "grpo_iters": cfg.grpo_iters if cfg.reward == "realized" else 0,
            "grpo_final_reward_slots": float(np.mean(curve["grpo_reward"][-10:] or [0]))}


def _inputs(torch):
    def inputs(obs, p: Params) -> tuple:
        x, mask = candidate_features(obs, p)
        return torch.from_numpy(x), torch.from_numpy(mask)
    return inputs


def _logits(net, x: tuple, p: Params):
    return net(*x)  # invalid candidates already -inf


def _grpo(torch, net, eps: Episodes, cfg: SetNetDnnConfig, rng: np.random.Generator, bar, curve: dict) -> None:
    """Stage 2: ``grpo_iters`` GRPO updates with realized returns on the same episode stream, against the
    frozen imitation policy."""
    ref = build_setnet_dnn(cfg.hidden)
    ref.load_state_dict(net.state_dict())
    ref.eval()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr_grpo)
    inputs = _inputs(torch)
    job = bar.add_task("GRPO + realized", total=cfg.grpo_iters)
    for _ in range(cfg.grpo_iters):
        batch = realized_batch(torch, eps, net, ref, inputs, _logits, cfg, rng)
        grpo_update(torch, net, opt, batch, _logits, eps.p, cfg, cfg.adv_floor_slots, curve)
        bar.update(job, advance=1, description=f"GRPO + realized  reward {curve['grpo_reward'][-1]:.3f}")
    net.eval()


def _collect(torch, eps: Episodes, net, cfg: SetNetDnnConfig, rng: np.random.Generator, bar, r: int):
    """≈ ``samples_per_round`` decisions of the behaviour policy (the oracle when ``net`` is None, else the
    network greedy; ε random valid candidates), labelled with the oracle's action. Returns ((features
    float16, mask, labels), the fraction of states where the behaviour policy already chose the label)."""
    xs, ms, ys, hits = [], [], [], 0
    job = bar.add_task(f"DAgger round {r}: collecting", total=cfg.samples_per_round)
    n = 0
    while n < cfg.samples_per_round:
        obs, p = eps.obs(), eps.p
        x, mask = candidate_features(obs, p)
        label = queue_oracle(obs, p)[0]
        act = label if net is None else greedy_actions(torch, net, obs, p)
        hits += int((act == label).sum())
        explore = rng.random(len(obs)) < cfg.epsilon
        rand = np.argmax(rng.random(mask.shape) * mask, axis=1)  # uniform over the valid candidates
        eps.send(obs, np.where(explore, rand, act))
        xs.append(x.astype(np.float16)), ms.append(mask), ys.append(label)
        n += len(obs)
        bar.advance(job, len(obs))
    return (np.concatenate(xs), np.concatenate(ms), np.concatenate(ys)), hits / max(n, 1)


def _fit(torch, net, opt, data: list[np.ndarray], cfg: SetNetDnnConfig, g, bar, curve: dict, r: int) -> None:
    """``epochs`` shuffled passes of cross-entropy to the oracle labels over all states so far."""
    x, m, y = data
    n = len(y)
    steps = max(1, n // cfg.batch_size)
    job = bar.add_task(f"DAgger round {r}: training", total=cfg.epochs * steps)
    net.train()
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=g).numpy()
        for i in range(steps):
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            logits = net(torch.from_numpy(x[idx].astype(np.float32)), torch.from_numpy(m[idx]))
            target = torch.from_numpy(y[idx])
            loss = torch.nn.functional.cross_entropy(logits, target)
            curve["loss"].append(finite_loss(loss.item(), "imitation loss", len(curve["loss"])))
            opt.zero_grad()
            loss.backward()
            opt.step()
            curve["acc"].append(float((logits.argmax(1) == target).float().mean()))
            bar.advance(job)
    net.eval()
