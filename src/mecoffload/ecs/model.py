"""The imported EdgeCloudSim scenario: a validated pydantic model, written and read as TOML.

``import-ecs`` turns an EdgeCloudSim folder into an :class:`EcsScenario` (see :mod:`.parser`)
and writes it with :func:`dump_toml`; ``run-ecs`` reads it back with :func:`load_ecs_scenario`
(or imports a folder on the fly). Units are SI-like and in the names: ``_s`` seconds (the
``.properties`` file gives simulation time, warm-up and the load-check interval in minutes:
they are converted), ``_mi`` million instructions, ``_mips``, ``_mbps``, ``_kb`` (EdgeCloudSim's
KB: 1000 bytes), ``_pct``.

:meth:`EcsScenario.to_tier_scenario` gives the equivalent three-tier scenario
(:mod:`mecoffload.tiers`): the workload generator (IdleActive arrivals, exponential sizes,
nomadic mobility) and the observation layout of mecoffload policies come from there.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..core.errors import clip
from ..core.scenario import ScenarioModel, Section, check_not_empty, read_toml, validate_model
from ..tiers.config import validate_tier_scenario

SIM_SCENARIOS = ("SINGLE_TIER", "TWO_TIER", "TWO_TIER_WITH_EO")
BASIC_POLICIES = ("NEXT_FIT", "RANDOM_FIT", "FIRST_FIT", "BEST_FIT", "WORST_FIT")
EO_POLICIES = ("NETWORK_BASED", "UTILIZATION_BASED", "HYBRID")
ORCH_POLICIES = BASIC_POLICIES + EO_POLICIES


_M = Section

MAX_TIME_S = 1e9
"""upper bound of the durations (s) of apps and links: 'never' in a simulation"""
MAX_SIM_S = 1e6
"""upper bound of simulation time, warm-up, drain and start times (s), as the three-tier engine's ``sim.horizon_s``"""
MAX_KB = 1e9
"""upper bound of data sizes (KB) and memory (MB)"""


class EcsApp(_M):
    """One ``<application>`` of applications.xml."""

    name: str = Field(..., max_length=200)
    usage_pct: float = Field(..., ge=0, le=100, description="usage_percentage: share of devices running the app")
    prob_cloud_pct: float = Field(..., ge=0, le=100, description="prob_cloud_selection: TWO_TIER* send the task to the cloud with this probability")
    interarrival_s: float = Field(..., gt=0, le=1e6, description="poisson_interarrival: mean inter-arrival while active, s")
    delay_sensitivity: float = Field(0.0, ge=0, le=1)
    active_s: float = Field(..., gt=0, le=MAX_TIME_S, description="active_period, s")
    idle_s: float = Field(..., ge=0, le=MAX_TIME_S, description="idle_period, s")
    upload_kb: float = Field(..., ge=0, le=MAX_KB, description="data_upload: mean of the exponential upload size, KB")
    download_kb: float = Field(..., ge=0, le=MAX_KB, description="data_download: mean of the exponential download size, KB")
    length_mi: float = Field(..., gt=0, le=1e12, description="task_length: mean of the exponential task length, MI")
    required_cores: int = Field(1, ge=1, le=64, description="required_core")
    vm_util_edge_pct: float = Field(..., ge=0, le=100, description="vm_utilization_on_edge: CPU share a task holds on an edge VM")
    vm_util_cloud_pct: float = Field(..., ge=0, le=100, description="vm_utilization_on_cloud")
    vm_util_mobile_pct: float = Field(0.0, ge=0, le=100, description="vm_utilization_on_mobile (parsed; mobile processing is not simulated)")


class EcsVM(_M):
    cores: int = Field(..., ge=1, le=256)
    mips: float = Field(..., gt=0, le=1e9, description="MIPS of one core")
    ram_mb: float = Field(0.0, ge=0, le=MAX_KB)


class EcsHost(_M):
    cores: int = Field(1, ge=1, le=100_000)
    mips: float = Field(1.0, gt=0, le=1e12)
    ram_mb: float = Field(0.0, ge=0, le=MAX_KB)
    vms: list[EcsVM] = Field(..., min_length=1, max_length=1024)


class EcsEdge(_M):
    """One edge ``<datacenter>``: an access point (``wlan_id``) with its edge server."""

    name: str = Field(..., max_length=200)
    x: float = Field(0.0, ge=-1e7, le=1e7)
    y: float = Field(0.0, ge=-1e7, le=1e7)
    wlan_id: int = Field(..., ge=0, le=10_000)
    attractiveness: int = Field(0, ge=0, le=2, description="place type: index into mobility.mean_dwell_s (L1..L3)")
    hosts: list[EcsHost] = Field(..., min_length=1, max_length=1024)


class EcsCloud(_M):
    hosts: int = Field(1, ge=0, le=10_000, description="number_of_host_on_cloud_datacenter")
    vms_per_host: int = Field(1, ge=0, le=1024, description="number_of_vm_on_cloud_host")
    cores: int = Field(1, ge=1, le=256, description="core_for_cloud_vm")
    mips: float = Field(1.0, gt=0, le=1e9, description="mips_for_cloud_vm (per core)")
    ram_mb: float = Field(0.0, ge=0, le=MAX_KB, description="ram_for_cloud_vm")

    @property
    def n_vms(self) -> int:
        return self.hosts * self.vms_per_host


class EcsNetwork(_M):
    """EdgeCloudSim's MM1Queue network model (the default of its sample applications).

    The delay of a WLAN or WAN transfer from/to access point a is the M/M/1 sojourn time
    ``1 / (mu - lambda * n_a) + propagation`` where n_a is the number of devices at a,
    mu = bandwidth / mean task size and lambda = 1 / mean inter-arrival (both computed from the
    applications as EdgeCloudSim computes them). A transfer fails (bandwidth) when the
    delay exceeds ``fail_delay_s`` or when the queue is unstable (mu <= lambda * n_a).
    """

    model: Literal["mm1"] = "mm1"
    wlan_mbps: float = Field(..., gt=0, le=1e6, description="wlan_bandwidth")
    wan_mbps: float = Field(..., gt=0, le=1e6, description="wan_bandwidth")
    wan_propagation_s: float = Field(0.0, ge=0, le=10, description="wan_propagation_delay")
    lan_internal_delay_s: float = Field(0.0, ge=0, le=5, description="lan_internal_delay: added twice when a result comes back from another access point's edge server")
    fail_delay_s: float = Field(5.0, gt=0, le=MAX_TIME_S, description="a transfer slower than this fails (EdgeCloudSim: 5 s)")


class EcsMobility(_M):
    model: Literal["nomadic"] = "nomadic"
    mean_dwell_s: list[Annotated[float, Field(gt=0, le=MAX_TIME_S)]] = Field(..., min_length=1, max_length=3, description="attractiveness_L1..L3_mean_waiting_time: mean stay, s")


class EcsSimSpec(_M):
    simulation_time_s: float = Field(..., gt=0, le=MAX_SIM_S, description="simulation_time (minutes in the .properties file)")
    warmup_s: float = Field(..., ge=0, le=MAX_SIM_S, description="warm_up_period: tasks arriving before are not counted")
    load_check_interval_s: float = Field(6.0, gt=0, le=MAX_SIM_S, description="vm_load_check_interval: VM utilisation sampling period")
    client_start_s: float = Field(10.0, ge=0, le=MAX_SIM_S, description="EdgeCloudSim CLIENT_ACTIVITY_START_TIME: first active period starts in [this, this + active]")
    slot_s: float = Field(0.25, gt=0, le=5, description="mecoffload step: tasks uploaded within half a step of a step start are given a VM with the VM loads of that instant (EdgeCloudSim: the exact instant); everything else is exact in time")
    max_drain_s: float = Field(120.0, gt=0, le=MAX_SIM_S, description="after simulation_time, steps run until every counted task ended (at most this long)")

    @model_validator(mode="after")
    def _check(self) -> "EcsSimSpec":
        if self.warmup_s >= self.simulation_time_s:
            raise ValueError(f"warm-up ({self.warmup_s} s) must be shorter than the simulation time ({self.simulation_time_s} s)")
        return self


class EcsDevices(_M):
    min: int = Field(..., ge=1, le=100_000, description="min_number_of_mobile_devices")
    max: int = Field(..., ge=1, le=100_000, description="max_number_of_mobile_devices")
    step: int = Field(..., ge=1, le=100_000, description="mobile_device_counter_size")

    @model_validator(mode="after")
    def _check(self) -> "EcsDevices":
        if self.max < self.min:
            raise ValueError(f"max_number_of_mobile_devices ({self.max}) < min_number_of_mobile_devices ({self.min})")
        return self

    def counts(self) -> list[int]:
        return list(range(self.min, self.max + 1, self.step))


class EcsScenario(ScenarioModel):
    LABEL: ClassVar[str] = "EdgeCloudSim scenario"

    name: str = Field("ecs", max_length=200)
    source: str = Field("", max_length=4096, description="folder it was imported from")
    description: str = Field("", max_length=2000)
    sim: EcsSimSpec
    devices: EcsDevices
    apps: list[EcsApp] = Field(..., min_length=1, max_length=1000)
    edge: list[EcsEdge] = Field(..., min_length=1, max_length=10_000)
    cloud: EcsCloud
    network: EcsNetwork
    mobility: EcsMobility
    orchestrator_policies: list[str] = Field(default_factory=list, max_length=100, description="EdgeCloudSim orchestrator policies to run (may be empty: run only --policies)")
    simulation_scenarios: list[str] = Field(default_factory=list, max_length=10)
    iterations: int = Field(1, ge=1, le=1000, description="seeds per device count (EdgeCloudSim's runner.sh iterations)")

    @model_validator(mode="after")
    def _check(self) -> "EcsScenario":
        if not any(a.usage_pct > 0 for a in self.apps):
            raise ValueError("no application has usage_percentage > 0")
        ids = sorted(e.wlan_id for e in self.edge)
        if ids != list(range(len(self.edge))):
            raise ValueError(f"edge wlan_id values must be 0..{len(self.edge) - 1}, one per datacenter (got {ids})")
        levels = max(e.attractiveness for e in self.edge)
        if levels >= len(self.mobility.mean_dwell_s):
            raise ValueError(f"attractiveness level {levels} needs mobility.mean_dwell_s[{levels}]")
        for p in self.orchestrator_policies:
            if p not in ORCH_POLICIES:
                raise ValueError(f"orchestrator policy '{p}' is not supported (allowed: {', '.join(ORCH_POLICIES)})")
        for s in self.simulation_scenarios:
            if s not in SIM_SCENARIOS:
                raise ValueError(f"simulation scenario '{s}' is not supported (allowed: {', '.join(SIM_SCENARIOS)})")
        return self

    # ------------------------------------------------------------------ derived

    def orchestrators(self) -> list[str]:
        """``SCENARIO/POLICY`` of every run EdgeCloudSim's main loop would make."""
        return [f"{s}/{p}" for s in self.simulation_scenarios for p in self.orchestrator_policies]

    def active_apps(self) -> list[EcsApp]:
        return [a for a in self.apps if a.usage_pct > 0]

    def to_tier_scenario(self, devices: int | None = None):
        """The equivalent :class:`~mecoffload.tiers.config.TierScenario` (workload and layout)."""
        apps = []
        for a in self.active_apps():
            apps.append({
                "name": a.name, "usage_pct": a.usage_pct, "prob_cloud_selection_pct": a.prob_cloud_pct,
                "interarrival_s": a.interarrival_s, "active_s": a.active_s, "idle_s": a.idle_s,
                "delay_sensitivity": a.delay_sensitivity, "deadline_s": None,
                "upload_kb": a.upload_kb, "download_kb": a.download_kb, "length_mi": a.length_mi,
                "required_cores": a.required_cores, "memory_mb": 0.0,
                "vm_util_edge_pct": max(a.vm_util_edge_pct, 1e-9), "vm_util_cloud_pct": max(a.vm_util_cloud_pct, 1e-9),
                "size_dist": "exponential",
            })
        edge = []
        for e in self.edge:
            edge.append({
                "name": e.name, "x": e.x, "y": e.y, "attractiveness": e.attractiveness,
                "hosts": [{"vms": [{"count": 1, "cores": v.cores, "mips": v.mips, "ram_mb": max(v.ram_mb, 1.0)} for v in h.vms]}
                          for h in e.hosts],
            })
        c = self.cloud
        cloud = [{"vms": [{"count": c.vms_per_host, "cores": c.cores, "mips": c.mips, "ram_mb": max(c.ram_mb, 1.0)}]}
                 for _ in range(c.hosts)] if c.n_vms else []
        n = self.network
        data = {
            "name": self.name,
            "description": f"EdgeCloudSim scenario {self.source or self.name}",
            "sim": {"slot_s": self.sim.slot_s, "horizon_s": self.sim.simulation_time_s, "warmup_s": self.sim.warmup_s,
                    "max_drain_s": self.sim.max_drain_s},
            "devices": {"count": devices or self.devices.min, "arrival": "app", "phase": "edgecloudsim",
                        "start_s": self.sim.client_start_s},
            "apps": apps,
            "edge": edge,
            "cloud": cloud,
            "network": {
                "cloud_via_wlan": True,
                "wlan": {"model": "per_task", "bandwidth_mbps": [n.wlan_mbps, n.wlan_mbps], "fail_delay_s": n.fail_delay_s},
                "man": {"model": "per_task", "bandwidth_mbps": [1e6, 1e6], "propagation_s": 2 * n.lan_internal_delay_s, "scope": "global"},
                "wan": {"model": "per_task", "bandwidth_mbps": [n.wan_mbps, n.wan_mbps], "propagation_s": n.wan_propagation_s,
                        "fail_delay_s": n.fail_delay_s},
            },
            "mobility": {"model": "nomadic", "mean_dwell_s": list(self.mobility.mean_dwell_s)},
            "admission": {"cpu_max_pct": 100.0, "reserve_on_assign": False, "abort_on_deadline": False},
            "overflow": {"max_wait_s": 0.0, "max_tasks": 0},
        }
        return validate_tier_scenario(data)


# ---------------------------------------------------------------------- validation / IO


def validate_ecs_scenario(data: dict, where: str = "scenario") -> EcsScenario:
    """An :class:`EcsScenario` from a dict; errors are one line ``WHERE: invalid ... field ...``."""
    return validate_model(EcsScenario, data, where=where)


def load_ecs_scenario(path: str | Path) -> EcsScenario:
    """Read a scenario written by ``import-ecs`` (TOML)."""
    data = read_toml(path, EcsScenario.LABEL)
    data.pop("import_warnings", None)
    check_not_empty(EcsScenario, data, f"{EcsScenario.LABEL} file '{clip(path)}'", EcsScenario.LABEL)
    return validate_ecs_scenario(data, str(path))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if math.isnan(v):
            return "nan"
        r = repr(v)
        return r if ("." in r or "e" in r or "n" in r) else r + ".0"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


INLINE_TABLE_LISTS = {"vms"}  # short lists of flat tables written inline


def _is_table_list(v: Any, key: str = "") -> bool:
    if not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)):
        return False
    flat = all(not isinstance(y, (dict, list)) for x in v for y in x.values())
    return not (key in INLINE_TABLE_LISTS and flat)


def _emit(data: dict, prefix: str, lines: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) and not _is_table_list(v, k)}
    for k, v in scalars.items():
        lines.append(f"{k} = {_toml_value(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            name = f"{prefix}{k}"
            lines += ["", f"[{name}]"]
            _emit(v, name + ".", lines)
        elif _is_table_list(v, k):
            name = f"{prefix}{k}"
            for item in v:
                lines += ["", f"[[{name}]]"]
                _emit(item, name + ".", lines)


def dump_toml(sc: EcsScenario, header: list[str] | None = None) -> str:
    """TOML text of a scenario (plus ``#`` comment lines, e.g. the import warnings)."""
    lines = [f"# {h}" for h in (header or [])]
    if lines:
        lines.append("")
    _emit(sc.model_dump(), "", lines)
    return "\n".join(lines) + "\n"
