"""Published ImageNet-1K top-1 accuracies (%) of each network's variants, with their sources.

- ``fp32``  : torchvision's own weights metadata (``<Model>_Weights.IMAGENET1K_V1``), read from the
  installed torchvision when a profile is generated (no weights are downloaded).
- ``int8``  : torchvision's post-training-quantised weights metadata (``torchvision.models.quantization``,
  FBGEMM / QNNPACK backends) where torchvision ships such a model; otherwise absent.
- ``pruned``: magnitude-pruned variants from the literature (table below), with their sparsity
  (fraction of weights removed) and the dense baseline of the same paper (its training setup differs
  from torchvision's, so the paper's own baseline is recorded beside it).
"""

from __future__ import annotations

from types import ModuleType

PRUNED = {
    # Han, Pool, Tran, Dally, "Learning both Weights and Connections for Efficient Neural Networks",
    # NeurIPS 2015, Table 1: AlexNet 61M -> 6.7M weights (9x), top-1 error 42.78 % -> 42.77 %.
    "alexnet": {"top1": 57.23, "baseline_top1": 57.22, "sparsity": 0.89,
                "source": "Han et al., NeurIPS 2015, Table 1 (AlexNet pruned 9x: top-1 error 42.77 %)"},
    # Same paper, Table 1: VGG-16 138M -> 10.3M weights (13x), top-1 error 31.50 % -> 31.34 %.
    "vgg16": {"top1": 68.66, "baseline_top1": 68.50, "sparsity": 0.925,
              "source": "Han et al., NeurIPS 2015, Table 1 (VGG-16 pruned 13x: top-1 error 31.34 %)"},
    # Gale, Elsen, Hooker, "The State of Sparsity in Deep Neural Networks", 2019 (magnitude pruning,
    # ResNet-50 at 80 % sparsity), as tabulated by Evci et al., "Rigging the Lottery", ICML 2020, Table 2.
    "resnet50": {"top1": 75.6, "baseline_top1": 76.8, "sparsity": 0.80,
                 "source": "Gale et al. 2019 magnitude pruning, 80 % sparse (Evci et al., ICML 2020, Table 2)"},
}
"""network -> published pruned variant (top-1 %, paper baseline top-1 %, sparsity, source)"""

INT8 = {"resnet18": "quantized_resnet18", "resnet50": "quantized_resnet50", "mobilenet_v2": "quantized_mobilenet_v2"}
"""network -> torchvision's quantised builder whose weights metadata gives the int8 top-1"""


def _meta_entry(tv: ModuleType, builder: str, weights: str) -> dict:
    enum = tv.models.get_model_weights(builder)
    meta = getattr(enum, weights).meta
    out = {"top1": float(meta["_metrics"]["ImageNet-1K"]["acc@1"]),
           "source": f"torchvision {str(tv.__version__).split('+')[0]} weights metadata {enum.__name__}.{weights}"}
    if meta.get("backend"):
        out["backend"] = meta["backend"]
    return out


def variants(name: str, tv: ModuleType) -> dict:
    """The variants of network ``name`` that have a published top-1 (fp32 always)."""
    out = {"fp32": _meta_entry(tv, name, "IMAGENET1K_V1")}
    if name in INT8:
        builder = INT8[name]
        first = next(iter(tv.models.get_model_weights(builder))).name
        out["int8"] = _meta_entry(tv, builder, first)
    if name in PRUNED:
        out["pruned"] = dict(PRUNED[name])
    return out
