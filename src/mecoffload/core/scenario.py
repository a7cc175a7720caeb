"""The engine-independent scenario base: pydantic models, TOML presets, ``--set`` overrides and
the one validation-error format. Every engine's scenario (the MEC simulator's
:class:`mecoffload.sim.scenario.Scenario`, the three-tier and EdgeCloudSim scenarios) is built on it.

API
---
``Section``
    pydantic base of every part of a scenario: unknown fields are an error (``extra="forbid"``),
    instances are immutable (``frozen``), types are strict (``strict``: no bool for an int or a
    float, no string for a number, no float for an int; a TOML/JSON list is accepted for a tuple)
    and floats are finite (``allow_inf_nan=False``: NaN and ±inf are refused). Put units in field
    names (``_s``, ``_ghz``, ``_mbit``) and bounds in ``Field(ge=, le=, gt=)``: the error message
    quotes them; every number should have both bounds.
``ScenarioModel(Section)``
    base of a top-level scenario. ``LABEL`` (class variable, default ``"scenario"``) names it in
    messages. ``model.with_overrides(["edge.count=11"] | {"edge.count": 11} | None)`` returns a
    validated copy.
``load_model(model_cls, source, overrides=None, presets=None) -> model``
    the one loader: ``source`` is a preset name of ``presets = (package, folder)`` (TOML files
    shipped as package data, e.g. ``("mecoffload", "scenarios")``) or a path to a ``.toml`` file;
    then ``overrides`` are applied. ``name`` defaults to the preset name or the file's stem. A file
    that sets nothing but ``name``/``description`` (e.g. an empty one) is an error, not the
    built-in defaults.
``preset_names(package, folder) -> list[str]``
    the sorted preset names of a folder of TOML files.
``read_toml(path, label="scenario") -> dict``
    read a TOML file; a missing file, a folder, a FIFO or device, a file over ``MAX_TOML_BYTES``,
    bytes that are not UTF-8 and text that is not TOML are each one line (``ScenarioError``).
``load_preset(name_or_path, package, folder, label) -> dict``
    the raw dict of a preset or a TOML file (``name`` set), before validation.
``validate_model(model_cls, data, label=model_cls.LABEL, where=None) -> model``
    pydantic validation whose failure is one ``ScenarioError`` line:
    ``[WHERE: ]invalid LABEL field 'a.b' = VALUE: MESSAGE (allowed: lo <= a.b <= hi)``,
    the value echoed in at most ~80 characters.
``check_lo_hi(v, upper, unit, zero_ok=False)``
    the field validator of ``[lo, hi]`` ranges (0 < lo <= hi <= upper; ``0 <= lo`` with
    ``zero_ok=True``).
``override_model(obj, overrides, label) -> obj``
    what ``with_overrides`` does, for any pydantic model.
``parse_assignment("a.b=VALUE") -> ("a.b", value)``, ``parse_overrides(list | dict | None) -> dict``,
``set_path(data, "a.0.b", value, label)``, ``apply_overrides(data, overrides, label) -> data``
    the pieces of ``--set``: VALUE is JSON when it parses (numbers, lists, booleans), else a
    string; list items are addressed by index.

Every error is a :class:`mecoffload.core.errors.ScenarioError` (a ``UserError``: one line, exit 2).

Example, an engine's scenario::

    class TierScenario(ScenarioModel):
        LABEL: ClassVar[str] = "tier scenario"
        sim: SimSpec = SimSpec()              # each part a Section

    def load_tier_scenario(source: str, overrides: Overrides = None) -> TierScenario:
        return load_model(TierScenario, source, overrides, presets=("mecoffload.tiers", "presets"))
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import ScenarioError, clip
from .files import MAX_INPUT_BYTES, read_user_bytes

M = TypeVar("M", bound=BaseModel)
Overrides = dict[str, Any] | list[str] | None

MAX_TOML_BYTES = MAX_INPUT_BYTES
"""a scenario file larger than this (16 MiB) is refused before it is read"""


class Section(BaseModel):
    """A part of a scenario: unknown fields are an error, instances are immutable, types are
    strict and floats finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _lists_to_tuples(cls, data: Any) -> Any:
        """A TOML or JSON list for a ``tuple`` field (``size_mbit = [2, 5]``): strict mode wants a tuple."""
        names = _tuple_fields(cls)
        if isinstance(data, dict) and any(isinstance(data.get(k), list) for k in names):
            data = {k: tuple(v) if k in names and isinstance(v, list) else v for k, v in data.items()}
        return data


@cache
def _tuple_fields(cls: type[BaseModel]) -> frozenset[str]:
    return frozenset(k for k, f in cls.model_fields.items() if get_origin(f.annotation) is tuple)


class ScenarioModel(Section):
    """A top-level scenario; ``LABEL`` names it in error messages."""

    LABEL: ClassVar[str] = "scenario"

    def with_overrides(self, overrides: Overrides):
        """A validated copy with dotted-path overrides (``{"edge.count": 11}`` or ``["edge.count=11"]``)."""
        return override_model(self, overrides, self.LABEL)


def check_lo_hi(v: tuple[float, float], upper: float, unit: str, zero_ok: bool = False) -> tuple[float, float]:
    """A field validator for ``[lo, hi]`` ranges: 0 < lo <= hi <= upper (0 <= lo with ``zero_ok``;
    ``unit`` in the message)."""
    lo, hi = v
    if not ((0 <= lo if zero_ok else 0 < lo) and lo <= hi <= upper):
        rel = "<=" if zero_ok else "<"
        raise ValueError(f"need [lo, hi] with 0 {rel} lo <= hi <= {upper:g} {unit} (got [{clip(lo, 30)}, {clip(hi, 30)}])")
    return v


# ---------------------------------------------------------------------- overrides


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``a.b=value``; value is JSON when it parses (numbers, lists, booleans), else a string."""
    if "=" not in text:
        raise ScenarioError(f"override '{clip(text)}': expected FIELD=VALUE, e.g. edge.count=11")
    path, raw = text.split("=", 1)
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return path.strip(), value


def parse_overrides(overrides: Overrides) -> dict[str, Any]:
    """``["a.b=1", ...]`` or ``{"a.b": 1}`` or None -> ``{"a.b": 1}``."""
    if not overrides:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    return dict(parse_assignment(s) for s in overrides)


def set_path(data: dict, path: str, value: Any, label: str = "scenario") -> None:
    """Set a dotted path in nested dicts/lists (list items by index: ``apps.0.max_delay_s``)."""
    keys = path.split(".")
    node: Any = data
    for i, key in enumerate(keys):
        where = clip(".".join(keys[: i + 1]))
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ScenarioError(f"unknown {label} field '{where}' (index 0..{len(node) - 1})")
            key = int(key)
        elif not isinstance(node, dict) or key not in node:
            allowed = clip(", ".join(sorted(map(str, node))), 200) if isinstance(node, dict) else "(none)"
            raise ScenarioError(f"unknown {label} field '{where}' (allowed here: {allowed})")
        if i == len(keys) - 1:
            node[key] = value
        else:
            node = node[key]


def apply_overrides(data: dict, overrides: Overrides, label: str = "scenario") -> dict:
    """Apply every override to ``data`` in place and return it."""
    for path, value in parse_overrides(overrides).items():
        set_path(data, path, value, label)
    return data


def override_model(obj: M, overrides: Overrides, label: str = "scenario") -> M:
    """A validated copy of ``obj`` with ``overrides`` applied (``obj`` itself when there are none)."""
    if not overrides:
        return obj
    return validate_model(type(obj), apply_overrides(obj.model_dump(), overrides, label), label)


# ---------------------------------------------------------------------- validation


def _echo(value: Any) -> str:
    """The user's value for a message, at most ~80 characters (a huge list is never rendered whole)."""
    if isinstance(value, (list, tuple)):
        value = list(value[:20])
    if isinstance(value, (int, float, str, list, bool)) or value is None:
        try:
            return clip(json.dumps(value))
        except (TypeError, ValueError):
            pass
    return "…"


def validate_model(model: type[M], data: dict, label: str | None = None, where: str | None = None) -> M:
    """Validate ``data`` against a pydantic model; a failure becomes a one-line ScenarioError
    naming the dotted field, the value and the allowed range (``label`` defaults to ``model.LABEL``)."""
    label = getattr(model, "LABEL", "scenario") if label is None else label
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = clip(".".join(str(p) for p in err["loc"]))
        msg = " ".join(err["msg"].removeprefix("Value error, ").split())
        head = f"{where}: " if where else ""
        kind = f"{label} field" if label else "field"
        got = err.get("input")
        value = "" if isinstance(got, dict) else f" = {_echo(got)}"  # a section-level rule names its fields
        if not loc:  # a rule of the whole model (e.g. warm-up < horizon): the message names its fields
            raise ScenarioError(f"{head}invalid {label or 'value'}: {clip(msg, 300)}") from None
        raise ScenarioError(f"{head}invalid {kind} '{loc}'{value}: {clip(msg, 300)}{_bounds(err['loc'], model)}") from None


def _bounds(loc: tuple, model: Any) -> str:
    """' (allowed: lo <= field <= hi)' from the pydantic Field constraints, if any (list items
    ``apps.0.x`` and constrained items ``list[Annotated[float, Field(gt=0)]]`` included)."""
    meta: list = []
    description = None
    for part in loc:
        if isinstance(part, int):  # an item of a list (or tuple) field
            args = get_args(model)
            if not args:
                return ""
            model = args[0]
            if get_origin(model) is Annotated:
                model, *extra = get_args(model)
                meta = [m for e in extra for m in getattr(e, "metadata", [e])]
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return ""
        info = fields[part]
        model, meta, description = info.annotation, list(info.metadata), info.description
    lo = next((v for m in meta for v in (getattr(m, "ge", None), getattr(m, "gt", None)) if v is not None), None)
    hi = next((v for m in meta for v in (getattr(m, "le", None), getattr(m, "lt", None)) if v is not None), None)
    strict_lo = any(getattr(m, "gt", None) is not None for m in meta)
    name = clip(".".join(str(p) for p in loc))
    if lo is not None and hi is not None:
        return f" (allowed: {_num(lo)} {'<' if strict_lo else '<='} {name} <= {_num(hi)})"
    return f" ({description})" if description else ""


def _num(v: float) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


# ---------------------------------------------------------------------- files and presets


def read_toml(path: str | Path, label: str = "scenario") -> dict:
    """Read a TOML file as a dict; every problem with the file is one ScenarioError line."""
    head = f"{label} file '{clip(path)}'"
    raw = read_user_bytes(path, head, ScenarioError, MAX_TOML_BYTES, "TOML file")
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark is harmless
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{head}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    return parse_toml(text, head)


def parse_toml(text: str, head: str) -> dict:
    """``tomllib.loads`` whose failure is one line starting with ``head``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{head}: not valid TOML ({clip(' '.join(str(exc).split()), 200)})") from None


def preset_names(package: str, folder: str) -> list[str]:
    """Sorted names of the ``*.toml`` presets shipped in ``package/folder``."""
    files = resources.files(package).joinpath(folder)
    return sorted(p.name.removesuffix(".toml") for p in files.iterdir() if p.name.endswith(".toml"))


def _is_path(source: str, names: list[str]) -> bool:
    if source in names:
        return False
    if source.endswith(".toml") or "/" in source or "\\" in source:
        return True
    try:
        return Path(source).exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return True


def load_preset(name_or_path: str, package: str, folder: str, label: str = "scenario") -> dict:
    """Read a built-in TOML preset of ``package/folder`` by name, or a TOML file by path, as a dict
    (with ``name`` set to the preset name or the file's stem unless the file gives one)."""
    names = preset_names(package, folder)
    source = str(name_or_path)
    if source.strip() and _is_path(source, names):
        data = read_toml(source, label)
        data.setdefault("name", Path(source).stem)
        return data
    if source not in names:
        raise ScenarioError(f"unknown {label} '{clip(source)}' (allowed: {', '.join(names)}, or a path to a .toml file)")
    text = resources.files(package).joinpath(folder, f"{source}.toml").read_text(encoding="utf-8")
    data = parse_toml(text, f"{label} preset '{source}'")
    data.setdefault("name", source)
    return data


def load_model(model: type[M], source: str | Path, overrides: Overrides = None,
               presets: tuple[str, str] | None = None) -> M:
    """Load ``model`` from a preset name (``presets = (package, folder)``) or a TOML path, validate it,
    then apply ``overrides``. The label in messages is ``model.LABEL`` (default ``"scenario"``)."""
    label = getattr(model, "LABEL", "scenario")
    if presets is not None:
        data = load_preset(str(source), *presets, label=label)
    else:
        data = read_toml(source, label)
        if "name" in model.model_fields:
            data.setdefault("name", Path(source).stem)
    check_not_empty(model, data, f"{label} file '{clip(source)}'", label)
    return override_model(validate_model(model, data, label), overrides, label)


INFO_FIELDS = frozenset({"name", "description", "source"})
"""fields that describe a scenario without setting any of its numbers"""


def check_not_empty(model: type[BaseModel], data: dict, head: str, label: str = "scenario") -> None:
    """A file that sets none of ``model``'s fields besides ``name``/``description`` (an empty file,
    a file of comments) is an error: it would silently run the built-in defaults."""
    if all(k in INFO_FIELDS for k in data):
        sections = ", ".join(f"[{k}]" for k in model.model_fields if k not in INFO_FIELDS)
        raise ScenarioError(f"{head}: sets no {label} field (an empty file is not the built-in defaults); "
                            f"give at least one of {sections}")
