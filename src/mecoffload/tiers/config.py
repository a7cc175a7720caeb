"""Three-tier scenario: N edge datacenters (hosts -> VMs), one cloud, app types, WLAN/MAN/WAN
links, device mobility. Validated by pydantic; presets are TOML files in ``tiers/presets/``.

The model is deliberately general enough to express EdgeCloudSim scenario folders
(applications.xml, edge_devices.xml, default_config.properties): every app has a usage
share, a cloud-selection probability, a Poisson inter-arrival mean, active/idle periods,
exponential upload/download/length, required cores and VM utilisation on edge/cloud; every
edge datacenter has a location (access point), an attractiveness level, hosts and VMs.

Units are in the field names: ``_s`` seconds, ``_mi`` million instructions, ``_mips``,
``_mbps`` megabit/s, ``_kb`` kilobytes, ``_mb`` megabytes, ``_pct`` percent.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ..core.errors import ScenarioError, clip
from ..core.scenario import (Overrides, ScenarioModel, Section, check_lo_hi, load_model, parse_overrides, preset_names,
                             validate_model)

OLD_NAMES = {"max_delay_s": "deadline_s"}
"""field names of earlier releases, still accepted in TOML files and ``--set`` paths"""

PRESETS = ("mecoffload.tiers", "presets")
"""(package, folder) of the built-in tier presets"""

MAX_DEVICES = 100_000
"""upper bound of ``devices.count`` and of every count of ``tier-eval --devices`` (as ``run-ecs``)"""
MAX_TIME_S = 1e9
"""upper bound of every duration field (s), about 32 years: 'never' in a simulation"""
MAX_KB = 1e9
"""upper bound of every data size field (KB, MB), a terabyte"""

_M = Section


class VMSpec(_M):
    count: int = Field(1, ge=1, le=1024, description="identical VMs of this kind on the host")
    cores: int = Field(2, ge=1, le=256, description="processing elements (cores) of the VM")
    mips: float = Field(10_000.0, gt=0, le=1e9, description="speed of one core, MIPS (a 1-core task alone runs at this speed)")
    ram_mb: float = Field(50_000.0, gt=0, le=1e9, description="memory available to tasks (constraint C4), MB")


class HostSpec(_M):
    vms: list[VMSpec] = Field(default_factory=lambda: [VMSpec()], min_length=1, max_length=1024)


class DatacenterSpec(_M):
    name: str = Field("edge", max_length=200)
    x: float = Field(0.0, ge=-1e7, le=1e7, description="location (m); informational")
    y: float = Field(0.0, ge=-1e7, le=1e7, description="location (m); informational")
    attractiveness: int = Field(0, ge=0, le=7, description="nomadic mobility: index into mobility.mean_dwell_s")
    hosts: list[HostSpec] = Field(default_factory=lambda: [HostSpec()], min_length=1, max_length=1024)


class AppSpec(_M):
    name: str = Field(..., max_length=200)
    usage_pct: float = Field(..., gt=0, le=100, description="share of devices running this app (EdgeCloudSim usage_percentage)")
    prob_cloud_selection_pct: float = Field(0.0, ge=0, le=100, description="EdgeCloudSim TWO_TIER: probability the task goes to the cloud")
    interarrival_s: float = Field(..., gt=0, le=1e6, description="mean of the exponential inter-arrival time while active, s")
    active_s: float = Field(1e9, gt=0, le=MAX_TIME_S, description="active period, s (tasks are generated only while active)")
    idle_s: float = Field(0.0, ge=0, le=MAX_TIME_S, description="idle period, s")
    delay_sensitivity: float = Field(..., ge=0, le=1, description="T_s of seed 002 (0 tolerant .. 1 sensitive)")
    deadline_s: float | None = Field(
        None, gt=0, le=MAX_TIME_S, description="deadline T_max: the result is due this long after arrival, s; None = no deadline (EdgeCloudSim); old name max_delay_s")
    upload_kb: float = Field(..., ge=0, le=MAX_KB, description="mean input size D_up, KB")
    download_kb: float = Field(..., ge=0, le=MAX_KB, description="mean output size D_down, KB")
    length_mi: float = Field(..., gt=0, le=1e12, description="mean task length L, MI (Table I lists GI = 1000 MI)")
    required_cores: int = Field(1, ge=1, le=64, description="processing elements the task uses")
    memory_mb: float = Field(0.0, ge=0, le=MAX_KB, description="memory held on the VM while the task runs (C4), MB")
    vm_util_edge_pct: float | None = Field(
        None, gt=0, le=100, description="VM utilisation a task needs on an edge VM (EdgeCloudSim); None = derive from C3: 100·L/(T_max·MIPS), MIPS of one core")
    vm_util_cloud_pct: float | None = Field(None, gt=0, le=100, description="same on a cloud VM")
    size_dist: Literal["exponential", "fixed"] = Field("exponential", description="upload/download/length ~ Exp(mean) (EdgeCloudSim) or fixed")

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data for k in OLD_NAMES):
            data = dict(data)
            for old, new in OLD_NAMES.items():
                if old in data:
                    if new in data:
                        raise ValueError(f"give {new} or its old name {old}, not both")
                    data[new] = data.pop(old)
        return data

    @model_validator(mode="after")
    def _check(self) -> "AppSpec":
        derived = self.vm_util_edge_pct is None or self.vm_util_cloud_pct is None
        if derived and self.deadline_s is None:
            raise ValueError(f"app '{self.name}': give vm_util_edge_pct and vm_util_cloud_pct, or deadline_s to derive them (C3)")
        return self


class LinkSpec(_M):
    """One link type. Delay of a transfer of s KB on a link instance with capacity C (Mbps):

    - ``per_task``: 8e-3·s / C (seed 002 §III-B: D / BW_avail), no contention;
    - ``shared``: 8e-3·s·(n+1) / C, n = transfers already on the instance (each gets C/(n+1));
    - ``mm1``: (8e-3·s / C) / (1 - ρ), ρ = λ·s̄·8e-3 / C from the recent transfer rate λ and mean
      size s̄ (an M/M/1 processor-sharing link, EdgeCloudSim's MM1 model made size-aware);
      ρ >= 1 fails the transfer.
    Plus ``propagation_s``. A transfer whose delay (without propagation) exceeds ``fail_delay_s`` fails (bandwidth).
    """

    model: Literal["per_task", "shared", "mm1"] = "per_task"
    bandwidth_mbps: tuple[float, float] = Field((10.0, 100.0), description="capacity ~ U[lo, hi] Mbps, redrawn every slot per instance")
    propagation_s: float = Field(0.0, ge=0, le=10, description="added to every transfer, s")
    fail_delay_s: float = Field(1e9, gt=0, le=MAX_TIME_S, description="transfer delay (w/o propagation) above which it fails, s")
    scope: Literal["per_ap", "global"] = Field("per_ap", description="one instance per access point (edge datacenter) or one in all")
    mm1_window_s: float = Field(1.0, gt=0, le=3600, description="mm1: λ and s̄ are measured over this trailing window, s")

    @field_validator("bandwidth_mbps")
    @classmethod
    def _bw(cls, v: tuple[float, float]) -> tuple[float, float]:
        return check_lo_hi(v, 1e6, "Mbps")


class NetworkSpec(_M):
    wlan: LinkSpec = LinkSpec()
    man: LinkSpec = LinkSpec(scope="global", propagation_s=0.005)
    wan: LinkSpec = LinkSpec(propagation_s=0.1)
    cloud_via_wlan: bool = Field(True, description="cloud transfers also cross the device's WLAN (False: WAN only, as EdgeCloudSim)")


class DevicesSpec(_M):
    count: int = Field(200, ge=1, le=MAX_DEVICES, description="IoT devices")
    arrival: Literal["app", "interval"] = Field(
        "app", description="app: per-device app (by usage share), Poisson while active (EdgeCloudSim); interval: every U[lo,hi] s, app drawn per task")
    interval_s: tuple[float, float] = Field((0.3, 0.7), description="arrival='interval': inter-arrival ~ U[lo, hi] s (seed 002 §V-A)")
    phase: Literal["random", "edgecloudsim"] = Field(
        "random", description="random: each device starts at a uniform phase of its active/idle cycle (stationary at t=0); edgecloudsim: first active period starts at U[start_s, start_s + active]")
    start_s: float = Field(10.0, ge=0, le=1e6, description="phase='edgecloudsim': CLIENT_ACTIVITY_START_TIME, s")

    @field_validator("interval_s")
    @classmethod
    def _interval(cls, v: tuple[float, float]) -> tuple[float, float]:
        return check_lo_hi(v, 1e6, "s")


class MobilitySpec(_M):
    model: Literal["static", "nomadic"] = "static"
    mean_dwell_s: list[Annotated[float, Field(gt=0, le=MAX_TIME_S)]] = Field(
        default_factory=lambda: [480.0, 300.0, 120.0], max_length=8, description="nomadic: mean stay at a place by attractiveness level, s")


class AdmissionSpec(_M):
    cpu_max_pct: float = Field(100.0, gt=0, le=100, description="CPU_max: a VM accepts a task if util + required <= this (C3)")
    reserve_on_assign: bool = Field(True, description="count a task in its VM's utilisation from assignment (True) or only while running (EdgeCloudSim)")
    abort_on_deadline: bool = Field(True, description="abort a task when its deadline passes (it fails 'deadline')")


class OverflowSpec(_M):
    max_wait_s: float = Field(5.0, ge=0, le=3600, description="a deferred task fails (vm_capacity) after waiting this long or at its deadline")
    max_tasks: int = Field(100, ge=0, le=1_000_000, description="overflow queue length per environment; tasks deferred beyond it fail (vm_capacity), most sensitive kept")


class SimSpec(_M):
    slot_s: float = Field(0.1, gt=0, le=10, description="decision epoch Δt, s: the orchestrator's view is refreshed every slot")
    horizon_s: float = Field(150.0, gt=0, le=1e6, description="tasks arrive in [0, horizon), s")
    warmup_s: float = Field(30.0, ge=0, le=1e6, description="metrics count tasks arriving at or after this time, s")
    max_drain_s: float = Field(600.0, gt=0, le=1e6, description="after the horizon, slots run until every task ended (at most this long), s")


class TierScenario(ScenarioModel):
    LABEL: ClassVar[str] = "tier scenario"

    name: str = Field("custom", max_length=200)
    description: str = Field("", max_length=2000)
    sim: SimSpec = SimSpec()
    devices: DevicesSpec = DevicesSpec()
    apps: list[AppSpec] = Field(..., min_length=1, max_length=1000)
    edge: list[DatacenterSpec] = Field(..., min_length=1, max_length=10_000)
    cloud: list[HostSpec] = Field(default_factory=list, max_length=10_000, description="hosts of the single cloud datacenter (empty: no cloud)")
    network: NetworkSpec = NetworkSpec()
    mobility: MobilitySpec = MobilitySpec()
    admission: AdmissionSpec = AdmissionSpec()
    overflow: OverflowSpec = OverflowSpec()

    @model_validator(mode="after")
    def _check(self) -> "TierScenario":
        if self.sim.warmup_s >= self.sim.horizon_s:
            raise ValueError(f"sim.warmup_s ({self.sim.warmup_s}) must be < sim.horizon_s ({self.sim.horizon_s})")
        levels = max(dc.attractiveness for dc in self.edge)
        if self.mobility.model == "nomadic" and levels >= len(self.mobility.mean_dwell_s):
            raise ValueError(f"mobility.mean_dwell_s needs an entry for attractiveness level {levels}")
        return self

    def with_overrides(self, overrides: Overrides) -> "TierScenario":
        """Copy with dotted-path overrides (``{"devices.count": 400}`` or ``["devices.count=400"]``)."""
        return super().with_overrides(new_names(overrides))


def new_names(overrides: Overrides) -> dict[str, Any]:
    """Overrides with the old field names of :data:`OLD_NAMES` (last path part) renamed."""
    out = {}
    for path, value in parse_overrides(overrides).items():
        head, _, last = path.rpartition(".")
        out[f"{head}.{OLD_NAMES[last]}" if head and last in OLD_NAMES else path] = value
    return out


def check_device_counts(counts: list[int], flag: str = "--devices") -> list[int]:
    """Device counts of a sweep (``tier-eval --devices``): each 1..MAX_DEVICES, as ``devices.count``."""
    for n in counts:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DEVICES:
            raise ScenarioError(f"{flag}: every device count must be an integer with 1 <= count <= {MAX_DEVICES} "
                                f"(got {clip(n, 30)})")
    return counts


def validate_tier_scenario(data: dict) -> TierScenario:
    """A :class:`TierScenario` from a dict (e.g. parsed TOML); errors are one-line ``ScenarioError``."""
    return validate_model(TierScenario, data)


def tier_preset_names() -> list[str]:
    return preset_names(*PRESETS)


def load_tier_scenario(name_or_path: str, overrides: Overrides = None) -> TierScenario:
    """Load a built-in tier preset by name (``iot3tier``) or a TOML file by path, then apply overrides."""
    return load_model(TierScenario, name_or_path, new_names(overrides), presets=PRESETS)
