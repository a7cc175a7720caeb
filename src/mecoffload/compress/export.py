"""ONNX export of a (pruned) subject, optional int8 by onnxruntime's dynamic quantisation, and its check.

Graphs take the policy's numeric features, so the features are computed once in NumPy by the
same functions as the torch policy (``policies.onnx``): setnet and the LLM encoder read (task
(n, T), server (n, E, S)), (T, S) = ``policies.setnet.FEATURES[feature_set]``, with n and E dynamic; DQN reads x (n, input_dim). The LLM encoder graph
holds the keys/values of its fixed instruction prefix as constants (computed once at export,
as ``llm.scoring.PrefixCache`` does at run time), so one call costs E+1 token positions.
torch's TorchScript exporter (``dynamo=False``: it needs no onnxscript) writes opset 17.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..core.checkpoint import atomic_write
from ..core.errors import UserError
from ..core.optional import require
from ..llm.scoring import decoder_and_head
from ..policies.onnx import ONNX_FILE
from ..policies.setnet import set_features
from ..sim.dynamics import Obs
from .export_llm import activation_matmuls, lean_encoder_graph
from .models import Subject

OPSET = 17


def graph_module(s: Subject, obs: Obs):
    """(torch module, example inputs, input names, dynamic axes) to export for subject ``s``."""
    import torch

    if s.family == "dqn":
        x = torch.from_numpy(s.policy.features(obs))
        return s.module, (x,), ["x"], {"x": {0: "n"}, "scores": {0: "n"}}
    t, srv = (torch.from_numpy(a) for a in set_features(obs, s.policy.p, getattr(s.policy, "feature_set", 1)))
    axes = {"task": {0: "n"}, "server": {0: "n", 1: "e"}, "scores": {0: "n", 1: "a"}}
    if s.family == "setnet":
        return s.module, (t, srv), ["task", "server"], axes
    if s.mode != "encoder":
        raise UserError("--export onnx: the text LLM needs its tokenizer and prompt at run time; export the numeric-encoder "
                        "mode (llm.mode=encoder), or use --export none and serve the compressed folder with its kind")
    lean = lean_encoder_graph(s.policy.scorer)  # Llama-family backbones: the graph without HF's cache/mask nodes
    return (lean if lean is not None else EncoderGraph(s.policy.scorer).eval()), (t, srv), ["task", "server"], axes


def EncoderGraph(scorer):
    """An ``nn.Module`` (task, server) -> action logits of the LLM encoder with its prefix KV inside."""
    import torch
    from transformers import DynamicCache

    decoder, _ = decoder_and_head(scorer.model)
    kv = scorer.prefix.get(decoder, scorer.prefix_ids, False)

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.decoder, self.encoder, self.layers, self.P = decoder, scorer.encoder, len(kv), kv[0][0].shape[2]
            for i, (k, v) in enumerate(kv):
                self.register_buffer(f"k{i}", k.detach().clone())
                self.register_buffer(f"v{i}", v.detach().clone())

        def forward(self, task, server):
            emb = self.encoder.embed(task, server)
            n, length = emb.shape[0], emb.shape[1]
            cache = DynamicCache(ddp_cache_data=[(getattr(self, f"k{i}").expand(n, -1, -1, -1),
                                                  getattr(self, f"v{i}").expand(n, -1, -1, -1)) for i in range(self.layers)])
            mask = torch.ones(n, self.P + length, dtype=torch.long)
            pos = (self.P + torch.arange(length))[None].expand(n, -1)
            h = self.decoder(inputs_embeds=emb, attention_mask=mask, past_key_values=cache, position_ids=pos,
                             use_cache=True).last_hidden_state
            return self.encoder.head(h)

    return Graph()


def export_onnx(s: Subject, obs: Obs, out: Path, int8: bool) -> dict:
    """Write ``out/model.onnx`` (fp32 graph of the pruned module; int8 weights by onnxruntime's
    ``quantize_dynamic`` when ``int8``); returns the ``onnx`` block of config.json."""
    import warnings

    import torch

    require("onnx", "compress")
    module, args, names, axes = graph_module(s, obs.take(np.arange(min(2, len(obs)))))
    path = Path(out) / ONNX_FILE

    def write(tmp: Path) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(tmp), dynamo=False, input_names=names, output_names=["scores"],
                              dynamic_axes=axes, opset_version=OPSET)
        if int8:
            logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its "consider pre-processing" note
            qd = require("onnxruntime.quantization", "compress")
            fp32 = tmp.with_name(tmp.name + ".fp32")
            tmp.rename(fp32)
            try:
                qd.quantize_dynamic(str(fp32), str(tmp), weight_type=qd.QuantType.QInt8, per_channel=True,
                                 nodes_to_exclude=activation_matmuls(str(fp32)))
            finally:
                fp32.unlink(missing_ok=True)

    atomic_write(path, write)
    return {"file": ONNX_FILE, "inputs": names, "opset": OPSET, "int8": bool(int8),
            "allow_local": bool(s.policy.p.allow_local), "size_mb": path.stat().st_size / 1e6}
