"""``default_config.properties`` of an EdgeCloudSim folder -> the ``sim``, ``devices``,
``network``, ``cloud``, ``mobility`` and orchestrator parts of an :class:`~.model.EcsScenario`.

``simulation_time``, ``warm_up_period`` and ``vm_load_check_interval`` are minutes in the file
(EdgeCloudSim multiplies them by 60); the ``attractiveness_L*_mean_waiting_time`` values are
used as seconds, as EdgeCloudSim's NomadicMobility uses them. Keys that are not simulated give
one warning each.
"""

from __future__ import annotations

from pathlib import Path

from .model import EO_POLICIES, ORCH_POLICIES, SIM_SCENARIOS
from .readers import EcsFormatError, Warnings, number, read_properties

# fallbacks when a bandwidth is 0 (EdgeCloudSim's sample_app2/3 replace the M/M/1 model by an
# empirical one written in Java): the values of its sample_app1, which uses the M/M/1 model
FALLBACK_WLAN_MBPS = 200.0
FALLBACK_WAN_MBPS = 15.0

PROP_REQUIRED = (
    "simulation_time", "warm_up_period", "vm_load_check_interval",
    "min_number_of_mobile_devices", "max_number_of_mobile_devices", "mobile_device_counter_size",
    "wlan_bandwidth", "number_of_host_on_cloud_datacenter", "number_of_vm_on_cloud_host",
    "core_for_cloud_vm", "mips_for_cloud_vm", "orchestrator_policies", "simulation_scenarios",
    "attractiveness_L1_mean_waiting_time", "attractiveness_L2_mean_waiting_time", "attractiveness_L3_mean_waiting_time",
)
# EdgeCloudSim's own defaults (SimSettings) for optional keys that matter here
PROP_DEFAULTS = {"wan_propagation_delay": "0", "lan_internal_delay": "0", "wan_bandwidth": "0"}
# accepted, no effect on the figures in EdgeCloudSim either (logging, storage, memory: tasks use none)
PROP_NO_EFFECT = {
    "file_log_enabled", "deep_file_log_enabled", "location_check_interval", "vm_location_check_interval",
    "ap_delay_check_interval", "storage_for_cloud_vm", "storage_for_mobile_vm", "ram_for_mobile_vm", "ram_for_cloud_vm",
}
# known to EdgeCloudSim, not simulated here: warned about when set to a non-zero value
PROP_UNSUPPORTED_IF_SET = {
    "man_bandwidth": "MAN bandwidth (the M/M/1 model has no MAN link; remote edge results pay 2 x lan_internal_delay)",
    "gsm_bandwidth": "GSM/cellular links",
    "gsm_propagation_delay": "GSM/cellular links",
    "wlan_range": "WLAN coverage (mobility models with coordinates)",
    "northern_bound": "area bounds (mobility models with coordinates)",
    "southern_bound": "area bounds (mobility models with coordinates)",
    "eastern_bound": "area bounds (mobility models with coordinates)",
    "western_bound": "area bounds (mobility models with coordinates)",
    "core_for_mobile_vm": "processing on the mobile device (sample_app3)",
    "mips_for_mobile_vm": "processing on the mobile device (sample_app3)",
}
PROP_ALIASES = {"wan_propogation_delay": "wan_propagation_delay"}  # spelling of EdgeCloudSim's early releases


class _Props:
    """The keys of one ``.properties`` file: {key: (raw value, line)} and its warnings."""

    def __init__(self, path: Path, ctx: Warnings):
        self.fname, self.ctx = path.name, ctx
        props, n_lines = read_properties(path)
        for old, new in PROP_ALIASES.items():
            if old in props and new not in props:
                props[new] = props.pop(old)
        for key in PROP_REQUIRED:
            if key not in props:
                raise EcsFormatError(f"{self.fname}:{n_lines}: field '{key}': missing (EdgeCloudSim requires it)")
        for key, val in PROP_DEFAULTS.items():
            props.setdefault(key, (val, 0))
        self.props = props
        known = set(PROP_REQUIRED) | set(PROP_DEFAULTS) | PROP_NO_EFFECT | set(PROP_UNSUPPORTED_IF_SET)
        for key, (raw, line) in props.items():
            if key not in known:
                ctx.warn(f"{self.fname}:{line}: unsupported key '{key}' (not an EdgeCloudSim setting mecoffload knows): ignored")
            elif key in PROP_UNSUPPORTED_IF_SET:
                if number(self.fname, line, key, raw) != 0:
                    ctx.warn(f"{self.fname}:{line}: unsupported key '{key}' = {raw}: {PROP_UNSUPPORTED_IF_SET[key]} "
                             f"is not simulated; ignored")

    def num(self, key: str, **kw) -> float | int:
        raw, line = self.props[key]
        return number(self.fname, line, key, raw, **kw)

    def where(self, key: str) -> str:
        """``FILE:LINE`` of a key."""
        return f"{self.fname}:{self.props[key][1]}"

    def names(self, key: str, allowed: tuple[str, ...], what: str) -> list[str]:
        """The supported items of a comma-separated list (the others: a warning each)."""
        raw, line = self.props[key]
        items = [x.strip() for x in raw.split(",") if x.strip()]
        if not items:
            raise EcsFormatError(f"{self.fname}:{line}: field '{key}': empty (use ',' between values)")
        keep = []
        for it in items:
            if it in allowed:
                keep.append(it)
            else:
                self.ctx.warn(f"{self.fname}:{line}: unsupported {what} '{it}' in '{key}' (supported: {', '.join(allowed)}): skipped")
        return keep


def _sim(p: _Props) -> dict:
    sim = {
        "simulation_time_s": 60.0 * p.num("simulation_time", lo=0),
        "warmup_s": 60.0 * p.num("warm_up_period", lo=0),
        "load_check_interval_s": 60.0 * p.num("vm_load_check_interval", lo=0),
    }
    if sim["simulation_time_s"] <= 0:
        raise EcsFormatError(f"{p.where('simulation_time')}: field 'simulation_time': must be > 0 (minutes)")
    if sim["warmup_s"] >= sim["simulation_time_s"]:
        raise EcsFormatError(f"{p.where('warm_up_period')}: field 'warm_up_period': must be shorter than simulation_time")
    if sim["load_check_interval_s"] <= 0:
        raise EcsFormatError(f"{p.where('vm_load_check_interval')}: field 'vm_load_check_interval': must be > 0 (minutes)")
    return sim


def _devices(p: _Props) -> dict:
    devices = {
        "min": p.num("min_number_of_mobile_devices", integer=True, lo=1),
        "max": p.num("max_number_of_mobile_devices", integer=True, lo=1),
        "step": p.num("mobile_device_counter_size", integer=True, lo=1),
    }
    if devices["max"] < devices["min"]:
        raise EcsFormatError(f"{p.where('max_number_of_mobile_devices')}: field 'max_number_of_mobile_devices': "
                             f"smaller than min_number_of_mobile_devices ({devices['min']})")
    return devices


def _network(p: _Props) -> dict:
    wlan, wan = p.num("wlan_bandwidth", lo=0), p.num("wan_bandwidth", lo=0)
    if wlan == 0:
        p.ctx.warn(f"{p.where('wlan_bandwidth')}: unsupported key 'wlan_bandwidth' = 0: the folder relies on a network model "
                   f"written in Java (EdgeCloudSim's sample_app2/3 empirical WLAN model), which the scenario files do not describe; "
                   f"the M/M/1 model uses {FALLBACK_WLAN_MBPS:g} Mbps instead (network.wlan_mbps in the written scenario)")
        wlan = FALLBACK_WLAN_MBPS
    if wan == 0:
        p.ctx.warn(f"{p.where('wan_bandwidth')}: unsupported key 'wan_bandwidth' = 0: the M/M/1 WAN model needs a bandwidth "
                   f"(EdgeCloudSim's sample_app2/3 use an empirical WAN model written in Java); using {FALLBACK_WAN_MBPS:g} Mbps "
                   f"(network.wan_mbps in the written scenario)")
        wan = FALLBACK_WAN_MBPS
    return {
        "wlan_mbps": float(wlan), "wan_mbps": float(wan),
        "wan_propagation_s": float(p.num("wan_propagation_delay", lo=0)),
        "lan_internal_delay_s": float(p.num("lan_internal_delay", lo=0)),
    }


def _cloud(p: _Props) -> dict:
    return {
        "hosts": p.num("number_of_host_on_cloud_datacenter", integer=True, lo=0),
        "vms_per_host": p.num("number_of_vm_on_cloud_host", integer=True, lo=0),
        "cores": p.num("core_for_cloud_vm", integer=True, lo=1),
        "mips": float(p.num("mips_for_cloud_vm", lo=1e-9)),
        "ram_mb": float(p.num("ram_for_cloud_vm", lo=0)) if "ram_for_cloud_vm" in p.props else 0.0,
    }


def _dwell(p: _Props) -> list[float]:
    dwell = [float(p.num(f"attractiveness_L{i}_mean_waiting_time", lo=0)) for i in (1, 2, 3)]
    for i, d in enumerate(dwell):
        if d <= 0:
            key = f"attractiveness_L{i + 1}_mean_waiting_time"
            raise EcsFormatError(f"{p.where(key)}: field '{key}': must be > 0 (seconds)")
    return dwell


def parse_properties(path: Path, ctx: Warnings) -> dict:
    """The scenario parts of ``default_config.properties`` (warnings go to ``ctx``)."""
    p = _Props(path, ctx)
    sim, devices, network, cloud, dwell = _sim(p), _devices(p), _network(p), _cloud(p), _dwell(p)
    policies = p.names("orchestrator_policies", ORCH_POLICIES, "orchestrator policy")
    scenarios = p.names("simulation_scenarios", SIM_SCENARIOS, "simulation scenario")
    if any(x in EO_POLICIES for x in policies) and "TWO_TIER" in scenarios:
        ctx.warn(f"{p.where('simulation_scenarios')}: EdgeCloudSim's sample_app2 orchestrator (NETWORK_BASED, "
                 f"UTILIZATION_BASED, HYBRID) knows SINGLE_TIER and TWO_TIER_WITH_EO only; TWO_TIER runs as TWO_TIER_WITH_EO")
    return {"sim": sim, "devices": devices, "network": network, "cloud": cloud, "mobility": {"mean_dwell_s": dwell},
            "orchestrator_policies": policies, "simulation_scenarios": scenarios}
