"""`setnet-dnn`: a permutation-equivariant set policy over the candidate actions of a DNN-split task.

A DNN task (``dnn.tasks``) has A = ``DnnTables.n_actions`` candidate actions ``a = (v * K + k) * E + e``
(model variant v, split k, server e; ``k * E + e`` with the default single fp32 variant). Each candidate
is one element of a set: :func:`candidate_features` gives a per-candidate feature array (n, A, F) and a
mask (n, A) of the candidates the task may take (its network has split k and variant v is within its
minimum accuracy; all-local ``k = n`` only once per variant, with e = 0, as ``dnn-oracle`` writes it). ``SetNetDnn`` applies the same
encoder φ to every candidate, pools the encodings of the valid ones (mean and max) into a context c,
scores each candidate with ψ([φ_a, c]) and the policy takes the masked argmax. Permuting the candidates
permutes the logits, and the same weights run on any number of splits or servers (or a longer action
axis, e.g. model variants: only :func:`candidate_features` and :func:`candidate_mask` enumerate actions).

Features of candidate (k, e), all dimensionless, times divided by the deadline τ and capped at
``J_CAP``: the queue-aware latency (``sim.dnncost.queue_latency``) and its excess over the task's best
candidate, the latency alone at this slot's rate (Neurosurgeon's view) and its excess, the device
energy / (P_compute·τ), the device time, the upload time at the mean rate, the server time, the
competitors at e (in service + heading there) / 5 and their remaining cycles / F_e, the device's local
and uplink waits (where the candidate uses them), k / n, all-local, full offload, whether the queue-aware
estimate misses τ, and log(F_e / 10 GHz). Server terms are 0 for all-local, masked candidates all 0.

Trained by ``mecoffload train setnet-dnn`` (``mecoffload.learn.setnet_dnn``); evaluated greedily with
``-p setnet-dnn:FOLDER``. Units: s, J, Hz, cycles.
"""

from __future__ import annotations

import numpy as np
from pydantic import field_validator

from ..core.checkpoint import CheckpointError, load_checkpoint, require_torch
from ..core.errors import clip
from ..sim.dnncost import alone_latency, queue_latency
from ..sim.dynamics import Obs
from ..sim.params import Params
from .base import PolicyError, register
from .setnet import J_CAP, SetNetCheckpoint

N_FEATURES = 17
"""features per candidate action (module docstring, in that order)"""


def candidate_mask(obs: Obs, p: Params) -> np.ndarray:
    """(n, A) bool: the candidate actions ``(v * K + k) * E + e`` a row's task may take (variant v allowed,
    k <= n_i; all-local once per variant, e = 0)."""
    t = p.dnn
    J, K, E = t.n_columns, t.n_splits, t.n_servers
    net = np.asarray(obs.net, np.int64)
    nl = t.n_layers[net][:, None, None]
    k, e = (np.arange(J) % K)[None, :, None], np.arange(E)[None, None, :]
    ok = t.valid[net][:, :, None]
    return (ok & ((k < nl) | ((k == nl) & (e == 0)))).reshape(len(obs), J * E)


def candidate_features(obs: Obs, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, A, N_FEATURES) float32, mask (n, A) bool) of every row's candidate actions."""
    t, tau, n = p.dnn, p.deadline_s, len(obs)
    J, K, E = t.n_columns, t.n_splits, t.n_servers
    net = np.asarray(obs.net, np.int64)
    mask = candidate_mask(obs, p)
    m3 = mask.reshape(n, J, E)
    nl = t.n_layers[net][:, None, None]
    k = (np.arange(J) % K)[None, :, None]  # split of column j = v * K + k
    edge = (k < nl).astype(np.float64)  # the candidate has an edge part (uses server e)
    ql, al = queue_latency(obs, p), alone_latency(obs, p)
    best = lambda x: np.where(m3, x, np.inf).reshape(n, -1).min(1)[:, None, None]  # noqa: E731
    n_c = obs.n_in_service + obs.n_pending
    cyc = obs.backlog_cycles + obs.pending_cycles
    full = np.broadcast_to
    shape = (n, J, E)
    cols = [
        ql / tau, (ql - best(ql)) / tau, al / tau, (al - best(al)) / tau,
        full((t.energy_j[net] / (t.p_compute_w * tau))[:, :, None], shape),
        full((t.dev_s[net] / tau)[:, :, None], shape),
        t.up_bits[net][:, :, None] / obs.mean_rate[:, None, :] / tau,
        np.where(edge > 0, t.srv_s[net], 0.0) / tau,
        edge * (n_c / 5.0)[:, None, :],
        edge * (cyc / obs.f_edge / tau)[:, None, :],
        full((k > 0) * (obs.local_wait_s / tau)[:, None, None], shape),
        edge * (obs.uplink_wait_s / tau)[:, None, None],
        full(k / nl, shape),
        full((k == nl).astype(np.float64), shape),
        full((k == 0).astype(np.float64), shape),
        (ql > tau).astype(np.float64),
        edge * np.log(obs.f_edge / 1e10)[:, None, :],
    ]
    x = np.stack([full(c, shape) for c in cols], -1)
    x = np.where(m3[..., None], np.clip(np.nan_to_num(x, nan=0.0, posinf=J_CAP, neginf=-J_CAP), -J_CAP, J_CAP), 0.0)
    return x.reshape(n, J * E, N_FEATURES).astype(np.float32), mask


class SetNetDnnCheckpoint(SetNetCheckpoint):
    """The fields of a setnet-dnn ``config.json`` that the policy reads (written by ``mecoffload.learn.setnet_dnn``):
    ``hidden`` checked as setnet's (its ``feature_set`` is not read), ``n_features``."""

    n_features: int

    @field_validator("n_features", mode="before")
    @classmethod
    def _n_features(cls, v):
        if isinstance(v, bool) or v != N_FEATURES:
            raise ValueError(f"'n_features' must be {N_FEATURES}, the features this version builds (got {clip(v, 40)})")
        return v


def setnet_dnn_shapes(c: SetNetDnnCheckpoint) -> dict[str, tuple[int, ...]]:
    """{name: shape} of the state dict of :func:`build_setnet_dnn` with width ``c.hidden``."""
    h, f = c.hidden, c.n_features
    return {"phi_in.weight": (h, f), "phi_in.bias": (h,), "phi_out.weight": (h, h), "phi_out.bias": (h,),
            "psi_h.weight": (h, h), "psi_h.bias": (h,), "psi_ctx.weight": (h, 2 * h),
            "psi_out.weight": (1, h), "psi_out.bias": (1,)}


def build_setnet_dnn(hidden: int = 64):
    """The torch module (torch imported lazily): candidates (n, A, F) + mask (n, A) -> masked logits (n, A)."""
    import torch
    from torch import nn

    class SetNetDnn(nn.Module):
        """φ per candidate -> masked mean/max context -> ψ per candidate; invalid candidates get -inf."""

        def __init__(self) -> None:
            super().__init__()
            h = hidden
            self.phi_in = nn.Linear(N_FEATURES, h)
            self.phi_out = nn.Linear(h, h)
            self.psi_h = nn.Linear(h, h)
            self.psi_ctx = nn.Linear(2 * h, h, bias=False)
            self.psi_out = nn.Linear(h, 1)

        def forward(self, x: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
            relu = torch.relu
            m = mask.unsqueeze(-1).to(x.dtype)
            h = relu(self.phi_out(relu(self.phi_in(x)))) * m  # >= 0, so the masked max is the plain max
            ctx = torch.cat([h.sum(1) / m.sum(1).clamp(min=1.0), h.amax(1)], dim=-1)
            out = self.psi_out(relu(self.psi_h(h) + self.psi_ctx(ctx)[:, None, :])).squeeze(-1)
            return out.masked_fill(~mask, float("-inf"))

    return SetNetDnn()


def load_setnet_dnn(folder: str):
    """(module in eval mode, config) of a setnet-dnn checkpoint folder, validated (one CheckpointError line)."""
    tensors, cfg = load_checkpoint(folder, "setnet-dnn", SetNetDnnCheckpoint, setnet_dnn_shapes)
    net = build_setnet_dnn(cfg["hidden"])
    try:
        net.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"'{folder}/model.safetensors' does not match its config.json ({clip(first, 200)})") from None
    return net.eval(), cfg


def greedy_actions(torch, net, obs: Obs, p: Params) -> np.ndarray:
    """(n,) masked argmax of ``net`` over each row's candidate actions."""
    if len(obs) == 0:
        return np.zeros(0, np.int64)
    x, mask = candidate_features(obs, p)
    with torch.inference_mode():
        return net(torch.from_numpy(x), torch.from_numpy(mask)).argmax(1).numpy().astype(np.int64)


@register("setnet-dnn", "DNN tasks: permutation-equivariant set policy over the (split, server) candidates, "
                        "imitation of dnn-oracle on its own states: setnet-dnn:FOLDER")
class SetNetDnnPolicy:
    name = "setnet-dnn"
    dnn = True  # decides DNN actions (sim.dnnrun checks it)

    def __init__(self, p: Params, arg: str | None = None):
        if p.dnn is None:
            raise PolicyError("policy 'setnet-dnn' cannot run on this scenario: it decides DNN-split tasks, which need a "
                              "[dnn] section (dnn-wifi, dnn-lte, dnn-3g)")
        if not arg:
            raise PolicyError("setnet-dnn needs a checkpoint folder: setnet-dnn:PATH (train one with "
                              "`mecoffload train setnet-dnn -s dnn-wifi -o PATH`)")
        self.torch = require_torch()
        self.net, self.config = load_setnet_dnn(arg)
        self.p = p

    @staticmethod
    def runs_on(p: Params) -> bool:
        return p.dnn is not None

    def reset(self, batch: int) -> None:
        pass

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        return greedy_actions(self.torch, self.net, obs, self.p)
