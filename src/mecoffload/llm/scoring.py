"""Exact action distributions from one forward pass (DESIGN principle 6).

The action is one of E+1 labels (``A`` = local, ``B``.. = servers). Instead of generating text,
``TextScorer`` runs the model once over each state, takes the hidden state at the answer position
(after ``Decision:``) and reads the logits of the E+1 label tokens only: a decision never is an
invalid answer, and softmax over those logits is the policy's exact distribution π(a|s) (GRPO
gets exact log-probabilities and an exact KL over the action set).

Speed: every decision of a slot is one batch (right-padded, logits gathered at each row's last
token); the fixed instruction prefix is run once and its KV cache is reused for every row
(expanded over the batch, positions continue after it). At inference the prefix cache is computed
once per model; during training it is recomputed once per batch with gradients (LoRA changes it).
Only one position per row goes through the LM head.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..sim.dynamics import Obs
from ..sim.params import Params
from .model import decoder_and_head
from .prompt import ANSWER_CUE, LABELS, PERTURBATIONS, PromptConfig, instruction, state_text, state_texts

MARK = "<<<STATE>>>"


class PrefixCache:
    """KV cache of a fixed token prefix, reused by every forward pass."""

    def __init__(self) -> None:
        self._kv = None
        self.frozen = False  # True at inference: compute once, reuse for every call


    def invalidate(self) -> None:
        self._kv = None

    def get(self, decoder, prefix_ids, grad: bool):
        import torch

        if grad or not self.frozen or self._kv is None:
            with torch.set_grad_enabled(grad):
                out = decoder(input_ids=prefix_ids, use_cache=True)
            kv = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
            if grad or not self.frozen:
                return kv
            self._kv = kv
        return self._kv


def run_with_prefix(model, prefix: PrefixCache, prefix_ids, grad: bool, input_ids=None, inputs_embeds=None,
                    attention_mask=None):
    """Decoder hidden states (n, L, h) of a batch that continues the cached prefix."""
    import torch
    from transformers import DynamicCache

    decoder, _ = decoder_and_head(model)
    kv = prefix.get(decoder, prefix_ids, grad)
    x = input_ids if input_ids is not None else inputs_embeds
    n, L = x.shape[0], x.shape[1]
    P = kv[0][0].shape[2]
    cache = DynamicCache(ddp_cache_data=[(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in kv])
    if attention_mask is None:
        attention_mask = torch.ones(n, L, dtype=torch.long)
    mask = torch.cat([torch.ones(n, P, dtype=attention_mask.dtype), attention_mask], dim=1)
    pos = (P + torch.arange(L))[None].expand(n, -1)
    with torch.set_grad_enabled(grad):
        out = decoder(input_ids=input_ids, inputs_embeds=inputs_embeds, attention_mask=mask, past_key_values=cache,
                      position_ids=pos, use_cache=True)
    return out.last_hidden_state


def label_token_ids(tokenizer, n: int) -> list[int]:
    """One token id per label, as it follows ``Decision:`` (with a leading space)."""
    ids = []
    for lab in LABELS[:n]:
        t = tokenizer.encode(" " + lab, add_special_tokens=False)
        if len(t) != 1:
            t = tokenizer.encode(lab, add_special_tokens=False)
        if len(t) != 1:
            raise ValueError(f"label {lab!r} is not a single token for this tokenizer")
        ids.append(t[0])
    if len(set(ids)) != len(ids):
        raise ValueError("label tokens are not distinct for this tokenizer")
    return ids


def split_prompt(tokenizer, instr: str) -> tuple[str, str]:
    """(prefix text, text after the state) using the chat template when the model has one."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": instr + "\n\n" + MARK}], tokenize=False,
                                             add_generation_prompt=True)
        head, _, tail = text.partition(MARK)
        return head, tail + ANSWER_CUE
    bos = tokenizer.bos_token or ""
    return bos + instr + "\n\n", "\n" + ANSWER_CUE


class TextScorer:
    """π(a|s) over the E+1 labels for a batch of states, from prompts."""

    def __init__(self, model, tokenizer, p: Params, cfg: PromptConfig, max_batch: int = 32):
        import torch

        self.model, self.tok, self.p, self.cfg, self.max_batch = model, tokenizer, p, cfg, max_batch
        head, self.tail = split_prompt(tokenizer, instruction(cfg, p))
        self.prefix_ids = torch.tensor([tokenizer.encode(head, add_special_tokens=False)])
        self.label_ids = torch.tensor(label_token_ids(tokenizer, len(LABELS)))
        self.prefix = PrefixCache()
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.seed = 0

    def set_model(self, model) -> None:
        self.model = model
        self.prefix.invalidate()

    def encode(self, obs: Obs, seed: int | None = None) -> list[list[int]]:
        if seed is None:
            seed, self.seed = self.seed, self.seed + 1
        return [self._ids(t) for t in state_texts(obs, self.p, self.cfg, seed)]

    def _ids(self, state: str) -> list[int]:
        """Token ids of a state text followed by the answer cue (the prefix is cached separately)."""
        return self.tok.encode(state + self.tail, add_special_tokens=False)

    def encode_augmented(self, obs: Obs, rng: np.random.Generator, prob: float, pool: int = 26,
                         scale: tuple[float, float] = (0.5, 8.0)):
        """Token ids and label indices (n, E+1) for training prompts: with probability ``prob`` a row gets a
        random Table VI perturbation, its servers random distinct letters out of ``LABELS[1:pool]``
        (``A`` stays local) and, half of those rows, its estimates multiplied by one log-uniform factor in
        ``scale`` (argmin unchanged); otherwise the plain prompt. Returns (ids, lab) with ``lab[r, a]`` the
        index into ``LABELS`` of action a's label in row r."""
        E = obs.n_servers
        if E + 1 > pool:
            raise ValueError(f"augmentation draws server letters from {pool - 1}: n_servers must be <= {pool - 1} (got {E})")
        ids, lab = [], np.tile(np.arange(E + 1), (len(obs), 1))
        for r in range(len(obs)):
            cfg, k = self.cfg, 1.0
            if rng.random() < prob:
                cfg = replace(cfg, perturbation=PERTURBATIONS[rng.integers(len(PERTURBATIONS))])
                lab[r, 1:] = 1 + rng.choice(pool - 1, E, replace=False)
                if rng.random() < 0.5:
                    k = float(np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1]))))
            ids.append(self._ids(state_text(obs, r, self.p, cfg, rng, "".join(LABELS[j] for j in lab[r]), k)))
        return ids, lab

    def _batch(self, ids: list[list[int]]):
        import torch

        L = max(len(x) for x in ids)
        inp = torch.full((len(ids), L), self.pad, dtype=torch.long)
        mask = torch.zeros((len(ids), L), dtype=torch.long)
        for r, x in enumerate(ids):
            inp[r, :len(x)] = torch.tensor(x)
            mask[r, :len(x)] = 1
        return inp, mask, torch.tensor([len(x) - 1 for x in ids])

    def answer_logits(self, ids: list[list[int]], grad: bool = False):
        """Full-vocabulary logits at the answer position, (n, V)."""
        import torch

        _, lm_head = decoder_and_head(self.model)
        outs = []
        step = len(ids) if grad else self.max_batch
        for s in range(0, len(ids), step):
            inp, mask, last = self._batch(ids[s:s + step])
            h = run_with_prefix(self.model, self.prefix, self.prefix_ids, grad, input_ids=inp, attention_mask=mask)
            with torch.set_grad_enabled(grad):
                outs.append(lm_head(h[torch.arange(len(last)), last]))
        return torch.cat(outs)

    def action_log_probs(self, logits_full, n_servers: int, lab=None):
        """Exact log π(a|s), (n, E+1), from the answer logits; forbidden local -> -inf.
        ``lab`` (n, E+1): per-row label indices of an augmented batch (default: A, B, C, ...)."""
        import torch

        if lab is None:
            lg = logits_full[:, self.label_ids[:n_servers + 1]].float()
        else:
            lg = torch.gather(logits_full, 1, self.label_ids[torch.as_tensor(lab)]).float()
        if not self.p.allow_local:
            lg = lg.clone()
            lg[:, 0] = float("-inf")
        return torch.log_softmax(lg, -1)

    def log_probs(self, obs: Obs, grad: bool = False, seed: int | None = None):
        return self.action_log_probs(self.answer_logits(self.encode(obs, seed), grad), obs.n_servers)


def greedy(logp) -> np.ndarray:
    return logp.argmax(1).cpu().numpy().astype(np.int64)
