"""`dqn`: greedy policy of a double + dueling DQN checkpoint (``-p dqn:FOLDER``).

The Q-network reads the flat observation of ``OffloadEnv`` (``sim.env.flat_features``, the
same function the env uses, restricted to the checkpoint's ``input_index``: the slot-index
feature is not an input). Its input size is fixed by the topology, 5 + M·(7 + H) features for
M servers and H history slots, so a checkpoint only runs on scenarios with the number of edge
servers (and history length) it was trained on; anything else is refused with a one-line
error. Train one with ``mecoffload train dqn --scenario NAME --out FOLDER``
(``mecoffload.learn.dqn``). torch is imported when the policy is built, not at import time.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..core.checkpoint import CheckpointConfig, CheckpointError, load_checkpoint, require_torch
from ..core.errors import clip
from ..sim.dynamics import Obs
from ..sim.env import feature_dim, flat_features
from ..sim.params import Params
from .base import PolicyError, allowed_mask, register
from .compressed import int8_folder, load_int8_module
from .nets import qnetwork_from_config


@register("dqn", "double+dueling DQN checkpoint, greedy (dqn:FOLDER; fixed number of servers; `mecoffload train dqn`)")
class DQNPolicy:
    name = "dqn"

    def __init__(self, p: Params, arg: str | None = None):
        if not arg:
            raise PolicyError("policy 'dqn' needs a checkpoint folder: use dqn:PATH (train one with `mecoffload train dqn --out PATH`)")
        torch = require_torch()
        net = None
        if int8_folder(arg):  # `mecoffload compress --quantize int8`
            net, cfg = load_int8_module(arg, "dqn", DQNCheckpoint, qnetwork_from_config)
        else:
            tensors, cfg = load_checkpoint(arg, "dqn", DQNCheckpoint, dqn_tensor_shapes)  # validated: types, shapes, finite
        e_ckpt, h_ckpt, m = cfg["n_servers"], cfg["history"], cfg["max_servers"]
        index = np.asarray(cfg["input_index"], np.int64)
        if e_ckpt != p.n_servers:
            raise CheckpointError(
                f"dqn checkpoint '{arg}' was trained for {e_ckpt} edge servers but the scenario has "
                f"edge.count={p.n_servers}; its input size is fixed per topology (retrain, or use setnet)"
            )
        if h_ckpt != p.history:
            raise CheckpointError(
                f"dqn checkpoint '{arg}' was trained with sim.history_slots={h_ckpt} but the scenario has {p.history}"
            )
        if net is None:
            net = qnetwork_from_config(cfg)
            try:
                net.load_state_dict(tensors, strict=True)
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[0]
                raise CheckpointError(f"'{arg}/model.safetensors' does not match its config.json ({first})") from None
        net.eval()
        self.torch, self.net, self.p, self.max_servers, self.index = torch, net, p, m, index
        self.folder = arg

    def reset(self, batch: int) -> None:
        pass

    def features(self, obs: Obs) -> np.ndarray:
        """(n, input_dim) float32 network input: the env's observation at the checkpoint's columns."""
        # the slot index is not an input of the network (not in ``index``): pass zeros
        return np.ascontiguousarray(flat_features(obs, np.zeros(len(obs)), self.p, self.max_servers)[:, self.index])

    def q_values(self, obs: Obs) -> np.ndarray:
        """(n, max_servers+1) Q-values (scaled reward units, higher is better)."""
        with self.torch.inference_mode():
            return self.net(self.torch.from_numpy(self.features(obs))).numpy().astype(np.float64)

    def act(self, obs: Obs, rng: np.random.Generator) -> np.ndarray:
        q = self.q_values(obs)[:, : obs.n_servers + 1]
        q[~allowed_mask(obs, self.p)] = -np.inf
        return np.argmax(q, axis=1)


class DQNCheckpoint(CheckpointConfig):
    """The fields of a dqn ``config.json`` that the policy reads (written by ``mecoffload.learn.dqn``)."""

    n_servers: int = Field(ge=1, le=64, description="edge servers of the training scenario")
    max_servers: int = Field(ge=1, le=1024, description="server slots of the observation")
    history: int = Field(ge=0, le=64, description="sim.history_slots of the training scenario")
    input_index: list[int] = Field(min_length=1, max_length=100_000, description="feature columns the network reads")
    input_dim: int = Field(ge=1, le=100_000, description="network inputs = len(input_index)")
    n_actions: int = Field(ge=2, le=1025, description="network outputs = max_servers + 1")
    hidden: list[int] = Field(max_length=16, description="widths of the hidden layers, each 1..65536")
    dueling: bool

    @field_validator("input_index")
    @classmethod
    def _columns(cls, v: list[int], info: ValidationInfo) -> list[int]:
        if "max_servers" in info.data and "history" in info.data:
            width = feature_dim(info.data["max_servers"], info.data["history"])
            if not (0 <= min(v) and max(v) < width):
                raise ValueError(f"input_index must list feature columns 0..{width - 1} (got {clip(min(v), 20)}..{clip(max(v), 20)})")
        return v

    @model_validator(mode="after")
    def _check(self) -> "DQNCheckpoint":
        rules = [
            (self.n_servers <= self.max_servers, f"n_servers ({self.n_servers}) must be <= max_servers ({self.max_servers})"),
            (self.n_actions == self.max_servers + 1, f"n_actions ({self.n_actions}) must be max_servers + 1 = {self.max_servers + 1}"),
            (self.input_dim == len(self.input_index), f"input_dim ({self.input_dim}) must be len(input_index) = {len(self.input_index)}"),
            (all(1 <= h <= 65_536 for h in self.hidden), f"hidden widths must be 1..65536 (got {clip(self.hidden, 60)})"),
        ]
        for ok, msg in rules:
            if not ok:
                raise ValueError(msg)
        return self


def dqn_tensor_shapes(c: DQNCheckpoint) -> dict[str, tuple[int, ...]]:
    """{name: shape} of the Q-network's state dict: ``torso.{0,2,..}``, ``adv``, ``value`` (dueling)."""
    out: dict[str, tuple[int, ...]] = {}
    d = c.input_dim
    for i, h in enumerate(c.hidden):
        out[f"torso.{2 * i}.weight"], out[f"torso.{2 * i}.bias"] = (h, d), (h,)
        d = h
    out["adv.weight"], out["adv.bias"] = (c.n_actions, d), (c.n_actions,)
    if c.dueling:
        out["value.weight"], out["value.bias"] = (1, d), (1,)
    return out
