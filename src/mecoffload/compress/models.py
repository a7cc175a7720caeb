"""Source policies as torch modules, and compressed checkpoints back into policies.

A *subject* is a trained policy loaded for compression: its torch module (what is pruned,
quantised and saved), the policy that runs through that module, and the structured groups of
its hidden units. Families: ``setnet`` and ``dqn`` (the network), ``llm`` (``llm-sft``,
``llm-grpo``, ``comllm`` checkpoints: the backbone with its LoRA stages merged, plus the numeric
encoder and action head in encoder mode, as one ``ModuleDict(model=..., encoder=...)``).

A compressed folder keeps the source ``config.json`` (same ``kind``) plus a ``compression``
object; its ``model.safetensors`` holds every weight (an LLM's full merged backbone, not LoRA).
fp32 setnet/DQN folders are ordinary checkpoints of the same shape; int8 ones are read by
:func:`load_int8_module` (reached by name from ``policies.onnx``), LLM ones by :func:`load_llm`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.checkpoint import load_checkpoint, read_config, require_torch
from ..core.errors import CheckpointError, UserError, clip
LLM_KINDS = ("llm-sft", "llm-grpo", "comllm")  # the checkpoint kinds of llm.policy.KINDS (not imported: it imports this module)
from ..llm.sft import LLMConfig, build_policy_model
from ..policies.base import allowed_mask, make_policy
from ..policies.setnet import set_features
from ..sim.dynamics import Obs
from ..sim.params import Params
from .prune import Group, llm_groups
from .quant import load_int8, load_plain

FAMILIES = {"setnet": "setnet", "dqn": "dqn", **{k: "llm" for k in LLM_KINDS}}
"""checkpoint kind -> family"""


@dataclass
class Subject:
    """A trained policy opened for compression (module docstring)."""

    family: str
    kind: str
    folder: str
    config: dict
    module: object
    policy: object

    @property
    def mode(self) -> str:
        """LLM mode (text | encoder); '' for setnet and DQN."""
        return self.config.get("llm", {}).get("mode", "text") if self.family == "llm" else ""


def family_of(kind: str, folder: str) -> str:
    if kind not in FAMILIES:
        raise UserError(f"'{clip(folder)}' holds a '{clip(kind, 40)}' checkpoint; compress takes {', '.join(FAMILIES)}")
    return FAMILIES[kind]


def open_subject(spec: str, p: Params) -> Subject:
    """Load ``KIND:FOLDER`` (or a bare folder: its kind is read) for compression."""
    name, colon, folder = spec.partition(":")
    if not colon:
        name, folder = "", spec
    if not Path(folder).is_dir():
        raise UserError(f"SPEC: checkpoint folder '{clip(folder)}' does not exist")
    config = read_config(folder)
    kind = config.get("kind")
    family = family_of(kind, folder)
    if name and name != kind:
        raise UserError(f"SPEC: '{clip(folder)}' holds a '{kind}' checkpoint, not '{clip(name, 40)}'")
    if "compression" in config:
        raise UserError(f"SPEC: '{clip(folder)}' is already compressed; compress its source checkpoint instead")
    policy = make_policy(f"{kind}:{folder}", p)
    if family == "llm":
        from torch import nn

        parts = {"model": policy.scorer.model}
        if getattr(policy.scorer, "encoder", None) is not None:
            parts["encoder"] = policy.scorer.encoder
        module = nn.ModuleDict(parts)
    else:
        module = policy.net
    return Subject(family, kind, str(folder), config, module, policy)


def unit_groups(s: Subject) -> list[Group]:
    """The structured units of the subject as it is now (after any decoder layers were cut)."""
    if s.family == "llm":
        return [Group(tuple(f"model.{r}" for r in g.rows), tuple(f"model.{c}" for c in g.cols), g.size)
                for g in llm_groups(s.policy.scorer.model)]
    return setnet_groups() if s.family == "setnet" else dqn_groups(s.module)


def setnet_groups() -> list[Group]:
    """Hidden units of setnet: φ's first and second layer, ψ's hidden layer, χ's hidden layer."""
    return [Group(("phi_server", "phi_task"), ("phi_out",)), Group(("phi_out",)),
            Group(("psi_h", "psi_ctx"), ("psi_out",)), Group(("chi.0",), ("chi.2",))]


def dqn_groups(net) -> list[Group]:
    """Hidden units of each torso layer of the Q-network (consumers: the next layer, or the heads)."""
    torso = [n for n, _ in net.named_modules() if n.startswith("torso.") and hasattr(_, "weight")]
    heads = tuple(n for n in ("adv", "value") if hasattr(net, n))
    return [Group((t,), (torso[i + 1],) if i + 1 < len(torso) else heads) for i, t in enumerate(torso)]


def logits(s: Subject, obs: Obs, grad: bool = False):
    """(n, E+1) action scores of the subject's torch module (disallowed actions -inf)."""
    import torch

    with torch.set_grad_enabled(grad):
        if s.family == "llm":
            return s.policy.scorer.log_probs(obs, grad=grad)
        if s.family == "setnet":
            t, srv = set_features(obs, s.policy.p, getattr(s.policy, "feature_set", 1))
            out = s.module(torch.from_numpy(t), torch.from_numpy(srv))
        else:
            out = s.module(torch.from_numpy(s.policy.features(obs)))[:, : obs.n_servers + 1]
        mask = torch.from_numpy(allowed_mask(obs, s.policy.p))
        return out.masked_fill(~mask, float("-inf"))


def decisions(s: Subject, obs: Obs, batch: int = 4096) -> np.ndarray:
    """Greedy actions of the subject on every row of ``obs`` (in batches of ``batch``)."""
    out = [logits(s, obs.take(np.arange(i, min(i + batch, len(obs))))).argmax(1).numpy()
           for i in range(0, len(obs), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def load_int8_module(folder: str, kind: str, schema, build) -> tuple[object, dict]:
    """(int8 torch module, config) of a compressed setnet/DQN folder; ``build(config)`` makes the
    fp32 skeleton. Any mismatch is one CheckpointError line."""
    tensors, config = load_checkpoint(folder, kind, schema)
    net = build(config)
    _load(net, tensors, config, folder)
    net.eval()
    return net, config


def load_llm(folder: str, config: dict, p: Params):
    """The scorer of a compressed LLM folder: backbone rebuilt by name (its layers cut as recorded),
    every weight read from the folder, int8 modules rebuilt."""
    tensors, _ = load_checkpoint(folder, config["kind"])
    cfg = LLMConfig.from_dict(config["llm"])
    tr = build_policy_model(config["backbone"], cfg, p, trainable=False)
    from torch import nn

    parts = {"model": tr.model} | ({"encoder": tr.encoder} if tr.encoder is not None else {})
    _load(nn.ModuleDict(parts), tensors, config, folder)
    return tr.scorer


def _load(module, tensors: dict, config: dict, folder: str) -> None:
    require_torch()
    names = config["compression"].get("int8_modules", [])
    try:
        missing = load_int8(module, tensors, names) if names else load_plain(module, tensors)
    except (KeyError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"'{clip(folder)}/model.safetensors' does not match its config.json ({clip(first, 200)})") from None
    if missing:
        raise CheckpointError(f"'{clip(folder)}/model.safetensors' lacks {len(missing)} tensors ({clip(', '.join(missing), 80)})")
