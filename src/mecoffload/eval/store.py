"""The cell store: every finished cell of a batch job, one file pair per cell, written atomically.

A cell's *key* is the content hash of what it computes::

    key = sha256(canonical_json({"fn": "module:function", "inputs": {...}, "salt": SALT}))[:16]

``canonical_json`` sorts keys, has no whitespace and writes floats by ``repr`` (exact round
trip); NaN/±inf become ``{"__float__": "nan"}`` so the files stay strict JSON. ``SALT`` holds the
package version and the store format, so a new release never reuses an older release's cells.

A record is ``DIR/<key>.json`` (inputs, result, wall time) plus ``DIR/<key>.npz`` when the result
holds numpy arrays: an array anywhere in the result is replaced by ``{"__ndarray__": "aN"}`` in the
JSON and stored losslessly (dtype and shape) under ``aN`` in the npz. Both files are written to a
temporary name, fsynced and moved into place with ``os.replace``; the JSON goes last, so a visible
JSON always means a complete record and a ``kill -9`` at any instant loses at most the cells
still being computed. A record that cannot be read back (truncated by a disk error, inputs that
do not match its key) counts as missing and is recomputed.

Results round-trip exactly, with two normalisations applied to every result whether it was just
computed or read back (so numbers never depend on the path they took): tuples become lists and
numpy scalars become Python scalars. Dict keys must be strings; their order is kept.

Files a cell reads (a policy's checkpoint) are part of its inputs by content:
``fingerprint(spec)`` is the sha256 over every file that a part of the policy spec names
(``dqn:checkpoints/x``, ``mec:setnet:DIR``, ``dl-tier:desc,DIR``), so a checkpoint retrained at
the same path never reuses older cells, and ``check_fingerprint`` refuses a worker whose copy
differs from the driver's.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..core.errors import CheckpointError

FORMAT = 1
"""version of the record layout; part of the salt"""


def _package_version() -> str:
    try:
        return metadata.version("mecoffload")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


SALT = f"mecoffload-{_package_version()}-cells{FORMAT}"
"""code version salt mixed into every key"""


def _plain(obj: Any, arrays: dict[str, np.ndarray] | None) -> Any:
    """JSON-ready copy of ``obj``; arrays go to ``arrays`` (or are refused when it is None)."""
    if isinstance(obj, np.ndarray):
        if arrays is None:
            raise TypeError("numpy arrays are not allowed in cell inputs")
        if obj.dtype == object:
            raise TypeError("object arrays cannot be stored in a cell result")
        name = f"a{len(arrays)}"
        arrays[name] = obj
        return {"__ndarray__": name}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, dict):
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise TypeError(f"cell data needs string dict keys, got {bad[0]!r}")
        return {k: _plain(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, arrays) for v in obj]
    raise TypeError(f"cannot store a {type(obj).__name__} in a cell (JSON values and numpy arrays only)")


def _restore(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if len(obj) == 1 and "__float__" in obj:
            return float(obj["__float__"])
        if len(obj) == 1 and "__ndarray__" in obj:
            return arrays[obj["__ndarray__"]]
        return {k: _restore(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore(v, arrays) for v in obj]
    return obj


def canonical_json(obj: Any) -> str:
    """Deterministic JSON text of plain data (sorted keys, no spaces, exact floats)."""
    return json.dumps(_plain(obj, None), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def cell_key(fn: str, inputs: dict, salt: str = SALT) -> str:
    """The content hash naming a cell: 16 hex digits of sha256 over function, inputs and salt."""
    text = canonical_json({"fn": fn, "inputs": inputs, "salt": salt})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def normalise(result: Any) -> Any:
    """``result`` exactly as it reads back from the store (tuples → lists, numpy scalars → Python)."""
    arrays: dict[str, np.ndarray] = {}
    text = json.dumps(_plain(result, arrays), allow_nan=False)
    return _restore(json.loads(text), arrays)


def _spec_paths(spec: str) -> list[Path]:
    """The existing files or folders named by the parts of a policy spec after its name."""
    _, _, arg = spec.partition(":")
    parts = [arg] + [p for piece in arg.split(":") for p in piece.split(",")] if arg else []
    seen: list[Path] = []
    for part in parts:
        path = Path(part)
        if part and path.exists() and path not in seen:
            seen.append(path)
    return seen


def fingerprint(spec: str) -> str:
    """sha256 over the files that a policy spec names (checkpoints); '' when it names none."""
    paths = _spec_paths(spec)
    if not paths:
        return ""
    h = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def check_fingerprint(spec: str, sha256: str) -> None:
    """Refuse to run ``spec`` here when its files differ from those the run was planned with."""
    if sha256 and fingerprint(spec) != sha256:
        raise CheckpointError(f"policy '{spec}': the checkpoint here differs from the one the run was planned with")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the complete new one, never a part."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class CellStore:
    """Finished cells of one run in folder ``root`` (created on first write)."""

    def __init__(self, root: str | Path, salt: str = SALT):
        self.root = Path(root)
        self.salt = salt

    def key(self, fn: str, inputs: dict) -> str:
        return cell_key(fn, inputs, self.salt)

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.json", self.root / f"{key}.npz"

    def put(self, fn: str, inputs: dict, result: Any, label: str = "", elapsed_s: float = 0.0) -> Any:
        """Store one finished cell; return the result as it will read back (see :func:`normalise`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        key = self.key(fn, inputs)
        js, npz = self._paths(key)
        arrays: dict[str, np.ndarray] = {}
        record = {"format": FORMAT, "key": key, "fn": fn, "salt": self.salt, "label": label,
                  "inputs": _plain(inputs, None), "result": _plain(result, arrays),
                  "arrays": sorted(arrays), "elapsed_s": round(float(elapsed_s), 6)}
        text = json.dumps(record, allow_nan=False)  # key order kept: it is the order of tables and CSV columns
        if arrays:
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            atomic_write(npz, buf.getvalue())
        atomic_write(js, text.encode())
        return _restore(json.loads(text)["result"], arrays)

    def _record(self, key: str) -> tuple[dict, Any] | None:
        js, npz = self._paths(key)
        try:
            record = json.loads(js.read_text())
            arrays: dict[str, np.ndarray] = {}
            if record["arrays"]:
                with np.load(npz, allow_pickle=False) as z:
                    arrays = {name: z[name] for name in record["arrays"]}
            return record, _restore(record["result"], arrays)
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            return None  # missing or unreadable: the cell is recomputed

    def get(self, fn: str, inputs: dict) -> tuple[bool, Any]:
        """``(True, result)`` for a finished cell with exactly these inputs, else ``(False, None)``."""
        key = self.key(fn, inputs)
        found = self._record(key)
        if found is None:
            return False, None
        record, result = found
        same = record.get("fn") == fn and record.get("inputs") == json.loads(json.dumps(_plain(inputs, None)))
        return (True, result) if same and record.get("salt") == self.salt else (False, None)

    def clean(self) -> int:
        """Remove temporary files left by a writer that was killed; return how many (one writer per store)."""
        stale = list(self.root.glob(".*.tmp-*")) if self.root.is_dir() else []
        for p in stale:
            p.unlink(missing_ok=True)
        return len(stale)

    def __contains__(self, key: str) -> bool:
        return self._paths(key)[0].exists()

    def records(self) -> Iterator[tuple[dict, Any]]:
        """Every readable record as ``(record without its result, result)``, in key order (plots, reports)."""
        for js in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            found = self._record(js.stem)
            if found is not None:
                record, result = found
                yield {k: v for k, v in record.items() if k != "result"}, result
