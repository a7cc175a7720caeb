"""Numeric-encoder variant (seed 003 EdgeNetLLM / NetLLM style): the fast path for edge deployment.

No text: every edge server's numeric features (the 9 of ``policies.setnet.set_features``) go through
a shared MLP + LayerNorm, scaled to the LM's embedding statistics, into **one token per server**;
the task's 5 features give **one task token**, placed last so that (causal attention) it has seen
every server. The tokens follow a fixed cached instruction prefix. A learned **action head** reads
the LM's final hidden states: logit(server e) = w·tanh(W[h_e, h_task]), logit(local) = v·h_task.
Same weights for any number of servers; a decision is one forward pass over E+1 tokens.
``feature_set=2`` (``policies.setnet.FEATURES``) feeds the queue view too (16 server, 10 task
features); the default 1 keeps the encoder of existing checkpoints.
"""

from __future__ import annotations

from ..policies.setnet import FEATURES, set_features
from ..sim.dynamics import Obs
from ..sim.params import Params
from .prompt import PromptConfig, instruction
from .scoring import PrefixCache, run_with_prefix


def build_encoder(hidden: int, emb_std: float, width: int = 128, feature_set: int = 1):
    import torch
    from torch import nn

    n_task, n_server = FEATURES[feature_set]

    class NumericEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.server = nn.Sequential(nn.Linear(n_server, width), nn.GELU(), nn.Linear(width, hidden))
            self.task = nn.Sequential(nn.Linear(n_task, width), nn.GELU(), nn.Linear(width, hidden))
            self.norm = nn.LayerNorm(hidden)
            self.register_buffer("scale", torch.tensor(float(emb_std)))
            self.head_in = nn.Linear(2 * hidden, width)
            self.head_out = nn.Linear(width, 1)
            self.head_local = nn.Linear(hidden, 1)

        def embed(self, task, server):
            """task (n, T), server (n, E, S) -> token embeddings (n, E+1, hidden), task token last."""
            tok = torch.cat([self.server(server), self.task(task)[:, None, :]], dim=1)
            return self.scale * self.norm(tok)

        def head(self, h):
            """final hidden states (n, E+1, hidden) -> action logits (n, E+1), index 0 = local."""
            h = h.float()
            ht = h[:, -1]
            hs = h[:, :-1]
            z = torch.cat([hs, ht[:, None, :].expand_as(hs)], dim=-1)
            srv = self.head_out(torch.tanh(self.head_in(z))).squeeze(-1)
            return torch.cat([self.head_local(ht), srv], dim=-1)

    return NumericEncoder()


class EncoderScorer:
    """π(a|s) over the E+1 actions from the numeric encoder + LM + action head."""

    def __init__(self, model, tokenizer, p: Params, encoder, cfg: PromptConfig | None = None, feature_set: int = 1):
        import torch

        self.model, self.p, self.encoder, self.feature_set = model, p, encoder, feature_set
        head = (tokenizer.bos_token or "") + instruction(cfg or PromptConfig(), p) + "\n\nState (servers, then task):"
        self.prefix_ids = torch.tensor([tokenizer.encode(head, add_special_tokens=False)])
        self.prefix = PrefixCache()

    def set_model(self, model) -> None:
        self.model = model
        self.prefix.invalidate()

    def log_probs(self, obs: Obs, grad: bool = False, seed: int | None = None):
        import torch

        t, s = set_features(obs, self.p, self.feature_set)
        dtype = next(self.model.parameters()).dtype
        with torch.set_grad_enabled(grad):
            emb = self.encoder.embed(torch.from_numpy(t), torch.from_numpy(s)).to(dtype)
        h = run_with_prefix(self.model, self.prefix, self.prefix_ids, grad, inputs_embeds=emb)
        with torch.set_grad_enabled(grad):
            lg = self.encoder.head(h)
            if not self.p.allow_local:
                lg = lg.clone()
                lg[:, 0] = float("-inf")
            return torch.log_softmax(lg, -1)


def embedding_std(model) -> float:
    return float(model.get_input_embeddings().weight.detach().float().std())
