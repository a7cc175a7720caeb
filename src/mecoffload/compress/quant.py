"""int8 dynamic quantisation (``torch.ao.quantization.quantize_dynamic``) and its safetensors form.

Every prunable Linear (``prune.prunable``: all but the tied LM head) becomes a dynamically
quantised Linear: weights int8 with one symmetric scale per output channel (per-tensor scales
lost 8 % of setnet's decisions), activations quantised on the fly per batch. The checkpoint
stores, for each such module ``M``: ``M.weight`` (int8), ``M.weight_scale`` (float32, one per
output row), ``M.weight_zero_point`` (int64, one per row) and ``M.bias`` (float32) — tensors
only, no pickle; every other parameter and buffer as usual.
Loading rebuilds the quantised modules with exactly the stored integers and scales.
"""

from __future__ import annotations

from .prune import prunable

INT8_SUFFIXES = (".weight_scale", ".weight_zero_point")


def quantize_int8(model, names: list[str] | None = None):
    """Quantise the Linear modules ``names`` (default: every prunable one) of ``model`` in place."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    names = list(prunable(model)) if names is None else names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 2.13 deprecates quantised tensor creation (still supported)
        quantize_dynamic(model, {n: per_channel_dynamic_qconfig for n in names}, dtype=torch.qint8, inplace=True)
    return model


def int8_modules(model) -> dict:
    """{name: dynamic quantised Linear} of ``model``."""
    from torch.ao.nn.quantized.dynamic import Linear as QLinear

    return {n: m for n, m in model.named_modules() if isinstance(m, QLinear)}


def int8_state(model) -> dict:
    """Tensors of a (partly) int8 model: quantised Linears as int8 + scale + zero point, the rest as is."""
    import torch

    out = {k: v for k, v in plain_state(model).items()}
    for name, m in int8_modules(model).items():
        w = m.weight()
        out[f"{name}.weight"] = w.int_repr().contiguous()
        out[f"{name}.weight_scale"] = w.q_per_channel_scales().float().contiguous()
        out[f"{name}.weight_zero_point"] = w.q_per_channel_zero_points().long().contiguous()
        b = m.bias()
        if b is not None:
            out[f"{name}.bias"] = b.detach().float().contiguous()
    return out


def plain_state(model) -> dict:
    """Parameters and buffers of ``model`` outside its quantised modules, shared tensors once."""
    q = tuple(f"{n}." for n in int8_modules(model))
    persistent = set(model.state_dict(keep_vars=True))  # non-persistent buffers (rotary tables) are rebuilt
    out, seen = {}, set()
    for k, v in list(model.named_parameters(remove_duplicate=True)) + list(model.named_buffers(remove_duplicate=True)):
        if k.startswith(q) or k not in persistent or v.data_ptr() in seen:
            continue
        seen.add(v.data_ptr())
        out[k] = v.detach().contiguous()
    return out


def load_int8(model, tensors: dict, names: list[str]) -> list[str]:
    """Load ``tensors`` (from :func:`int8_state`) into the fp32 skeleton ``model``, quantising the
    Linear modules ``names``; returns the model's tensors that ``tensors`` lacks (empty when complete)."""
    import torch

    keys = {f"{n}{s}" for n in names for s in (".weight", ".bias") + INT8_SUFFIXES}
    missing = load_plain(model, {k: v for k, v in tensors.items() if k not in keys})
    missing = [k for k in missing if k not in keys]
    quantize_int8(model, names)
    mods = int8_modules(model)
    if set(mods) != set(names):
        raise KeyError(f"modules {sorted(set(names) - set(mods))[:3]} are not Linear layers of this model")
    for name, m in mods.items():
        q = tensors[f"{name}.weight"]
        scale, zp = tensors[f"{name}.weight_scale"], tensors[f"{name}.weight_zero_point"]
        if q.dtype != torch.int8 or q.dim() != 2 or scale.shape != (q.shape[0],) or zp.shape != (q.shape[0],):
            raise KeyError(f"tensor '{name}.weight' must be int8 (rows, cols) with one scale and zero point per row")
        qw = torch._make_per_channel_quantized_tensor(q, scale.double(), zp.long(), 0)
        m.set_weight_bias(qw, tensors.get(f"{name}.bias"))
    return missing


def load_plain(model, tensors: dict) -> list[str]:
    """Load tensors into a model (unexpected keys refused); returns the missing ones (tied copies excepted)."""
    res = model.load_state_dict(tensors, strict=False)
    if res.unexpected_keys:
        raise KeyError(f"unexpected tensors {res.unexpected_keys[:3]}")
    shared = {k for k, _ in model.named_parameters(remove_duplicate=False)} - set(dict(model.named_parameters()))
    return [k for k in res.missing_keys if k not in shared]
