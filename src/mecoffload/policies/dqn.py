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

from ..core.checkpoint import CheckpointError, load_checkpoint, require_torch
from ..core.errors import clip
from ..sim.dynamics import Obs
from ..sim.env import feature_dim, flat_features
from ..sim.params import Params
from .base import PolicyError, allowed_mask, register
from .nets import qnetwork_from_config


@register("dqn", "double+dueling DQN checkpoint, greedy (dqn:FOLDER; fixed number of servers; `mecoffload train dqn`)")
class DQNPolicy:
    name = "dqn"

    def __init__(self, p: Params, arg: str | None = None):
        if not arg:
            raise PolicyError("policy 'dqn' needs a checkpoint folder: use dqn:PATH (train one with `mecoffload train dqn --out PATH`)")
        torch = require_torch()
        tensors, cfg = load_checkpoint(arg, "dqn")
        try:
            e_ckpt, h_ckpt, m = int(cfg["n_servers"]), int(cfg["history"]), int(cfg["max_servers"])
            index = np.asarray(cfg["input_index"], np.int64)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise CheckpointError(f"'{arg}/config.json' is not a valid dqn config ({clip(repr(exc))})") from None
        width = feature_dim(m, h_ckpt) if m >= 1 and h_ckpt >= 0 else 0
        if index.ndim != 1 or (len(index) and not (0 <= index.min() and index.max() < width)):
            raise CheckpointError(f"'{arg}/config.json': input_index must list feature columns 0..{width - 1}")
        if e_ckpt != p.n_servers:
            raise CheckpointError(
                f"dqn checkpoint '{arg}' was trained for {e_ckpt} edge servers but the scenario has "
                f"edge.count={p.n_servers}; its input size is fixed per topology (retrain, or use setnet)"
            )
        if h_ckpt != p.history:
            raise CheckpointError(
                f"dqn checkpoint '{arg}' was trained with sim.history_slots={h_ckpt} but the scenario has {p.history}"
            )
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
