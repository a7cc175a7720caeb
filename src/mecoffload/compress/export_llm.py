"""A lean ONNX graph of the LLM numeric encoder on a Llama-family backbone (SmolLM2, the ``tiny`` test model).

The generic graph (``export.EncoderGraph``) runs Hugging Face's decoder with a ``DynamicCache``;
traced, it carries ≈ 400 small shape / mask / rotary nodes around the 36 matrix products of a
4-layer stack, which cost as much as the products at batch 1. This graph computes the same function
from the same modules (the pruned ``nn.Linear`` and ``RMSNorm`` weights are used as they are) with
everything that does not depend on the input precomputed at export:

- the instruction prefix's keys / values per layer (post-RoPE, as the cache holds them), kept as
  (1, kv_heads, 1, P, d) constants and broadcast over the batch (no expand);
- cos / sin of the rotary embedding for positions P .. P+MAX_TOKENS-1, sliced to the E+1 tokens;
- the causal mask of the new tokens (additive −inf above the diagonal); every prefix key is visible.

Attention per layer (grouped-query: query head j·g + i reads key/value head j, as ``repeat_kv``):
softmax([q·K_prefixᵀ, q·K_newᵀ + mask] · d^-½) · [V_prefix; V_new]; MLP down(act(gate(x)) ⊙ up(x)).
:func:`lean_encoder_graph` returns None for other backbones (the caller falls back to the generic
graph); equality with the torch scorer is checked on simulator states by ``compress.api``.
"""

from __future__ import annotations

from ..llm.model import decoder_and_head

MAX_TOKENS = 257
"""longest input of the graph: E+1 tokens (256 servers, the service's limit, + the task token)"""


def lean_encoder_graph(scorer):
    """An ``nn.Module`` (task (n, T), server (n, E, S)) -> action logits (n, E+1) equal to the scorer's
    (before the local-action mask), or None when the backbone is not Llama-family."""
    import torch

    decoder, _ = decoder_and_head(scorer.model)
    if getattr(decoder.config, "model_type", "") != "llama":
        return None
    kv = scorer.prefix.get(decoder, scorer.prefix_ids, False)
    P = kv[0][0].shape[2]
    with torch.no_grad():
        pos = (P + torch.arange(MAX_TOKENS))[None]
        cos, sin = decoder.rotary_emb(kv[0][0], pos)
    return _Graph(decoder, scorer.encoder, kv, cos[0], sin[0]).eval()


def _graph_class():
    import torch

    class Graph(torch.nn.Module):
        def __init__(self, decoder, encoder, kv, cos, sin) -> None:
            super().__init__()
            cfg = decoder.config
            self.layers, self.norm, self.encoder = decoder.layers, decoder.norm, encoder
            self.h, self.kvh = cfg.num_attention_heads, cfg.num_key_value_heads
            self.d = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
            self.g = self.h // self.kvh
            self.scale = self.d ** -0.5
            for i, (k, v) in enumerate(kv):
                self.register_buffer(f"k{i}", k.detach().clone()[:, :, None])  # (1, kvh, 1, P, d)
                self.register_buffer(f"v{i}", v.detach().clone()[:, :, None])
            self.register_buffer("cos", cos.detach().clone())  # (MAX_TOKENS, d)
            self.register_buffer("sin", sin.detach().clone())
            tri = torch.full((MAX_TOKENS, MAX_TOKENS), float("-inf")).triu(1)
            self.register_buffer("causal", tri)

        @staticmethod
        def rope(x, cos, sin):
            half = x.shape[-1] // 2
            rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
            return x * cos + rot * sin

        def attend(self, i: int, layer, x, cos, sin, mask):
            n, L = x.shape[0], x.shape[1]
            at = layer.self_attn
            q = at.q_proj(x).view(n, L, self.kvh, self.g, self.d).permute(0, 2, 3, 1, 4)  # (n, kvh, g, L, d)
            k = at.k_proj(x).view(n, L, self.kvh, 1, self.d).permute(0, 2, 3, 1, 4)  # (n, kvh, 1, L, d)
            v = at.v_proj(x).view(n, L, self.kvh, 1, self.d).permute(0, 2, 3, 1, 4)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            kp, vp = getattr(self, f"k{i}"), getattr(self, f"v{i}")
            s = torch.cat([q @ kp.transpose(-1, -2), q @ k.transpose(-1, -2) + mask], dim=-1) * self.scale
            w = torch.softmax(s, dim=-1)
            P = kp.shape[-2]
            o = w[..., :P] @ vp + w[..., P:] @ v  # (n, kvh, g, L, d)
            return at.o_proj(o.permute(0, 3, 1, 2, 4).reshape(n, L, self.h * self.d))

        def forward(self, task, server):
            x = self.encoder.embed(task, server)
            L = x.shape[1]
            cos, sin, mask = self.cos[:L], self.sin[:L], self.causal[:L, :L]
            for i, layer in enumerate(self.layers):
                x = x + self.attend(i, layer, layer.input_layernorm(x), cos, sin, mask)
                y = layer.post_attention_layernorm(x)
                m = layer.mlp
                x = x + m.down_proj(m.act_fn(m.gate_proj(y)) * m.up_proj(y))
            return self.encoder.head(self.norm(x))

    return Graph


def _Graph(decoder, encoder, kv, cos, sin):
    return _graph_class()(decoder, encoder, kv, cos, sin)


def activation_matmuls(path: str) -> list[str]:
    """Names of the MatMul nodes of the ONNX file ``path`` whose constant operand is not a 2-D weight
    (the prefix keys / values of :func:`lean_encoder_graph`): onnxruntime's dynamic quantisation must
    leave them in fp32 (it would quantise them per channel as weights, which its kernels reject)."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    rank = {t.name: len(t.dims) for t in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and rank.get(n.input[1], 2) != 2]
