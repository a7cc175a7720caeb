"""Neural networks of the learned MEC policies, built on first use: torch is an optional extra, and
``import mecoffload.policies`` (which lists every policy) must not need it.

``qnetwork_class()`` is the double/dueling DQN's Q-network (``nn.Module`` subclass; torch is
imported at the first call, and every call returns the same class). The policy builds it from a
checkpoint's config (``qnetwork_from_config``), the learner (``mecoffload.learn.dqn``) trains it.
State-dict keys: ``torso.{0,2,..}.{weight,bias}``, ``adv.*``, ``value.*`` (dueling only).
"""

from __future__ import annotations

from functools import cache


@cache
def qnetwork_class() -> type:
    """The ``QNetwork`` class: MLP torso + (dueling) head, (batch, in_dim) features → (batch, n_actions) Q-values."""
    import torch
    from torch import nn

    class QNetwork(nn.Module):
        """MLP torso + (dueling) head: (batch, in_dim) features → (batch, n_actions) Q-values."""

        def __init__(self, in_dim: int, n_actions: int, hidden: tuple[int, ...], dueling: bool):
            super().__init__()
            layers, d = [], in_dim
            for h in hidden:
                layers += [nn.Linear(d, h), nn.ReLU()]
                d = h
            self.torso = nn.Sequential(*layers)
            self.dueling = dueling
            self.adv = nn.Linear(d, n_actions)
            self.value = nn.Linear(d, 1) if dueling else None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.torso(x)
            a = self.adv(z)
            if not self.dueling:
                return a
            return self.value(z) + a - a.mean(dim=1, keepdim=True)

        @classmethod
        def from_config(cls, cfg: dict) -> "QNetwork":
            """Rebuild the architecture described by a checkpoint's ``config.json``."""
            return cls(int(cfg["input_dim"]), int(cfg["n_actions"]), tuple(cfg["hidden"]), bool(cfg["dueling"]))

    QNetwork.__module__, QNetwork.__qualname__ = __name__, "QNetwork"
    return QNetwork


def qnetwork_from_config(cfg: dict):
    """A fresh ``QNetwork`` with the architecture of a dqn checkpoint's ``config.json`` (input_dim, n_actions,
    hidden, dueling)."""
    return qnetwork_class().from_config(cfg)
