"""Layer profiles shipped with the package (``dnn/profiles/<name>.json``) as NumPy arrays.

A profile has ``n`` layers and ``n + 1`` split points ``k = 0..n``: split ``k`` runs layers
``1..k`` on the device and ``k+1..n`` on the edge server; ``k = 0`` is full offload (the input
image crosses the link), ``k = n`` all-local (nothing crosses). The JSON is regenerated from
torchvision by ``mecoffload dnn profile NAME`` (:mod:`mecoffload.dnn.profiler`); this module only
reads it, so the analysis needs neither torch nor torchvision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.checkpoint import atomic_write_text
from ..core.errors import UserError, clip

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
"""the shipped profile JSON files (package data)"""

NETWORKS = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "vit_b_16")
"""the profiled networks, in the order of the tables"""

KINDS = ("conv", "dense", "attention")
"""layer kinds whose multiply-accumulates run at a per-kind device rate"""


@dataclass(frozen=True)
class Profile:
    """One network's per-layer costs (arrays have one entry per layer, ``n`` layers).

    ``macs[kind]`` multiply-accumulates of that kind; ``other`` element operations (memory bound);
    ``params`` parameters (weights read once per inference: 4 B fp32, 1 B int8); ``act`` elements
    of the activation after each split point, length ``n + 1`` (``act[0]`` the input image)."""

    name: str
    layer_names: tuple[str, ...]
    layer_types: tuple[str, ...]
    macs: dict[str, np.ndarray]
    other: np.ndarray
    params: np.ndarray
    act: np.ndarray
    variants: dict
    doc: dict

    @property
    def n_layers(self) -> int:
        return len(self.layer_names)

    @property
    def total_macs(self) -> float:
        return float(sum(m.sum() for m in self.macs.values()))

    def act_bytes(self, bytes_per_element: float = 4.0, input_bytes_per_element: float = 1.0) -> np.ndarray:
        """Bytes crossing the link at each split point ``k = 0..n`` (B): the activation at ``bytes_per_element``
        (4 fp32, 1 int8); at ``k = 0`` the camera image at ``input_bytes_per_element`` (1: 8-bit RGB, the
        server normalises it); 0 at ``k = n`` (all-local, the result stays on the device)."""
        out = self.act.astype(np.float64) * bytes_per_element
        out[0] = self.act[0] * input_bytes_per_element
        out[-1] = 0.0
        return out


def from_doc(doc: dict) -> Profile:
    """A :class:`Profile` from a profile JSON document (as written by the profiler)."""
    try:
        layers = doc["layers"]
        macs = {k: np.array([lay[f"{k}_macs"] for lay in layers], dtype=np.float64) for k in KINDS}
        act = np.array([int(np.prod(doc["input_shape"]))] + [int(np.prod(lay["out_shape"])) for lay in layers],
                       dtype=np.float64)
        return Profile(doc["name"], tuple(lay["name"] for lay in layers), tuple(lay["type"] for lay in layers), macs,
                       np.array([lay["other_elems"] for lay in layers], dtype=np.float64),
                       np.array([lay["params"] for lay in layers], dtype=np.float64), act, doc.get("variants", {}), doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"profile document is malformed ({type(exc).__name__}: {clip(exc)})") from None


def load_profile(name: str) -> Profile:
    """The shipped profile of network ``name`` (one of :data:`NETWORKS`) or a JSON file path."""
    path = Path(name) if name.endswith(".json") else PROFILE_DIR / f"{name}.json"
    if not path.is_file():
        raise UserError(f"network must be one of {', '.join(NETWORKS)} or a profile .json file (got '{clip(name)}')")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"profile '{clip(path)}' is not JSON ({exc.msg}, line {exc.lineno})") from None
    return from_doc(doc)


def dumps_profile(doc: dict) -> str:
    """The profile as stable JSON text (one layer per line, keys in a fixed order)."""
    head = {k: v for k, v in doc.items() if k not in ("layers", "variants")}
    lines = ["{"] + [f" {json.dumps(k)}: {json.dumps(v, allow_nan=False)}," for k, v in head.items()]
    lines.append(f' "variants": {json.dumps(doc["variants"], allow_nan=False)},')
    lines.append(' "layers": [')
    lines += [f"  {json.dumps(lay, allow_nan=False)}," for lay in doc["layers"]]
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines + [" ]", "}"]) + "\n"


def save_profile(doc: dict, path: Path) -> Path:
    """Write the profile JSON to ``path`` atomically."""
    return atomic_write_text(Path(path), dumps_profile(doc))
