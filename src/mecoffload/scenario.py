"""Scenario: every constant of an MEC system, validated by pydantic.

Built-in presets live as TOML files in ``mecoffload/scenarios/``. Any field can be
overridden with a dotted path (``edge.count=11``, ``task.size_mbit=[6,6]``).
Units are in the field names (``_s`` seconds, ``_ghz``, ``_mbit``, ``_mhz``, ``_db``...).
"""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ScenarioError(ValueError):
    """A scenario could not be loaded or validated; the message is one line for the user."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimSection(_Section):
    slot_s: float = Field(0.1, gt=0, le=60, description="slot length Δt in seconds")
    horizon_slots: int = Field(100, ge=1, le=1_000_000, description="decision slots per episode")
    history_slots: int = Field(5, ge=1, le=64, description="length of the per-server load history in the observation")


class UsersSection(_Section):
    count: int = Field(10, ge=1, le=10_000, description="number of mobile users U")
    cpu_ghz: float = Field(2.0, gt=0, le=100, description="local CPU frequency f_loc in GHz")
    kappa: float = Field(1e-28, ge=0, le=1e-20, description="effective switched capacitance κ (J/cycle/Hz²): local energy = κ·f²·cycles")
    tx_power_w: float = Field(0.2, gt=0, le=10, description="uplink transmit power P in W (rate, eq 1, and upload energy)")
    area_m: float = Field(400.0, gt=0, le=100_000, description="users and servers are placed uniformly in a square of this side (m)")


class EdgeSection(_Section):
    count: int = Field(6, ge=1, le=64, description="number of edge servers E")
    cpu_ghz: tuple[float, float] = Field((20.0, 48.0), description="F_e ~ U[lo, hi] GHz, drawn per episode")
    placement: Literal["random", "grid"] = Field("random", description="server positions: uniform random or a regular grid")

    @field_validator("cpu_ghz")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not (0 < lo <= hi <= 10_000):
            raise ValueError(f"need [lo, hi] with 0 < lo <= hi <= 10000 GHz (got [{lo}, {hi}])")
        return v


class ChannelSection(_Section):
    bandwidth_mhz: float = Field(10.0, gt=0, le=10_000, description="channel bandwidth B in MHz (eq 1)")
    snr_ref_db: float = Field(10.0, ge=-50, le=80, description="mean received SNR P·g0/σ² at the reference distance, dB")
    ref_distance_m: float = Field(100.0, gt=0, le=100_000, description="reference distance d0 in m")
    path_loss_exp: float = Field(3.0, ge=0, le=8, description="path-loss exponent α: mean SNR ∝ (max(d,1 m)/d0)^-α")
    fading: Literal["rayleigh", "none"] = Field("rayleigh", description="block fading of |h|² per slot (Rayleigh ⇒ Exp(1))")


class TaskSection(_Section):
    size_mbit: tuple[float, float] = Field((2.0, 5.0), description="task input size D ~ U[lo, hi] Mbit")
    density_gcycles_per_mbit: float = Field(0.297, gt=0, le=1000, description="computational density γ in Gcycles/Mbit (= kcycles/bit)")
    deadline_slots: int = Field(10, ge=1, le=10_000, description="deadline τ_max in slots")
    arrival: Literal["poisson", "bernoulli"] = Field("poisson", description="per user per slot: Poisson count or one task with probability rate")
    rate: float = Field(0.3, gt=0, le=20, description="λ_p: mean tasks per user per slot (probability for bernoulli)")

    @field_validator("size_mbit")
    @classmethod
    def _size(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not (0 < lo <= hi <= 100_000):
            raise ValueError(f"need [lo, hi] with 0 < lo <= hi <= 100000 Mbit (got [{lo}, {hi}])")
        return v

    @model_validator(mode="after")
    def _check(self) -> "TaskSection":
        if self.arrival == "bernoulli" and self.rate > 1:
            raise ValueError(f"task.rate is a probability for bernoulli arrivals: 0 < task.rate <= 1 (got {self.rate})")
        return self


class CostSection(_Section):
    deadline_penalty_slots: float = Field(10.0, ge=0, le=1e6, description="ρ in eq 11, in slots")
    allow_local: bool = Field(True, description="whether action 0 (local execution) is allowed")


class LacsSection(_Section):
    k: int = Field(3, ge=1, le=64, description="K sampled future tasks (eq 23)")
    weight: float = Field(0.3, ge=0, le=100, description="λ in eq 26")
    future_size_lo: float = Field(0.5, gt=0, le=10, description="future size ~ U[lo·D, hi·D] (eq 23)")
    future_size_hi: float = Field(1.5, gt=0, le=10, description="see future_size_lo")


class Scenario(_Section):
    name: str = "custom"
    description: str = ""
    sim: SimSection = SimSection()
    users: UsersSection = UsersSection()
    edge: EdgeSection = EdgeSection()
    channel: ChannelSection = ChannelSection()
    task: TaskSection = TaskSection()
    cost: CostSection = CostSection()
    lacs: LacsSection = LacsSection()

    def with_overrides(self, overrides: dict[str, Any] | list[str] | None) -> "Scenario":
        """Return a copy with dotted-path overrides applied (``{"edge.count": 11}`` or ``["edge.count=11"]``)."""
        if not overrides:
            return self
        if isinstance(overrides, list):
            overrides = dict(parse_assignment(s) for s in overrides)
        data = self.model_dump()
        for path, value in overrides.items():
            set_path(data, path, value)
        return validate_scenario(data)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``a.b=value``; value is JSON when it parses (numbers, lists, booleans), else a string."""
    if "=" not in text:
        raise ScenarioError(f"override '{text}': expected FIELD=VALUE, e.g. edge.count=11")
    path, raw = text.split("=", 1)
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return path.strip(), value


def set_path(data: dict, path: str, value: Any, label: str = "scenario") -> None:
    """Set a dotted path in nested dicts/lists (list items by index: ``apps.0.max_delay_s``)."""
    keys = path.split(".")
    node: Any = data
    for i, key in enumerate(keys):
        where = ".".join(keys[: i + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ScenarioError(f"unknown {label} field '{where}' (index 0..{len(node) - 1})")
            key = int(key)
        elif not isinstance(node, dict) or key not in node:
            allowed = ", ".join(sorted(node)) if isinstance(node, dict) else "(none)"
            raise ScenarioError(f"unknown {label} field '{where}' (allowed here: {allowed})")
        if i == len(keys) - 1:
            node[key] = value
        else:
            node = node[key]



def validate_scenario(data: dict) -> Scenario:
    return validate_model(Scenario, data)


def validate_model(model: Any, data: dict, label: str = "scenario") -> Any:
    """Validate ``data`` against a pydantic model; a failure becomes a one-line ScenarioError
    naming the dotted field, the value and the allowed range."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        got = err.get("input")
        got_s = json.dumps(got) if isinstance(got, (int, float, str, list, bool)) else "…"
        msg = err["msg"].removeprefix("Value error, ")
        bounds = _bounds(err["loc"], model)
        raise ScenarioError(f"invalid {label} field '{loc or label}' = {got_s}: {msg}{bounds}") from None


def _bounds(loc: tuple, model: Any = None) -> str:
    """' (allowed: lo <= field <= hi)' from the pydantic Field constraints, if any."""
    model = Scenario if model is None else model
    info = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            break
        info = fields[part]
        model = info.annotation
    else:
        if info is None:
            return ""
        lo = hi = None
        for m in info.metadata:
            lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else (getattr(m, "gt", None) if lo is None else lo)
            hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else (getattr(m, "lt", None) if hi is None else hi)
        strict_lo = any(getattr(m, "gt", None) is not None for m in info.metadata)
        name = ".".join(str(p) for p in loc)
        if lo is not None and hi is not None:
            return f" (allowed: {lo} {'<' if strict_lo else '<='} {name} <= {hi})"
        if info.description:
            return f" ({info.description})"
    return ""


def preset_names() -> list[str]:
    files = resources.files("mecoffload").joinpath("scenarios")
    return sorted(p.name.removesuffix(".toml") for p in files.iterdir() if p.name.endswith(".toml"))


def load_preset(name_or_path: str, package: str, folder: str, label: str) -> dict:
    """Read a built-in TOML preset of ``package/folder`` by name, or a TOML file by path, as a dict
    (with ``name`` set); unknown names and bad TOML raise a one-line ScenarioError."""
    from pathlib import Path

    path = Path(name_or_path)
    files = resources.files(package).joinpath(folder)
    names = sorted(p.name.removesuffix(".toml") for p in files.iterdir() if p.name.endswith(".toml"))
    if path.suffix == ".toml" and path.exists():
        text = path.read_text()
    elif name_or_path in names:
        text = files.joinpath(f"{name_or_path}.toml").read_text()
    else:
        raise ScenarioError(f"unknown {label} '{name_or_path}' (allowed: {', '.join(names)}, or a path to a .toml file)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label} file {name_or_path}: {exc}") from None
    data.setdefault("name", path.stem if path.suffix == ".toml" else name_or_path)
    return data


def load_scenario(name_or_path: str, overrides: dict[str, Any] | list[str] | None = None) -> Scenario:
    """Load a built-in preset by name, or a TOML file by path, then apply overrides."""
    data = load_preset(name_or_path, "mecoffload", "scenarios", "scenario")
    return validate_scenario(data).with_overrides(overrides)
