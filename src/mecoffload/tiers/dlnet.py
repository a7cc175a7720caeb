"""Seed 002 §IV: TierSelectionNN + VMCompatibilityNN and Algorithm 1 (policy ``dl-tier``).

* **Rule labeller** (§IV-A): local edge if T_s > 0.7, L < 10 GI and U_0 < 0.6; remote edge if
  0.3 <= T_s <= 0.7, 10 <= L <= 30 GI and BW_1 > 50 Mbps; cloud if T_s < 0.3 or L > 30 GI.
  Seed 002 does not say what an uncovered task gets; here it is the tier with the least
  §III-B estimate T_k = L / (f_k (1 - U_k)) + (D_up + D_down) / BW_k (δ_0 = 0 for the local
  edge, as in seed 002's model).
* **TierSelectionNN**: 10 features -> 64 -> 32 -> 16 (ReLU) -> softmax over {local edge,
  remote edge, cloud}; Adam, lr 1e-3, batch 32, trained on rule labels of 10,000 samples
  (seed 002: "10,000 samples", "3,000 steps": 10 epochs of 313 batches). Samples are drawn
  synthetically: tasks from the scenario's apps, utilisations U_k ~ U[0, 1], bandwidths from
  the scenario's link ranges.
* **VMCompatibilityNN**: seed 002 gives no architecture or target. Here: a per-VM MLP
  (13 features -> 32 -> 16 -> 1, shared over VMs, so any number of VMs) trained listwise
  (softmax cross-entropy over the feasible VMs of one tier) to put first the VM with the least
  estimated service time (upload + processor-sharing processing + download) among those
  meeting C2-C4, on synthetic VM states.
* **Algorithm 1**: tasks sorted by delay sensitivity (ascending, as written in seed 002), tiers
  ranked by the TierSelectionNN, in each tier the feasible VM (C3, C4 and the C2 estimate) with
  the highest compatibility score; no feasible VM in any tier -> overflow queue (deferred).

Training uses torch (imported lazily, one thread); inference is plain NumPy. Trained weights
are cached per (scenario, seed) in the process and can be saved as safetensors + JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field, model_validator

from ..core.checkpoint import CheckpointConfig, CheckpointError, load_checkpoint, require_torch, save_checkpoint
from ..core.errors import PolicyError, clip
from ..learn.guards import finite_loss
from .choice import pick
from .config import TierScenario
from .network import KB_TO_MBIT
from .obs import DEFER, REJECT, TierObs
from .workload import Layout

KIND = "dl-tier"
N_TIER_FEATURES = 10
N_VM_FEATURES = 13
TIER_SIZES = (N_TIER_FEATURES, 64, 32, 16, 3)
"""layer widths of TierSelectionNN (seed 002 §IV: 10 features -> 64 -> 32 -> 16 -> 3 tiers)"""
VM_SIZES = (N_VM_FEATURES, 32, 16, 1)
"""layer widths of VMCompatibilityNN (13 features -> 32 -> 16 -> 1 score; this repository's choice)"""


# --------------------------------------------------------------------------- labeller


def expert_labels(L_gi, sens, U, BW, up_kb, down_kb, f_tier_mips) -> np.ndarray:
    """§IV-A rule labels (0 local edge, 1 remote edge, 2 cloud), vectorised.

    L_gi: task length (GI = 1000 MI); sens: T_s; U: (n,3) utilisation in [0,1] of local edge,
    best remote edge, cloud; BW: (n,3) Mbps; up_kb/down_kb: KB; f_tier_mips: (3,) core speed.
    Rows no rule covers get the tier with the least seed-002 service-time estimate.
    """
    L_gi, sens = np.asarray(L_gi, float), np.asarray(sens, float)
    U, BW = np.asarray(U, float), np.asarray(BW, float)
    local = (sens > 0.7) & (L_gi < 10) & (U[:, 0] < 0.6)
    remote = (sens >= 0.3) & (sens <= 0.7) & (L_gi >= 10) & (L_gi <= 30) & (BW[:, 1] > 50)
    cloud = (sens < 0.3) | (L_gi > 30)
    mbit = (np.asarray(up_kb) + np.asarray(down_kb)) * KB_TO_MBIT
    est = (L_gi[:, None] * 1000.0) / (np.asarray(f_tier_mips)[None, :] * np.maximum(1.0 - U, 1e-3))
    est = est + np.concatenate([np.zeros((len(L_gi), 1)), mbit[:, None] / np.maximum(BW[:, 1:], 1e-6)], 1)
    fallback = est.argmin(1)
    return np.where(local, 0, np.where(remote, 1, np.where(cloud, 2, fallback)))


def tier_speeds(lay: Layout) -> np.ndarray:
    """(3,) core speed (MIPS) of the local edge, remote edge and cloud tiers (fastest VM of each)."""
    edge = lay.vm_mips[~lay.vm_cloud].max() if (~lay.vm_cloud).any() else 1.0
    cloud = lay.vm_mips[lay.vm_cloud].max() if lay.vm_cloud.any() else 1.0
    return np.array([edge, edge, cloud])


# --------------------------------------------------------------------------- features


def _tier_inputs(obs: TierObs):
    """(L_gi, sens, U (n,3), BW (n,3), best remote dc) from an observation."""
    lay = obs.lay
    n, N = len(obs), lay.n_servers
    r = np.arange(n)
    util = obs.dc_util / 100.0
    remote = np.where(np.arange(N)[None, :] == obs.local_dc[:, None], np.inf, util[:, :N])
    best = remote.argmin(1) if N > 1 else obs.local_dc
    u1 = np.where(np.isfinite(remote.min(1)), remote.min(1), 1.0) if N > 1 else np.ones(n)
    has_cloud = bool(lay.dc_cloud.any())
    u2 = util[:, -1] if has_cloud else np.ones(n)
    U = np.stack([util[r, obs.local_dc], u1, u2], 1)
    bw = obs.uplink_mbps
    BW = np.stack([bw[r, obs.local_dc], bw[r, best] if N > 1 else np.zeros(n), bw[:, -1] if has_cloud else np.zeros(n)], 1)
    return obs.length_mi / 1000.0, obs.sens, U, np.minimum(BW, 1e4), best


def tier_features(L_gi, sens, U, BW, up_kb, down_kb) -> np.ndarray:
    """(n, 10) TierSelectionNN input: task (L, D_up, D_down, T_s) and system (U_0..2, BW_0..2)."""
    return np.column_stack([
        np.asarray(L_gi) / 50.0, np.asarray(up_kb) / 2500.0, np.asarray(down_kb) / 2500.0, sens,
        U[:, 0], U[:, 1], U[:, 2], BW[:, 0] / 100.0, BW[:, 1] / 100.0, BW[:, 2] / 100.0,
    ]).astype(np.float32)


def vm_features(L_gi, sens, req, util, jobs, mips, cores, proc, net, deadline, tier) -> np.ndarray:
    """(..., 13) VMCompatibilityNN input of (task, VM) pairs; all arguments broadcast."""
    dl = np.where(np.isfinite(deadline), deadline, 100.0)
    est = np.minimum((proc + net) / np.maximum(dl, 1e-3), 5.0)
    parts = [L_gi / 50.0, sens, req / 100.0, util / 100.0, np.clip((100.0 - util - req) / 100.0, -1, 1),
             np.minimum(jobs / np.maximum(cores, 1) / 4.0, 5.0), mips / 20000.0, cores / 4.0,
             np.minimum(proc / np.maximum(dl, 1e-3), 5.0), np.minimum(net / np.maximum(dl, 1e-3), 5.0), est,
             tier == 1, tier == 2]
    shape = np.broadcast_shapes(*[np.shape(p) for p in parts])
    return np.stack([np.broadcast_to(p, shape).astype(np.float32) for p in parts], -1)


# --------------------------------------------------------------------------- models (NumPy inference)


@dataclass
class DlModels:
    tier: list[tuple[np.ndarray, np.ndarray]]  # (W, b) per layer, W: (in, out)
    vm: list[tuple[np.ndarray, np.ndarray]]
    info: dict

    @staticmethod
    def _mlp(layers, x):
        for i, (w, b) in enumerate(layers):
            x = x @ w + b
            if i < len(layers) - 1:
                x = np.maximum(x, 0.0)
        return x

    def tier_probs(self, x: np.ndarray) -> np.ndarray:
        z = self._mlp(self.tier, x)
        z = np.exp(z - z.max(-1, keepdims=True))
        return z / z.sum(-1, keepdims=True)

    def vm_scores(self, x: np.ndarray) -> np.ndarray:
        return self._mlp(self.vm, x)[..., 0]

    def tensors(self) -> dict:
        import torch

        out = {}
        for net, layers in (("tier", self.tier), ("vm", self.vm)):
            for i, (w, b) in enumerate(layers):
                out[f"{net}.{i}.weight"] = torch.from_numpy(np.ascontiguousarray(w))
                out[f"{net}.{i}.bias"] = torch.from_numpy(np.ascontiguousarray(b))
        return out


class DlTierCheckpoint(CheckpointConfig):
    """The fields of a dl-tier ``config.json`` that the loader reads: the layer counts and (written
    since the sizes were recorded; older checkpoints have the built-in :data:`TIER_SIZES` /
    :data:`VM_SIZES`) the layer widths, input first. Strict integers; every width 1..65536."""

    tier_layers: int = Field(ge=1, le=16, description="Linear layers of TierSelectionNN")
    vm_layers: int = Field(ge=1, le=16, description="Linear layers of VMCompatibilityNN")
    tier_sizes: list[int] = Field(default_factory=lambda: list(TIER_SIZES), min_length=2, max_length=17)
    vm_sizes: list[int] = Field(default_factory=lambda: list(VM_SIZES), min_length=2, max_length=17)

    @model_validator(mode="after")
    def _consistent(self):
        for net, sizes, layers, first, last in (("tier", self.tier_sizes, self.tier_layers, N_TIER_FEATURES, 3),
                                                ("vm", self.vm_sizes, self.vm_layers, N_VM_FEATURES, 1)):
            if len(sizes) != layers + 1:
                raise ValueError(f"{net}_layers = {layers} needs {layers + 1} {net}_sizes, got {len(sizes)}")
            if sizes[0] != first or sizes[-1] != last:
                raise ValueError(f"{net}_sizes must start with {first} inputs and end with {last} output(s), "
                                 f"got {clip(list(sizes), 60)}")
            if not all(1 <= w <= 65_536 for w in sizes):
                raise ValueError(f"every {net}_sizes width must be in 1..65536")
        return self


def dl_tensor_shapes(c: DlTierCheckpoint) -> dict[str, tuple[int, ...]]:
    """{name: shape} of every tensor of a dl-tier checkpoint: ``NET.i.weight`` (in, out), ``NET.i.bias`` (out,)."""
    out: dict[str, tuple[int, ...]] = {}
    for net, sizes in (("tier", c.tier_sizes), ("vm", c.vm_sizes)):
        for i in range(len(sizes) - 1):
            out[f"{net}.{i}.weight"] = (sizes[i], sizes[i + 1])
            out[f"{net}.{i}.bias"] = (sizes[i + 1],)
    return out


def save_dl_checkpoint(models: DlModels, folder: str | Path) -> Path:
    """Write the networks (safetensors) and their sizes + training info (config.json) atomically."""
    sizes = {f"{net}_sizes": [layers[0][0].shape[0]] + [w.shape[1] for w, _ in layers]
             for net, layers in (("tier", models.tier), ("vm", models.vm))}
    cfg = dict(models.info, kind=KIND, tier_layers=len(models.tier), vm_layers=len(models.vm), **sizes)
    return save_checkpoint(Path(folder), models.tensors(), cfg)


def load_dl_checkpoint(folder: str | Path) -> DlModels:
    """The networks of a dl-tier checkpoint, validated before use (config schema, every tensor's
    name, shape and dtype, finite weights): every problem is one CheckpointError line."""
    tensors, cfg = load_checkpoint(folder, KIND, DlTierCheckpoint, dl_tensor_shapes)
    valid = DlTierCheckpoint.model_validate(cfg)  # passed inside load_checkpoint

    def layers(net, sizes):
        return [(tensors[f"{net}.{i}.weight"].numpy(), tensors[f"{net}.{i}.bias"].numpy()) for i in range(len(sizes) - 1)]

    return DlModels(layers("tier", valid.tier_sizes), layers("vm", valid.vm_sizes), cfg)


# --------------------------------------------------------------------------- synthetic data + training


def _sample_tasks(rng, sc: TierScenario, lay: Layout, n: int):
    app = rng.choice(len(lay.app_names), size=n, p=lay.app_usage)
    exp = np.array([a.size_dist == "exponential" for a in sc.apps])[app]
    draw = np.where(exp[None, :], rng.exponential(1.0, (3, n)), 1.0)
    return app, draw[0] * lay.app_len[app], draw[1] * lay.app_up[app], draw[2] * lay.app_down[app]


def tier_dataset(sc: TierScenario, n: int, seed: int):
    """(features (n,10), labels (n,)) from the §IV-A rules on synthetic states."""
    lay = Layout.from_scenario(sc)
    rng = np.random.Generator(np.random.PCG64([seed, 0xD17]))
    app, length, up, down = _sample_tasks(rng, sc, lay, n)
    U = rng.uniform(0.0, 1.0, (n, 3))
    net = sc.network

    def bw(spec, size):
        lo, hi = spec.bandwidth_mbps
        return rng.uniform(lo, hi, size)

    wlan = bw(net.wlan, n)
    BW = np.stack([wlan, np.minimum(bw(net.wlan, n), bw(net.man, n)),
                   np.minimum(bw(net.wlan, n) if net.cloud_via_wlan else np.inf, bw(net.wan, n) / rng.integers(1, 4, n))], 1)
    L_gi, sens = length / 1000.0, lay.app_sens[app]
    y = expert_labels(L_gi, sens, U, BW, up, down, tier_speeds(lay))
    return tier_features(L_gi, sens, U, BW, up, down), y


def vm_dataset(sc: TierScenario, n: int, seed: int):
    """(features (n,K,13), feasible mask (n,K), target index (n,)) for listwise training."""
    lay = Layout.from_scenario(sc)
    rng = np.random.Generator(np.random.PCG64([seed, 0xF17]))
    app, length, up, down = _sample_tasks(rng, sc, lay, n)
    sens = lay.app_sens[app]
    dl = lay.app_deadline_s[app]
    tier = rng.integers(0, 3 if lay.vm_cloud.any() else 2, n)
    K = int(max(np.bincount(lay.vm_dc).max(), 2)) * max(lay.n_servers - 1, 1)
    # candidate VMs: a tier's VM kinds (cloud VMs for tier 2, edge VMs otherwise)
    pool_edge, pool_cloud = np.flatnonzero(~lay.vm_cloud), np.flatnonzero(lay.vm_cloud)
    vm_pick = np.where(tier[:, None] == 2, pool_cloud[rng.integers(0, max(len(pool_cloud), 1), (n, K)) % max(len(pool_cloud), 1)] if len(pool_cloud) else 0,
                    pool_edge[rng.integers(0, len(pool_edge), (n, K))])
    mips, cores = lay.vm_mips[vm_pick], lay.vm_cores[vm_pick]
    util = rng.uniform(0.0, 100.0, (n, K)) * rng.uniform(0.0, 1.0, (n, 1))
    jobs = np.floor(util / 100.0 * cores * rng.uniform(0.5, 4.0, (n, K)))
    req = lay.required_util(app, length, np.where(np.isfinite(dl), dl, 1.0))[np.arange(n)[:, None], vm_pick]
    rate = cores * mips / np.maximum(jobs + 1, cores)
    proc = length[:, None] / rate
    mbit = (up + down) * KB_TO_MBIT
    lo = min(sc.network.wlan.bandwidth_mbps[0], sc.network.man.bandwidth_mbps[0], sc.network.wan.bandwidth_mbps[0])
    hi = max(sc.network.wlan.bandwidth_mbps[1], sc.network.man.bandwidth_mbps[1], sc.network.wan.bandwidth_mbps[1])
    net = mbit[:, None] / rng.uniform(lo, hi, (n, K)) * np.where(tier[:, None] == 0, 1.0, 2.0)
    net = net + np.where(tier[:, None] == 2, 2 * sc.network.wan.propagation_s, 0.0)
    est = proc + net
    feas = (util + req <= sc.admission.cpu_max_pct) & (est <= np.where(np.isfinite(dl), dl, np.inf)[:, None])
    x = vm_features(length[:, None] / 1000.0, sens[:, None], req, util, jobs, mips, cores, proc, net, dl[:, None], tier[:, None])
    target = np.where(feas, est, np.inf).argmin(1)
    keep = feas.any(1)
    return x[keep], feas[keep], target[keep]


def _layers(torch, sizes):
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def _export(net) -> list[tuple[np.ndarray, np.ndarray]]:
    import torch

    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in net if isinstance(m, torch.nn.Linear)]


def train_dl(sc: TierScenario, seed: int = 0, samples: int = 10_000, epochs: int = 10, vm_samples: int = 4000,
             vm_epochs: int = 5) -> DlModels:
    """Train both networks (deterministic for a seed; torch on one thread)."""
    torch = require_torch()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        x, y = tier_dataset(sc, samples, seed)
        n_val = max(len(y) // 10, 1)
        xt, yt = torch.from_numpy(x[n_val:]), torch.from_numpy(y[n_val:]).long()
        tier_net = _layers(torch, list(TIER_SIZES))
        opt = torch.optim.Adam(tier_net.parameters(), lr=1e-3)
        steps = 0
        for _ in range(epochs):
            perm = torch.randperm(len(yt), generator=g)
            for i in range(0, len(yt), 32):
                idx = perm[i:i + 32]
                loss = torch.nn.functional.cross_entropy(tier_net(xt[idx]), yt[idx])
                finite_loss(loss.item(), "TierSelectionNN loss", steps)
                opt.zero_grad()
                loss.backward()
                opt.step()
                steps += 1
        with torch.no_grad():
            acc = float((tier_net(torch.from_numpy(x[:n_val])).argmax(1).numpy() == y[:n_val]).mean())
        vx, vmask, vt = vm_dataset(sc, vm_samples, seed)
        vm_net = _layers(torch, list(VM_SIZES))
        opt = torch.optim.Adam(vm_net.parameters(), lr=1e-3)
        n_vval = max(len(vt) // 10, 1)
        X, M, Tg = torch.from_numpy(vx), torch.from_numpy(vmask), torch.from_numpy(vt).long()
        for _ in range(vm_epochs):
            perm = n_vval + torch.randperm(len(Tg) - n_vval, generator=g)
            for i in range(0, len(perm), 32):
                idx = perm[i:i + 32]
                logits = vm_net(X[idx])[..., 0].masked_fill(~M[idx], -1e9)
                loss = torch.nn.functional.cross_entropy(logits, Tg[idx])
                finite_loss(loss.item(), "VMCompatibilityNN loss", i // 32)
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            logits = vm_net(X[:n_vval])[..., 0].masked_fill(~M[:n_vval], -1e9)
            vm_acc = float((logits.argmax(1) == Tg[:n_vval]).float().mean())
        info = {"seed": seed, "samples": samples, "epochs": epochs, "tier_steps": steps, "tier_val_acc": acc,
                "vm_samples": vm_samples, "vm_epochs": vm_epochs, "vm_val_top1": vm_acc,
                "label_share": np.bincount(y, minlength=3).tolist()}
        return DlModels(_export(tier_net), _export(vm_net), info)
    finally:
        torch.set_num_threads(threads)


_CACHE: dict[str, DlModels] = {}


def get_models(sc: TierScenario, seed: int = 0, **kw) -> DlModels:
    """Trained networks for this scenario's apps, links and VMs (cached in the process).

    The device count and simulation settings do not enter, so one training serves a sweep.
    """
    key_data = sc.model_dump(include={"apps", "edge", "cloud", "network", "admission"})
    key = hashlib.sha1(json.dumps([key_data, seed, kw], sort_keys=True, default=str).encode()).hexdigest()
    if key not in _CACHE:
        _CACHE[key] = train_dl(sc, seed, **kw)
    return _CACHE[key]


# --------------------------------------------------------------------------- Algorithm 1


class DlTier:
    """Algorithm 1 of seed 002 (see module docstring). ``dl-tier:FOLDER`` loads saved networks,
    ``dl-tier:desc`` (or ``dl-tier:desc,FOLDER``) decides the most delay-sensitive tasks first.
    Registered by name as the tier policy ``dl-tier`` (``DlTier(scenario, arg)`` is its factory)."""

    name = KIND
    defers = True

    def __init__(self, sc: TierScenario, arg: str | None = None, models: DlModels | None = None):
        self.sc = sc
        parts = [p.strip() for p in (arg or "").split(",") if p.strip()]
        self.descending = "desc" in parts
        folder = [p for p in parts if p != "desc"]
        if parts.count("desc") > 1 or len(folder) > 1:
            raise PolicyError(f"dl-tier argument '{clip(arg, 60)}': expected FOLDER, desc or desc,FOLDER "
                              "(at most one checkpoint folder and one desc)")
        self.models = models or (load_dl_checkpoint(folder[0]) if folder else get_models(sc))

    def reset(self, batch: int) -> None:
        pass

    def sort_key(self, sens: np.ndarray) -> np.ndarray:
        """Algorithm 1 line 1: by delay sensitivity, ascending as written in seed 002
        (``dl-tier:desc``: most sensitive first)."""
        return -sens if self.descending else sens

    def act(self, obs: TierObs, rng: np.random.Generator) -> np.ndarray:
        lay = obs.lay
        n = len(obs)
        L_gi, sens, U, BW, best = _tier_inputs(obs)
        p = self.models.tier_probs(tier_features(L_gi, sens, U, BW, obs.up_kb, obs.down_kb))  # (n,3)
        if not lay.vm_cloud.any():
            p[:, 2] = -1.0
        if lay.n_servers < 2:
            p[:, 1] = -1.0
        rank = np.argsort(np.argsort(-p, axis=1, kind="stable"), axis=1)  # (n,3) position of each tier
        tier_vm = obs.tier_vm  # (n,V)
        net = (obs.up_est + obs.down_est)[:, lay.vm_dc]
        est = net + obs.proc_est
        ok = obs.vm_feasible & (est <= obs.slack_s[:, None]) & (p[np.arange(n)[:, None], tier_vm] >= 0)
        if n == 0:
            return np.zeros(0, np.int64)
        # the best-ranked tier that has a feasible VM
        pos = np.where(ok, rank[np.arange(n)[:, None], tier_vm], 3).min(1)
        allowed = ok & (rank[np.arange(n)[:, None], tier_vm] == pos[:, None])
        # compatibility scores only where they matter (allowed pairs)
        ri, vi = np.nonzero(allowed)
        score = np.full((n, lay.n_vm), -np.inf)
        if ri.size:
            x = vm_features(L_gi[ri], sens[ri], obs.vm_req[ri, vi], obs.vm_util[ri, vi], obs.vm_jobs[ri, vi],
                            lay.vm_mips[vi], lay.vm_cores[vi], obs.proc_est[ri, vi], net[ri, vi], obs.slack_s[ri],
                            tier_vm[ri, vi])
            score[ri, vi] = self.models.vm_scores(x)
        chosen_tier = np.take_along_axis(np.argsort(-p, axis=1, kind="stable"), np.minimum(pos, 2)[:, None], 1)[:, 0]
        group = chosen_tier * (lay.n_servers + 1) + np.where(chosen_tier == 2, 0, obs.local_dc)
        a = pick(obs, score, allowed, group)
        return np.where((pos < 3) & (a != REJECT), a, DEFER)
