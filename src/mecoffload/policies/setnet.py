"""`setnet`: a permutation-equivariant set policy over edge servers (any number of servers).

Architecture (``SetNet``): every server e gets the same encoder φ applied to
[its features, the task's features]; the encodings are pooled (mean and max over servers) into
a context c; the logit of server e is ψ([φ_e, c]) and the logit of local execution is
χ([task features, c]). Permuting servers permutes the logits, and the same weights run on any E.

Features (all dimensionless; times divided by the deadline τ, so they do not depend on Δt):
per server: estimated latency C_e (eqs 2-7), C_e − min_a C_a, upload time D/R_e, wait + execution
at the server, server delay L_e·γ/F_e, N_e, log(F_e / 10 GHz), load trend over the history
window, and J_e (eq 11, capped); per task: local latency C_0, C_0 − min_a C_a, D / D_max,
local wait, J_0 (capped).

Trained by ``mecoffload train setnet`` (see ``mecoffload.learn.setnet``); evaluated greedily
with ``-p setnet:FOLDER``.
"""

from __future__ import annotations

import numpy as np
from pydantic import field_validator

from ..core.checkpoint import CheckpointConfig, CheckpointError, load_checkpoint, require_torch
from ..core.errors import clip
from ..sim.cost import estimated_costs, generalized_cost
from ..sim.dynamics import Obs
from ..sim.params import Params
from .base import PolicyError, register
from .compressed import int8_folder, load_int8_module

N_SERVER_FEATURES = 9
N_TASK_FEATURES = 5
J_CAP = 4.0  # generalized costs above 4·τ carry no extra information


def set_features(obs: Obs, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Return (task features (n, 5), server features (n, E, 9)) as float32."""
    tau = p.deadline_s
    c = estimated_costs(obs.bits, obs.rate, obs.local_wait_s, obs.f_edge, obs.n_active, obs.backlog_bits, p)
    j = generalized_cost(c, p)
    cmin = c.min(1, keepdims=True) if p.allow_local else c[:, 1:].min(1, keepdims=True)
    upload = obs.bits[:, None] / obs.rate
    srv_delay = obs.backlog_bits * p.gamma / obs.f_edge
    hist = obs.hist
    trend = (hist[..., -1] - hist.mean(-1)) * p.gamma / obs.f_edge if hist.shape[-1] else np.zeros_like(srv_delay)
    server = np.stack(
        [
            np.minimum(c[:, 1:] / tau, J_CAP),
            np.minimum((c[:, 1:] - cmin) / tau, J_CAP),
            np.minimum(upload / tau, J_CAP),
            np.minimum((c[:, 1:] - upload) / tau, J_CAP),
            np.minimum(srv_delay / tau, J_CAP),
            obs.n_active / 5.0,
            np.log(obs.f_edge / 1e10),
            np.clip(trend / tau, -J_CAP, J_CAP),
            np.minimum(j[:, 1:] / tau, J_CAP),
        ],
        axis=-1,
    )
    task = np.stack(
        [
            np.minimum(c[:, 0] / tau, J_CAP),
            np.minimum((c[:, 0] - cmin[:, 0]) / tau, J_CAP),
            obs.bits / p.size_hi_bit,
            np.minimum(obs.local_wait_s / tau, J_CAP),
            np.minimum(j[:, 0] / tau, J_CAP),
        ],
        axis=-1,
    )
    return task.astype(np.float32), server.astype(np.float32)


class SetNetCheckpoint(CheckpointConfig):
    """The field of a setnet ``config.json`` that the policy reads (written by ``mecoffload.learn.setnet``)."""

    hidden: int

    @field_validator("hidden", mode="before")
    @classmethod
    def _hidden(cls, v):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65_536:
            raise ValueError(f"'hidden' must be an integer 1..65536 (got {clip(v, 40)})")
        return v


def setnet_tensor_shapes(c: SetNetCheckpoint) -> dict[str, tuple[int, ...]]:
    """{name: shape} of the state dict of :func:`build_setnet` with width ``c.hidden``."""
    h, fs, ft = c.hidden, N_SERVER_FEATURES, N_TASK_FEATURES
    return {
        "phi_server.weight": (h, fs), "phi_server.bias": (h,), "phi_task.weight": (h, ft),
        "phi_out.weight": (h, h), "phi_out.bias": (h,), "psi_h.weight": (h, h), "psi_h.bias": (h,),
        "psi_ctx.weight": (h, 2 * h), "psi_out.weight": (1, h), "psi_out.bias": (1,),
        "chi.0.weight": (h, ft + 2 * h), "chi.0.bias": (h,), "chi.2.weight": (1, h), "chi.2.bias": (1,),
    }


def build_setnet(hidden: int = 64):
    """Create the torch module (torch imported lazily)."""
    import torch
    from torch import nn

    class SetNet(nn.Module):
        """phi(server, task) per server -> pooled context -> psi per server, chi for local.

        First layers are split by input block (server part per server, task/context part once
        per row): the same function as concatenating the inputs, at a fraction of the cost.
        """

        def __init__(self) -> None:
            super().__init__()
            h = hidden
            self.phi_server = nn.Linear(N_SERVER_FEATURES, h)
            self.phi_task = nn.Linear(N_TASK_FEATURES, h, bias=False)
            self.phi_out = nn.Linear(h, h)
            self.psi_h = nn.Linear(h, h)
            self.psi_ctx = nn.Linear(2 * h, h, bias=False)
            self.psi_out = nn.Linear(h, 1)
            self.chi = nn.Sequential(nn.Linear(N_TASK_FEATURES + 2 * h, h), nn.ReLU(), nn.Linear(h, 1))

        def forward(self, task: "torch.Tensor", server: "torch.Tensor") -> "torch.Tensor":
            """task (n, Ft), server (n, E, Fs) -> logits (n, E+1); index 0 = local."""
            relu = torch.relu
            h = relu(self.phi_out(relu(self.phi_server(server) + self.phi_task(task)[:, None, :])))
            ctx = torch.cat([h.mean(1), h.amax(1)], dim=-1)
            srv = self.psi_out(relu(self.psi_h(h) + self.psi_ctx(ctx)[:, None, :])).squeeze(-1)
            loc = self.chi(torch.cat([task, ctx], dim=-1))
            return torch.cat([loc, srv], dim=-1)

    return SetNet()


def masked_logits(logits, allow_local: bool):
    """Forbid local execution by setting its logit to -inf when the scenario says so."""
    if allow_local:
        return logits
    logits = logits.clone()
    logits[:, 0] = float("-inf")
    return logits


@register("setnet", "permutation-equivariant set policy (any E), imitation + GRPO with LACS: setnet:FOLDER")
class SetNetPolicy:
    name = "setnet"

    def __init__(self, p: Params, arg: str | None = None):
        if not arg:
            raise PolicyError("setnet needs a checkpoint folder: setnet:PATH (train one with `mecoffload train setnet`)")
        torch = require_torch()
        if int8_folder(arg):  # `mecoffload compress --quantize int8`
            self.net, _ = load_int8_module(arg, "setnet", SetNetCheckpoint, lambda c: build_setnet(c["hidden"]))
        else:
            self.net = self._load(arg)
        self.net.eval()
        self.torch, self.p = torch, p

    @staticmethod
    def _load(arg: str):
        tensors, cfg = load_checkpoint(arg, "setnet", SetNetCheckpoint, setnet_tensor_shapes)  # validated
        net = build_setnet(cfg["hidden"])
        try:
            net.load_state_dict(tensors)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise CheckpointError(f"'{arg}/model.safetensors' does not match its config.json ({clip(first, 200)})") from None
        return net

    def reset(self, batch: int) -> None:
        pass

    def logits(self, obs: Obs):
        task, server = set_features(obs, self.p)
        with self.torch.inference_mode():
            out = self.net(self.torch.from_numpy(task), self.torch.from_numpy(server))
        return masked_logits(out, self.p.allow_local)

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        if len(obs) == 0:
            return np.zeros(0, np.int64)
        return self.logits(obs).argmax(1).numpy()
