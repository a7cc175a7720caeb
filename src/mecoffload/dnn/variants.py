"""Compressed model variants (fp32 / int8 / pruned): what each changes in a layer's time, with sources.

A variant exists for a network only where its profile records a published top-1 (``dnn.accuracy``;
torchvision ships no int8 AlexNet, VGG16 or ViT, and pruned top-1 is published for AlexNet, VGG16 and
ResNet-50 only); a variant missing for a network is invalid for it.

- ``fp32``: the roofline of ``dnn.partition.layer_times`` (unchanged).
- ``int8`` on a processor with int8 arithmetic (``INT8_SPEEDUP`` lists it): the roofline with the
  compute term of kind ``c`` divided by ``INT8_SPEEDUP[proc][c]`` and the memory term at int8 bytes
  (1 B per weight, an element operation's read + write 2 B instead of 8 B: the memory term / 4). On a
  processor without int8 arithmetic (Kepler / Maxwell GPUs, before CUDA's ``__dp4a`` of compute
  capability 6.1; the Pi 4, for which no credible int8 measurement exists) the int8 model runs at the
  fp32 time (its weights dequantised): speed-up 1.0. Its upload is always the int8 activation
  (1 B per element).
- ``pruned`` (unstructured magnitude pruning): a layer whose multiply-accumulates are mostly dense
  (fully connected) runs ``PRUNED_DENSE_SPEEDUP[proc]`` times faster where Han et al. measured it,
  every other layer at its fp32 time (dense convolution libraries do not exploit unstructured
  sparsity; Han et al. measure FC layers only). Its parameter bytes ``(1 - sparsity) * 4 B`` per
  weight are recorded (``param_bytes``) but not credited beyond the measured speed-up. Upload: as the
  scenario's ``activation`` (the pruned model's activations are fp32).

Every constant below carries its source; where none exists the speed-up is 1.0 (said in the comment).
Units: s, B.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import UserError
from .devices import Processor
from .profiles import KINDS, Profile

VARIANTS = ("fp32", "int8", "pruned")
"""the model variants, in the order of the action encoding's variant index when all are chosen"""

INT8_SPEEDUP = {
    # Intel Xeon (Skylake-SP, AVX-512 without VNNI): PyTorch blog "Introduction to Quantization on PyTorch"
    # (Krishnamoorthi et al., 2020), measured on a Xeon-D2191 (Skylake, AVX-512, no VNNI), single thread:
    # ResNet-50 static int8 214 -> 103 ms (2.08x, convolutions); BERT dynamic int8 581 -> 313 ms (1.86x,
    # its linear layers); dynamic quantisation leaves the attention products in fp32 -> 1.0.
    "xeon": {"conv": 214.0 / 103.0, "dense": 581.0 / 313.0, "attention": 1.0},
    # NVIDIA T4: datasheet peaks 130 TOPS INT8 (tensor cores) vs 8.1 TFLOPS FP32 -> 16.05x on GEMM-shaped
    # work (conv, dense). A vendor peak, an upper bound like every rate of dnn.devices; no network here has
    # an int8 variant with attention, and no credible number exists for it -> 1.0.
    "t4": {"conv": 130.0 / 8.1, "dense": 130.0 / 8.1, "attention": 1.0},
}
"""processor -> int8 compute speed-up per layer kind; processors absent have no int8 arithmetic (1.0)"""

PRUNED_DENSE_SPEEDUP = {
    # Han, Mao, Dally, "Deep Compression", ICLR 2016, §6.2 / Fig. 9: pruned AlexNet and VGG-16 FC layers at
    # batch 1 (cuSPARSE CSRMV on the GPUs, MKL SPBLAS on the CPU) against dense cuBLAS / MKL on exactly these
    # processors: "3x to 4x layer-wise speedup on average"; we take the lower end, 3x, for each.
    "titanx": 3.0,  # GTX Titan X (measured there)
    "tk1": 3.0,     # Tegra K1 mobile GPU (measured there)
    "xeon": 3.0,    # their CPU is a Core i7-5930K (Haswell-E, AVX2): transferred to our Xeon class, an assumption
    # rpi4, jetson-nano, t4: no published measurement of unstructured-sparse layers -> 1.0
}
"""processor -> speed-up of a pruned layer whose MACs are mostly dense (fully connected)"""


def has_variant(profile: Profile, variant: str) -> bool:
    """Whether ``profile`` records a published top-1 for ``variant``."""
    if variant not in VARIANTS:
        raise UserError(f"dnn.variants: each one of {', '.join(VARIANTS)} (got '{str(variant)[:40]}')")
    return variant in profile.variants and "top1" in profile.variants[variant]


def variant_layer_times(profile: Profile, proc: Processor, variant: str = "fp32") -> np.ndarray:
    """Time (s) of each layer of ``profile``'s ``variant`` on ``proc``, shape ``(n,)`` (module doc)."""
    has_variant(profile, variant)  # names it or raises
    memory = (4.0 * profile.params + 8.0 * profile.other) / proc.mem_bw
    if variant == "int8" and proc.name in INT8_SPEEDUP:
        s = INT8_SPEEDUP[proc.name]
        compute = sum(2.0 * profile.macs[k] / (proc.rate[k] * s[k]) for k in KINDS)
        return np.maximum(compute, memory / 4.0)
    compute = sum(2.0 * profile.macs[k] / proc.rate[k] for k in KINDS)
    t = np.maximum(compute, memory)
    if variant == "pruned" and proc.name in PRUNED_DENSE_SPEEDUP:
        dense = profile.macs["dense"] > np.maximum(profile.macs["conv"], profile.macs["attention"])
        t = np.where(dense, t / PRUNED_DENSE_SPEEDUP[proc.name], t)
    return t


def param_bytes(profile: Profile, variant: str = "fp32") -> float:
    """Bytes of the variant's weights (B): 4 per fp32 weight, 1 per int8, pruned (1 - sparsity) * 4
    (values only, no index)."""
    total = float(profile.params.sum())
    if variant == "int8":
        return total
    if variant == "pruned":
        return 4.0 * total * (1.0 - float(profile.variants.get("pruned", {}).get("sparsity", 0.0)))
    return 4.0 * total
