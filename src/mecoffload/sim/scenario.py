"""The MEC simulator's scenario: every constant of an MEC system, validated by pydantic.

Built on the engine-independent base :mod:`mecoffload.core.scenario` (TOML presets, ``--set``
overrides, one-line validation errors). Built-in presets live as TOML files in
``mecoffload/scenarios/``. Any field can be overridden with a dotted path (``edge.count=11``,
``task.size_mbit=[6,6]``). Units are in the field names (``_s`` seconds, ``_ghz``, ``_mbit``,
``_mhz``, ``_db``...).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..core.scenario import Overrides, ScenarioModel, Section, check_lo_hi, load_model, validate_model
from ..core.scenario import preset_names as _preset_names

PRESETS = ("mecoffload", "scenarios")
"""(package, folder) of the built-in presets"""


class SimSection(Section):
    slot_s: float = Field(0.1, gt=0, le=60, description="slot length Δt in seconds")
    horizon_slots: int = Field(100, ge=1, le=1_000_000, description="decision slots per episode")
    history_slots: int = Field(5, ge=1, le=64, description="length of the per-server load history in the observation")


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


class TaskSection(Section):
    size_mbit: tuple[float, float] = Field((2.0, 5.0), description="task input size D ~ U[lo, hi] Mbit")
    density_gcycles_per_mbit: float = Field(0.297, gt=0, le=1000, description="computational density γ in Gcycles/Mbit (= kcycles/bit)")
    deadline_slots: int = Field(10, ge=1, le=10_000, description="deadline τ_max in slots")
    arrival: Literal["poisson", "bernoulli"] = Field("poisson", description="per user per slot: Poisson count or one task with probability rate")
    rate: float = Field(0.3, gt=0, le=20, description="λ_p: mean tasks per user per slot (probability for bernoulli)")

    @field_validator("size_mbit")
    @classmethod
    def _size(cls, v: tuple[float, float]) -> tuple[float, float]:
        return check_lo_hi(v, 100_000, "Mbit")

    @model_validator(mode="after")
    def _check(self) -> "TaskSection":
        if self.arrival == "bernoulli" and self.rate > 1:
            raise ValueError(f"task.rate is a probability for bernoulli arrivals: 0 < task.rate <= 1 (got {self.rate})")
        return self


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
    alive = sc.task.rate * min(sc.task.deadline_slots, H + sc.task.deadline_slots)
    width = 2 * (alive + 3 * alive**0.5 + 1)
    per_episode = 8 * (7 * U * E + 6 * U * width + 2 * E * U * width + 4 * E * (8 + sc.sim.history_slots) + 2 * H)
    tasks = 16 * U * sc.task.rate * H * max(policies, 1)
    return int(episodes * (per_episode + tasks))
