"""The MEC simulator's scenario: every constant of an MEC system, validated by pydantic.

Built on the engine-independent base :mod:`mecoffload.core.scenario` (TOML presets, ``--set``
overrides, one-line validation errors). Built-in presets live as TOML files in
``mecoffload/scenarios/``. Any field can be overridden with a dotted path (``edge.count=11``,
``task.size_mbit=[6,6]``). Units are in the field names (``_s`` seconds, ``_ghz``, ``_mbit``,
``_mhz``, ``_db``...).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, PrivateAttr, field_validator, model_validator

from ..core.scenario import Overrides, ScenarioModel, Section, check_lo_hi, load_model, validate_model
from ..core.scenario import preset_names as _preset_names
from .arrivals import MAX_PERIOD_SLOTS, RATE_MAX, read_rate_csv

PRESETS = ("mecoffload", "scenarios")
"""(package, folder) of the built-in presets"""


class SimSection(Section):
    slot_s: float = Field(0.1, gt=0, le=60, description="slot length Δt in seconds")
    horizon_slots: int = Field(100, ge=1, le=1_000_000, description="decision slots per episode")
    history_slots: int = Field(5, ge=1, le=64, description="length of the per-server load history in the observation")
    service: Literal["continuous", "slotted"] = Field(
        "continuous", description="queue service: continuous (spare capacity passes on within the slot) or slotted "
                                  "(one task per queue per slot, leftover capacity lost; docs/mec-engine.md)")


class UsersSection(Section):
    count: int = Field(10, ge=1, le=10_000, description="number of mobile users U")
    cpu_ghz: float = Field(2.0, gt=0, le=100, description="local CPU frequency f_loc in GHz")
    kappa: float = Field(1e-28, ge=0, le=1e-20, description="effective switched capacitance κ (J/cycle/Hz²): local energy = κ·f²·cycles")
    tx_power_w: float = Field(0.2, gt=0, le=10, description="uplink transmit power P in W (rate, eq 1, and upload energy)")
    area_m: float = Field(400.0, gt=0, le=100_000, description="users and servers are placed uniformly in a square of this side (m)")


class EdgeSection(Section):
    count: int = Field(6, ge=1, le=64, description="number of edge servers E")
    cpu_ghz: tuple[float, float] = Field((20.0, 48.0), description="F_e ~ U[lo, hi] GHz, drawn per episode")
    placement: Literal["random", "grid"] = Field("random", description="server positions: uniform random or a regular grid")

    @field_validator("cpu_ghz")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        return check_lo_hi(v, 10_000, "GHz")


class ChannelSection(Section):
    bandwidth_mhz: float = Field(10.0, gt=0, le=10_000, description="channel bandwidth B in MHz (eq 1)")
    snr_ref_db: float = Field(10.0, ge=-50, le=80, description="mean received SNR P·g0/σ² at the reference distance, dB")
    ref_distance_m: float = Field(100.0, gt=0, le=100_000, description="reference distance d0 in m")
    path_loss_exp: float = Field(3.0, ge=0, le=8, description="path-loss exponent α: mean SNR ∝ (max(d,1 m)/d0)^-α")
    fading: Literal["rayleigh", "none"] = Field("rayleigh", description="block fading of |h|² per slot (Rayleigh ⇒ Exp(1))")
    fixed_rate_mbps: float | None = Field(
        None, gt=0, le=100_000, description="when set, every uplink runs at exactly this rate (Mbit/s): no fading, no path loss")


# ---------------------------------------------------------------------- arrival-rate schedules
# ``task.rate`` is a number (a constant rate) or one of these tables (``[task.rate]`` with ``kind``).
# Every rate is in tasks per user per slot; sim/arrivals.py turns them into per-slot rates.


class PiecewiseRate(Section):
    """Piecewise-constant rate: ``rates[i]`` for ``slots[i]`` slots, in turn; then it repeats."""

    kind: Literal["piecewise"] = "piecewise"
    rates: tuple[float, ...] = Field(min_length=1, max_length=10_000, description="rate of each piece (tasks/user/slot)")
    slots: tuple[int, ...] = Field(min_length=1, max_length=10_000, description="length of each piece (slots)")

    @model_validator(mode="after")
    def _check(self) -> "PiecewiseRate":
        if len(self.rates) != len(self.slots):
            raise ValueError(f"task.rate.rates and task.rate.slots need the same length (got {len(self.rates)} and {len(self.slots)})")
        _check_rates(self.rates, "task.rate.rates")
        if min(self.slots) < 1 or sum(self.slots) > MAX_PERIOD_SLOTS:
            raise ValueError(f"need every task.rate.slots >= 1 and their sum <= {MAX_PERIOD_SLOTS} (got {min(self.slots)}, sum {sum(self.slots)})")
        return self

    def mean_rate(self) -> float:
        return float(np.dot(self.rates, self.slots) / sum(self.slots))

    def peak_rate(self) -> float:
        return max(self.rates)


class OnOffRate(Section):
    """Two-state Markov-modulated (on/off) rate; each sojourn is geometric with the given mean (slots)."""

    kind: Literal["onoff"] = "onoff"
    on: float = Field(gt=0, le=RATE_MAX, description="rate in the on (burst) state, tasks/user/slot")
    off: float = Field(ge=0, le=RATE_MAX, description="rate in the off state, tasks/user/slot")
    mean_on_slots: float = Field(ge=1, le=1e6, description="mean length of an on period (slots)")
    mean_off_slots: float = Field(ge=1, le=1e6, description="mean length of an off period (slots)")
    scope: Literal["env", "user"] = Field("env", description="one on/off state per environment (all its users burst "
                                                             "together) or one per user")

    @model_validator(mode="after")
    def _check(self) -> "OnOffRate":
        if self.off > self.on:
            raise ValueError(f"need task.rate.off <= task.rate.on (got {self.off} > {self.on})")
        return self

    def on_fraction(self) -> float:
        """Stationary probability of the on state."""
        return self.mean_on_slots / (self.mean_on_slots + self.mean_off_slots)

    def mean_rate(self) -> float:
        q = self.on_fraction()
        return q * self.on + (1 - q) * self.off

    def peak_rate(self) -> float:
        return self.on


class DiurnalRate(Section):
    """Sinusoidal rate ``mean + amplitude·sin(2π(t + phase_slots)/period_slots)`` in slot t."""

    kind: Literal["diurnal"] = "diurnal"
    mean: float = Field(gt=0, le=RATE_MAX, description="mean rate, tasks/user/slot")
    amplitude: float = Field(ge=0, le=RATE_MAX, description="amplitude, tasks/user/slot (<= mean)")
    period_slots: int = Field(ge=2, le=MAX_PERIOD_SLOTS, description="period (slots)")
    phase_slots: int = Field(0, ge=0, le=MAX_PERIOD_SLOTS, description="phase shift (slots)")

    @model_validator(mode="after")
    def _check(self) -> "DiurnalRate":
        if self.amplitude > self.mean or self.mean + self.amplitude > RATE_MAX:
            raise ValueError(f"need 0 <= task.rate.amplitude <= task.rate.mean and mean + amplitude <= {RATE_MAX:g} "
                             f"(got mean {self.mean}, amplitude {self.amplitude})")
        return self

    def mean_rate(self) -> float:
        return self.mean

    def peak_rate(self) -> float:
        return self.mean + self.amplitude


class CsvRate(Section):
    """Per-slot rates from a CSV file: row i is slot i (the last field of each row); then it repeats."""

    kind: Literal["csv"] = "csv"
    path: str = Field(min_length=1, max_length=4096, description="CSV file of per-slot rates (relative to the working directory)")
    _rates: np.ndarray = PrivateAttr()

    def model_post_init(self, context: Any) -> None:
        self._rates = read_rate_csv(self.path)  # one-line ValueError on any problem

    @property
    def rates(self) -> np.ndarray:
        """(period,) per-slot rates, tasks/user/slot (read-only)."""
        return self._rates

    def mean_rate(self) -> float:
        return float(self._rates.mean())

    def peak_rate(self) -> float:
        return float(self._rates.max())


RateSchedule = PiecewiseRate | OnOffRate | DiurnalRate | CsvRate
RATE_SCHEDULES: dict[str, type[Section]] = {"piecewise": PiecewiseRate, "onoff": OnOffRate, "diurnal": DiurnalRate,
                                            "csv": CsvRate}
"""``task.rate.kind`` -> its table"""


def _check_rates(rates, name: str) -> None:
    if min(rates) < 0 or max(rates) > RATE_MAX or max(rates) <= 0:
        raise ValueError(f"need 0 <= {name} <= {RATE_MAX:g} tasks per user per slot, not all 0 "
                         f"(got min {min(rates)}, max {max(rates)})")


class TaskSection(Section):
    size_mbit: tuple[float, float] = Field((2.0, 5.0), description="task input size D ~ U[lo, hi] Mbit")
    density_gcycles_per_mbit: float = Field(0.297, gt=0, le=1000, description="computational density γ in Gcycles/Mbit (= kcycles/bit)")
    deadline_slots: int = Field(10, ge=1, le=10_000, description="deadline τ_max in slots")
    arrival: Literal["poisson", "bernoulli"] = Field("poisson", description="per user per slot: Poisson count or one task with probability rate")
    # λ_p: tasks per user per slot (a probability for bernoulli), or a [task.rate] schedule table; no
    # description, so that a schedule's own one-line error is not followed by this field's help
    rate: float | RateSchedule = 0.3

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, v: Any) -> Any:
        """A number in (0, 20], or a schedule table validated by its ``kind`` (one-line errors)."""
        if isinstance(v, tuple(RATE_SCHEDULES.values())):
            return v
        if isinstance(v, dict):
            model = RATE_SCHEDULES.get(v.get("kind")) if isinstance(v.get("kind"), str) else None
            if model is None:
                raise ValueError(f"a schedule needs task.rate.kind, one of: {', '.join(RATE_SCHEDULES)} "
                                 f"(got {str(v.get('kind'))[:40]!r})")
            return validate_model(model, v, label="schedule")  # a ScenarioError is a ValueError: one line
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= RATE_MAX:
            raise ValueError(f"need 0 < task.rate <= {RATE_MAX:g} tasks per user per slot, or a [task.rate] table "
                             f"with kind = {' | '.join(RATE_SCHEDULES)}")
        return float(v)

    @field_validator("size_mbit")
    @classmethod
    def _size(cls, v: tuple[float, float]) -> tuple[float, float]:
        return check_lo_hi(v, 100_000, "Mbit")

    @model_validator(mode="after")
    def _check(self) -> "TaskSection":
        if self.arrival == "bernoulli" and self.peak_rate > 1:
            raise ValueError(f"task.rate is a probability for bernoulli arrivals: 0 < task.rate <= 1 (got {self.peak_rate} at its peak)")
        return self

    @property
    def mean_rate(self) -> float:
        """Long-run mean λ_p (tasks per user per slot) of the rate or its schedule."""
        return self.rate if isinstance(self.rate, float) else self.rate.mean_rate()

    @property
    def peak_rate(self) -> float:
        """Largest per-slot rate of the rate or its schedule (tasks per user per slot)."""
        return self.rate if isinstance(self.rate, float) else self.rate.peak_rate()


class CostSection(Section):
    deadline_penalty_slots: float = Field(10.0, ge=0, le=1e6, description="ρ in eq 11, in slots")
    allow_local: bool = Field(True, description="whether action 0 (local execution) is allowed")
    model: Literal["paper", "queue"] = Field(
        "paper", description="estimated-cost model of the policies and of AL/TDR/PR: 'paper' (seed 001 eqs 2-8) or "
                             "'queue' (queue-aware: own uplink FIFO, mean link rate, slot hand-over, tasks in service)")
    allow_reject: bool = Field(False, description="admission control: action E+1 rejects a task at decision time "
                                                  "(dropped with reason 'rejected', frees its queue)")


class LacsSection(Section):
    k: int = Field(3, ge=1, le=64, description="K sampled future tasks (eq 23)")
    weight: float = Field(0.3, ge=0, le=100, description="λ in eq 26")
    future_size_lo: float = Field(0.5, gt=0, le=10, description="future size ~ U[lo·D, hi·D] (eq 23)")
    future_size_hi: float = Field(1.5, gt=0, le=10, description="see future_size_lo")

    @model_validator(mode="after")
    def _check(self) -> "LacsSection":
        if self.future_size_lo > self.future_size_hi:
            raise ValueError(f"need lacs.future_size_lo <= lacs.future_size_hi (got {self.future_size_lo} > {self.future_size_hi})")
        return self


DNN_NETWORKS = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "vit_b_16")
"""the shipped layer profiles (``mecoffload.dnn.profiles.NETWORKS``)"""
DNN_SERVERS = ("titanx", "t4", "xeon")
"""server classes of ``mecoffload.dnn.devices.SERVERS``"""
DNN_VARIANTS = ("fp32", "int8", "pruned")
"""model variants of ``mecoffload.dnn.variants.VARIANTS``"""


class DnnSection(Section):
    """The DNN-split task family (docs/dnn.md): each task is one inference of a network, split between
    the device and one edge server. Replaces the device CPU, the server rates, the channel and the
    task sizes of the generic MEC model by the layer profiles and the device / server / uplink tables."""

    networks: tuple[str, ...] = Field(DNN_NETWORKS, min_length=1, max_length=6,
                                      description="networks of the tasks (drawn uniformly per task): " + ", ".join(DNN_NETWORKS))
    device: Literal["tk1", "rpi4", "jetson-nano"] = Field("tk1", description="device class of every user")
    servers: tuple[str, ...] = Field(("titanx",), min_length=1, max_length=64,
                                     description="server class of each edge server (one entry: all of them): "
                                                 + ", ".join(DNN_SERVERS))
    uplink: Literal["3g", "lte", "wifi"] = Field("wifi", description="uplink: Neurosurgeon's throughput and Huang's "
                                                                     "radio power model (channel.fixed_rate_mbps overrides the rate)")
    activation: Literal["fp32", "int8"] = Field("fp32", description="bytes per element of the uploaded activation")
    variants: tuple[str, ...] = Field(("fp32",), min_length=1, max_length=3,
                                      description="model variants a task may run (the action's v, in this order): "
                                                  + ", ".join(DNN_VARIANTS))
    max_top1_loss: float = Field(1.0, ge=0, le=100, description="per-task minimum accuracy: a task runs only variants "
                                 "whose published top-1 is at most this many points below its network's fp32 top-1")

    @field_validator("networks")
    @classmethod
    def _networks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in v if n not in DNN_NETWORKS]
        if bad or len(set(v)) != len(v):
            raise ValueError(f"dnn.networks: distinct names from {', '.join(DNN_NETWORKS)} (got {', '.join(v)[:80]})")
        return v

    @field_validator("variants")
    @classmethod
    def _variants(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(n not in DNN_VARIANTS for n in v) or len(set(v)) != len(v):
            raise ValueError(f"dnn.variants: distinct names from {', '.join(DNN_VARIANTS)} (got {', '.join(v)[:80]})")
        return v

    @field_validator("servers")
    @classmethod
    def _servers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in v if n not in DNN_SERVERS]
        if bad:
            raise ValueError(f"dnn.servers: each one of {', '.join(DNN_SERVERS)} (got '{bad[0][:40]}')")
        return v


class Scenario(ScenarioModel):
    """An MEC system: simulation, users, edge servers, channel, tasks, cost and the LACS planner."""

    name: str = Field("custom", max_length=200)
    description: str = Field("", max_length=2000)
    sim: SimSection = SimSection()
    users: UsersSection = UsersSection()
    edge: EdgeSection = EdgeSection()
    channel: ChannelSection = ChannelSection()
    task: TaskSection = TaskSection()
    cost: CostSection = CostSection()
    lacs: LacsSection = LacsSection()
    dnn: DnnSection | None = None

    @model_validator(mode="after")
    def _dnn(self) -> "Scenario":
        if self.dnn is None:
            return self
        if len(self.dnn.servers) not in (1, self.edge.count):
            raise ValueError(f"dnn.servers: one class, or one per server (edge.count = {self.edge.count}; "
                             f"got {len(self.dnn.servers)})")
        if self.cost.allow_reject:
            raise ValueError("cost.allow_reject: not available for DNN-split tasks (must be false)")
        return self


def validate_scenario(data: dict[str, Any]) -> Scenario:
    """Validate a scenario dict (one-line ScenarioError on failure)."""
    return validate_model(Scenario, data)


def preset_names() -> list[str]:
    """Names of the built-in presets (``mecoffload scenarios``)."""
    return _preset_names(*PRESETS)


def load_scenario(name_or_path: str, overrides: Overrides = None) -> Scenario:
    """Load a built-in preset by name, or a TOML file by path, then apply overrides."""
    return load_model(Scenario, name_or_path, overrides, PRESETS)


def evaluation_memory_bytes(sc: Scenario, episodes: int, policies: int = 1) -> int:
    """Rough upper estimate (bytes) of the large arrays of an evaluation of ``policies`` policies on
    ``episodes`` episodes (one batch; policies run one after the other). Per episode: the (U, E)
    channel arrays (7 float64 each: distance, mean SNR, fading, rates and temporaries), the per-user
    local and uplink queues (6 arrays) and the per-server queues (2 arrays, each as wide as all the
    tasks alive in the episode: one server may get them all), sized for the tasks a user has alive
    within a deadline (mean + 3σ, doubled as queues grow by doubling), the observation of one
    decision step and the per-slot series; per policy, the latency (float64) and location (int64)
    of every task. Use with :func:`mecoffload.core.resources.check_memory`."""
    U, E, H = sc.users.count, sc.edge.count, sc.sim.horizon_slots
    alive = sc.task.peak_rate * min(sc.task.deadline_slots, H + sc.task.deadline_slots)
    width = 2 * (alive + 3 * alive**0.5 + 1)
    per_episode = 8 * (7 * U * E + 6 * U * width + 2 * E * U * width + 4 * E * (8 + sc.sim.history_slots) + 2 * H)
    tasks = 16 * U * sc.task.peak_rate * H * max(policies, 1)
    return int(episodes * (per_episode + tasks))
