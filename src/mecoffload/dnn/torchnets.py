"""The six networks as chains of split stages, built from torchvision's own model definitions.

A *stage* is ``(name, kind, fn, params)``: ``fn`` maps the activation after the previous stage
to the activation after this one, and applying every stage in order reproduces the model's
``forward`` exactly (checked by ``tests/test_dnn_profile.py`` on real tensors). A split point
lies after each stage: for chain networks (AlexNet, VGG16) after every layer, for residual and
inverted-residual networks (ResNet, MobileNetV2) at block boundaries, for ViT-B/16 after the
patch embedding and each encoder block. Dropout is the identity at inference and is left out.

torchvision is imported here only, through :func:`import_torchvision`, which finds a torchvision
that is not on ``sys.path`` (``make setup-dnn`` installs ``torchvision==0.28.0 --no-deps`` into
``.venv-dnn/``, beside the shared venv's ``torch==2.13.0`` CPU build) and works around its
compiled ops failing to load (only the model definitions are used; no weights are downloaded).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

from ..core.errors import MissingExtraError

MODELS = {"alexnet": "alexnet", "vgg16": "vgg16", "resnet18": "resnet18", "resnet50": "resnet50",
          "mobilenet_v2": "mobilenet_v2", "vit_b_16": "vit_b_16"}
"""profile name -> torchvision builder (``torchvision.models.<builder>(weights=None)``)"""

TORCHVISION_VERSION = "0.28.0"
"""the torchvision release paired with torch 2.13.0 (its wheel requires torch==2.13.0)"""

SETUP_HINT = (f"run `make setup-dnn` (pip install --no-deps --target .venv-dnn torchvision=={TORCHVISION_VERSION}) "
              "or set MECOFFLOAD_TORCHVISION_DIR to a folder holding torchvision")

# torchvision's _meta_registrations registers fake kernels for these two ops without checking
# that its compiled extension loaded; with the CUDA-built wheel beside a CPU torch the extension
# cannot load, so the schemas are declared here (the ops are never called by the classifiers).
_SHIM_SCHEMAS = ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
                 "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_SHIM: list = []


def _candidate_dirs() -> list[Path]:
    env = os.environ.get("MECOFFLOAD_TORCHVISION_DIR")
    if env:
        return [Path(env)]
    repo = Path(__file__).resolve().parents[3]  # src/mecoffload/dnn -> the checkout root
    return [Path.cwd() / ".venv-dnn", repo / ".venv-dnn"]


def _declare_missing_ops() -> None:
    torch = importlib.import_module("torch")
    if not _SHIM:
        lib = torch.library.Library("torchvision", "FRAGMENT")
        for schema in _SHIM_SCHEMAS:
            if not hasattr(torch.ops.torchvision, schema.split("(")[0]):
                lib.define(schema)
        _SHIM.append(lib)  # keep the library alive: dropping it removes the definitions


def import_torchvision() -> ModuleType:
    """``torchvision`` (its model definitions), or a one-line :class:`MissingExtraError`."""
    if "torchvision.models" in sys.modules:
        return sys.modules["torchvision"]
    if importlib.util.find_spec("torchvision") is None or os.environ.get("MECOFFLOAD_TORCHVISION_DIR"):
        for d in _candidate_dirs():
            if (d / "torchvision" / "__init__.py").is_file():
                sys.path.insert(0, str(d))
                break
        else:
            raise MissingExtraError(f"torchvision is not installed: {SETUP_HINT}")
    try:
        return importlib.import_module("torchvision")
    except ImportError as exc:
        raise MissingExtraError(f"torchvision cannot be imported ({exc}): {SETUP_HINT}") from None
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    _declare_missing_ops()
    try:
        return importlib.import_module("torchvision")
    except (ImportError, RuntimeError) as exc:
        raise MissingExtraError(f"torchvision cannot be imported ({type(exc).__name__}: {exc}): {SETUP_HINT}") from None


Stage = tuple[str, str, Callable, list]
"""(name, layer type, fn(activation) -> activation, parameters owned by the stage)"""


def build(name: str, device: str = "meta"):
    """(model in eval mode, its stages) for profile ``name`` on ``device`` (``meta``: shapes only)."""
    tv = import_torchvision()
    torch = importlib.import_module("torch")
    with torch.device(device):
        model = getattr(tv.models, MODELS[name])(weights=None).eval()
    kind = "vit" if name.startswith("vit") else "resnet" if name.startswith("resnet") else name.split("_")[0]
    stages = {"alexnet": _sequential, "vgg16": _sequential, "resnet": _resnet, "mobilenet": _mobilenet,
              "vit": _vit}[kind](model, torch)
    return model, stages


def _mod(name: str, m) -> Stage:
    return (name, type(m).__name__, m, list(m.parameters()))


def _children(prefix: str, seq) -> list[Stage]:
    return [_mod(f"{prefix}.{i}", m) for i, m in seq.named_children() if type(m).__name__ not in ("Dropout", "Identity")]


def _flatten(torch) -> Stage:
    return ("flatten", "Flatten", lambda x: torch.flatten(x, 1), [])


def _sequential(model, torch) -> list[Stage]:
    """AlexNet / VGG: features -> avgpool -> flatten -> classifier, one stage per layer."""
    return (_children("features", model.features) + [_mod("avgpool", model.avgpool), _flatten(torch)]
            + _children("classifier", model.classifier))


def _resnet(model, torch) -> list[Stage]:
    stem = [_mod(n, getattr(model, n)) for n in ("conv1", "bn1", "relu", "maxpool")]
    blocks = [_mod(f"{layer}.{i}", b) for layer in ("layer1", "layer2", "layer3", "layer4")
              for i, b in getattr(model, layer).named_children()]
    return stem + blocks + [_mod("avgpool", model.avgpool), _flatten(torch), _mod("fc", model.fc)]


def _mobilenet(model, torch) -> list[Stage]:
    pool = ("avgpool", "AdaptiveAvgPool2d", lambda x: torch.nn.functional.adaptive_avg_pool2d(x, (1, 1)), [])
    return _children("features", model.features) + [pool, _flatten(torch)] + _children("classifier", model.classifier)


def _vit(model, torch) -> list[Stage]:
    enc = model.encoder

    def embed(x):  # VisionTransformer.forward up to the encoder, then Encoder.forward's input step
        x = model._process_input(x)
        x = torch.cat([model.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return enc.dropout(x + enc.pos_embedding)

    stages = [("embed", "PatchEmbedding", embed, [*model.conv_proj.parameters(), model.class_token, enc.pos_embedding])]
    stages += [_mod(f"encoder.{n}", blk) for n, blk in enc.layers.named_children()]
    stages += [_mod("encoder.ln", enc.ln), ("class_token", "Select", lambda x: x[:, 0], [])]
    return stages + [_mod(f"heads.{n}", m) for n, m in model.heads.named_children()]
