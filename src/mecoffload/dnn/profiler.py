"""Compute a network's layer profile from its torchvision definition (``mecoffload dnn profile``).

Every stage of :func:`mecoffload.dnn.torchnets.build` runs once on a meta tensor (shapes only: no
weights, no memory, no arithmetic) under ``torch.utils.flop_counter.FlopCounterMode`` and an
element counter. Per stage the profile records multiply-accumulates (MAC = FLOP/2 of the
counter) by layer kind, the element operations of everything else, the parameter count and the
shape of the activation that would cross the link if the network were split after it.

Layer kinds (so that device rates per kind apply, :mod:`mecoffload.dnn.devices`):

- ``conv``      : convolutions (``aten.convolution``)
- ``dense``     : matrix products of fully connected / projection layers (``aten.mm``, ``aten.addmm``)
- ``attention`` : batched products of attention (``aten.bmm``, scaled-dot-product attention)
- ``other``     : everything else that produces a tensor (batch norm, ReLU, pooling, softmax,
  layer norm, GELU, residual adds, concatenations) counted as elements written (one operation
  per output element; views and tensor factories excluded)

The published top-1 accuracies of the variants (:mod:`mecoffload.dnn.accuracy`) are added.
"""

from __future__ import annotations

import importlib

from .accuracy import variants
from .torchnets import MODELS, TORCHVISION_VERSION, build, import_torchvision

INPUT_SHAPE = (1, 3, 224, 224)
"""batch 1, RGB, 224 x 224 (the ImageNet evaluation size of all six networks)"""

SCHEMA = 1
"""version of the profile JSON layout"""

_FACTORIES = {"empty", "empty_like", "zeros", "zeros_like", "ones", "ones_like", "full", "full_like",
              "empty_strided", "scalar_tensor", "lift_fresh", "detach", "alias"}


def _kind(op_name: str) -> str:
    if "conv" in op_name:
        return "conv"
    if "attention" in op_name or op_name in ("bmm", "baddbmm"):
        return "attention"
    if op_name in ("mm", "addmm", "matmul", "linear"):
        return "dense"
    raise ValueError(f"flop counter reported an unclassified op '{op_name}'")


def _element_counter(torch):
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves
    from torch.utils.flop_counter import flop_registry

    class Elements(TorchDispatchMode):
        """Counts the output elements of ops the flop counter does not count (views and factories excluded)."""

        def __init__(self):
            super().__init__()
            self.count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            packet = func._overloadpacket
            if packet not in flop_registry and not func.is_view and packet.__name__ not in _FACTORIES:
                self.count += sum(t.numel() for t in tree_leaves(out) if isinstance(t, torch.Tensor))
            return out

    return Elements()


def _stage_counts(torch, fn, x) -> tuple[dict, object]:
    from torch.utils.flop_counter import FlopCounterMode

    counter = _element_counter(torch)
    with FlopCounterMode(display=False) as fc, counter:
        y = fn(x)
    macs = {"conv": 0, "dense": 0, "attention": 0}
    for op, flops in fc.get_flop_counts().get("Global", {}).items():
        macs[_kind(op.__name__)] += int(flops) // 2
    return {**{f"{k}_macs": v for k, v in macs.items()}, "other_elems": int(counter.count)}, y


def compute_profile(name: str) -> dict:
    """The layer profile of network ``name`` (a key of ``MODELS``) as a JSON-able dict.

    Per layer: MACs by kind, other element operations, parameters, output shape and the bytes of
    that activation in fp32 (4 B/element) and int8 (1 B/element); cumulative MACs up to the layer."""
    torch = importlib.import_module("torch")
    tv = import_torchvision()
    model, stages = build(name, "meta")
    x = torch.zeros(INPUT_SHAPE, device="meta")
    layers, cum = [], 0
    with torch.no_grad():
        for stage_name, typ, fn, params in stages:
            counts, x = _stage_counts(torch, fn, x)
            cum += counts["conv_macs"] + counts["dense_macs"] + counts["attention_macs"]
            n = int(x.numel())
            layers.append({"name": stage_name, "type": typ, **counts, "params": int(sum(p.numel() for p in params)),
                           "out_shape": list(x.shape), "act_bytes_fp32": 4 * n, "act_bytes_int8": n, "cum_macs": cum})
    n_in = 1
    for d in INPUT_SHAPE:
        n_in *= d
    meta = tv.models.get_model_weights(MODELS[name]).IMAGENET1K_V1.meta
    return {
        "schema": SCHEMA, "name": name, "generated_by": f"mecoffload dnn profile {name}",
        "torchvision": str(tv.__version__).split("+")[0], "torchvision_required": TORCHVISION_VERSION,
        "torch": str(torch.__version__).split("+")[0],
        "input_shape": list(INPUT_SHAPE), "input_bytes_fp32": 4 * n_in, "input_bytes_int8": n_in,
        "total_macs": cum, "total_params": int(sum(p.numel() for p in model.parameters())),
        "torchvision_meta": {"gops": meta.get("_ops"), "num_params": meta.get("num_params")},
        "layers": layers, "variants": variants(name, tv),
    }
