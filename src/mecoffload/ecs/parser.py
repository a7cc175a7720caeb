"""Read an EdgeCloudSim scenario folder: ``default_config.properties``, ``applications.xml``,
``edge_devices.xml`` (the format of EdgeCloudSim's ``scripts/sample_app*/config/``).

:func:`import_folder` returns the :class:`~.model.EcsScenario` and a list of warnings, one per
key or element that is not simulated (each names the file, the line and the key). A
malformed file raises :class:`EcsFormatError` (a :class:`~mecoffload.core.errors.ScenarioError`):
one line ``FILE:LINE: field 'NAME': what is wrong``, which the CLI prints before exiting 2.

Units: ``simulation_time``, ``warm_up_period`` and ``vm_load_check_interval`` are minutes in
the file (EdgeCloudSim multiplies them by 60); the ``attractiveness_L*_mean_waiting_time``
values are used as seconds, as EdgeCloudSim's NomadicMobility uses them (its settings class
calls them minutes but never converts them).
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path

from ..tiers.errors import TierScenarioError
from .model import EO_POLICIES, ORCH_POLICIES, SIM_SCENARIOS, EcsScenario, validate_ecs_scenario

PROPERTIES = "default_config.properties"
APPLICATIONS = "applications.xml"
EDGE_DEVICES = "edge_devices.xml"

# fallbacks when a bandwidth is 0 (EdgeCloudSim's sample_app2/3 replace the M/M/1 model by an
# empirical one written in Java): the values of its sample_app1, which uses the M/M/1 model
FALLBACK_WLAN_MBPS = 200.0
FALLBACK_WAN_MBPS = 15.0


class EcsFormatError(TierScenarioError):
    """A malformed EdgeCloudSim file (one line naming the file, the line and the field)."""


# ---------------------------------------------------------------------- .properties


def read_properties(path: Path) -> tuple[dict[str, tuple[str, int]], int]:
    """Java ``.properties``: ``key=value``, ``key:value`` or ``key value``; ``#``/``!`` comments;
    a trailing backslash continues the value on the next line. Returns {key: (value, line)}
    (the last occurrence wins, as in Java) and the number of lines."""
    try:
        text = path.read_text(encoding="latin-1")
    except FileNotFoundError:
        raise EcsFormatError(f"{path}: file not found (an EdgeCloudSim folder has {PROPERTIES}, {APPLICATIONS}, {EDGE_DEVICES})") from None
    lines = text.splitlines()
    out: dict[str, tuple[str, int]] = {}
    i = 0
    while i < len(lines):
        start = i
        line = lines[i].lstrip()
        i += 1
        if not line or line[0] in "#!":
            continue
        while line.endswith("\\") and (len(line) - len(line.rstrip("\\"))) % 2 == 1 and i < len(lines):
            line = line[:-1] + lines[i].lstrip()
            i += 1
        m = re.match(r"((?:[^\s=:\\]|\\.)+)\s*[=:]?\s*(.*)$", line)
        if not m:
            raise EcsFormatError(f"{path.name}:{start + 1}: cannot read '{line.strip()}' (expected key=value)")
        out[m.group(1)] = (m.group(2).strip(), start + 1)
    return out, len(lines)


# ---------------------------------------------------------------------- XML with line numbers


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    line: int
    text: str = ""
    children: list["Node"] = field(default_factory=list)

    def find_all(self, tag: str) -> list["Node"]:
        return [c for c in self.children if c.tag == tag]


def read_xml(path: Path) -> Node:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise EcsFormatError(f"{path}: file not found (an EdgeCloudSim folder has {PROPERTIES}, {APPLICATIONS}, {EDGE_DEVICES})") from None
    parser = xml.parsers.expat.ParserCreate()
    stack: list[Node] = []
    root: list[Node] = []

    def start(tag, attrs):
        node = Node(tag, dict(attrs), parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(tag):
        stack.pop()

    def chars(text):
        if stack:
            stack[-1].text += text

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        where = f"<{stack[-1].tag}>" if stack else "document"
        raise EcsFormatError(f"{path.name}:{exc.lineno}: field '{where}': malformed XML: "
                             f"{xml.parsers.expat.ErrorString(exc.code)} (column {exc.offset + 1})") from None
    return root[0]


# ---------------------------------------------------------------------- conversion helpers


class _Ctx:
    def __init__(self):
        self.warnings: list[str] = []

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)


def _num(fname: str, line: int, key: str, raw: str, *, integer: bool = False, lo: float | None = None) -> float | int:
    s = raw.strip()
    try:
        v = float(s)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise EcsFormatError(f"{fname}:{line}: field '{key}': expected {kind}, got '{s}'") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise EcsFormatError(f"{fname}:{line}: field '{key}': expected a finite number, got '{s}'")
    if integer:
        if v != int(v):
            raise EcsFormatError(f"{fname}:{line}: field '{key}': expected an integer, got '{s}'")
        v = int(v)
    if lo is not None and v < lo:
        raise EcsFormatError(f"{fname}:{line}: field '{key}': must be >= {lo:g}, got '{s}'")
    return v


# properties keys ------------------------------------------------------------------

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


def _parse_properties(path: Path, ctx: _Ctx) -> dict:
    fname = path.name
    props, n_lines = read_properties(path)
    for old, new in PROP_ALIASES.items():
        if old in props and new not in props:
            props[new] = props.pop(old)
    for key in PROP_REQUIRED:
        if key not in props:
            raise EcsFormatError(f"{fname}:{n_lines}: field '{key}': missing (EdgeCloudSim requires it)")
    for key, val in PROP_DEFAULTS.items():
        props.setdefault(key, (val, 0))
    known = set(PROP_REQUIRED) | set(PROP_DEFAULTS) | PROP_NO_EFFECT | set(PROP_UNSUPPORTED_IF_SET)
    for key, (raw, line) in props.items():
        if key not in known:
            ctx.warn(f"{fname}:{line}: unsupported key '{key}' (not an EdgeCloudSim setting mecoffload knows): ignored")
        elif key in PROP_UNSUPPORTED_IF_SET:
            if _num(fname, line, key, raw) != 0:
                ctx.warn(f"{fname}:{line}: unsupported key '{key}' = {raw}: {PROP_UNSUPPORTED_IF_SET[key]} is not simulated; ignored")

    def num(key, **kw):
        raw, line = props[key]
        return _num(fname, line, key, raw, **kw)

    sim = {
        "simulation_time_s": 60.0 * num("simulation_time", lo=0),
        "warmup_s": 60.0 * num("warm_up_period", lo=0),
        "load_check_interval_s": 60.0 * num("vm_load_check_interval", lo=0),
    }
    if sim["simulation_time_s"] <= 0:
        raise EcsFormatError(f"{fname}:{props['simulation_time'][1]}: field 'simulation_time': must be > 0 (minutes)")
    if sim["warmup_s"] >= sim["simulation_time_s"]:
        raise EcsFormatError(f"{fname}:{props['warm_up_period'][1]}: field 'warm_up_period': must be shorter than simulation_time")
    if sim["load_check_interval_s"] <= 0:
        raise EcsFormatError(f"{fname}:{props['vm_load_check_interval'][1]}: field 'vm_load_check_interval': must be > 0 (minutes)")
    devices = {
        "min": num("min_number_of_mobile_devices", integer=True, lo=1),
        "max": num("max_number_of_mobile_devices", integer=True, lo=1),
        "step": num("mobile_device_counter_size", integer=True, lo=1),
    }
    if devices["max"] < devices["min"]:
        raise EcsFormatError(f"{fname}:{props['max_number_of_mobile_devices'][1]}: field 'max_number_of_mobile_devices': "
                             f"smaller than min_number_of_mobile_devices ({devices['min']})")
    wlan, wan = num("wlan_bandwidth", lo=0), num("wan_bandwidth", lo=0)
    if wlan == 0:
        ctx.warn(f"{fname}:{props['wlan_bandwidth'][1]}: unsupported key 'wlan_bandwidth' = 0: the folder relies on a network model "
                 f"written in Java (EdgeCloudSim's sample_app2/3 empirical WLAN model), which the scenario files do not describe; "
                 f"the M/M/1 model uses {FALLBACK_WLAN_MBPS:g} Mbps instead (network.wlan_mbps in the written scenario)")
        wlan = FALLBACK_WLAN_MBPS
    if wan == 0:
        line = props["wan_bandwidth"][1]
        ctx.warn(f"{fname}:{line}: unsupported key 'wan_bandwidth' = 0: the M/M/1 WAN model needs a bandwidth (EdgeCloudSim's "
                 f"sample_app2/3 use an empirical WAN model written in Java); using {FALLBACK_WAN_MBPS:g} Mbps "
                 f"(network.wan_mbps in the written scenario)")
        wan = FALLBACK_WAN_MBPS
    network = {
        "wlan_mbps": float(wlan), "wan_mbps": float(wan),
        "wan_propagation_s": float(num("wan_propagation_delay", lo=0)),
        "lan_internal_delay_s": float(num("lan_internal_delay", lo=0)),
    }
    cloud = {
        "hosts": num("number_of_host_on_cloud_datacenter", integer=True, lo=0),
        "vms_per_host": num("number_of_vm_on_cloud_host", integer=True, lo=0),
        "cores": num("core_for_cloud_vm", integer=True, lo=1),
        "mips": float(num("mips_for_cloud_vm", lo=1e-9)),
        "ram_mb": float(num("ram_for_cloud_vm", lo=0)) if "ram_for_cloud_vm" in props else 0.0,
    }
    dwell = [float(num(f"attractiveness_L{i}_mean_waiting_time", lo=0)) for i in (1, 2, 3)]
    for i, d in enumerate(dwell):
        if d <= 0:
            key = f"attractiveness_L{i + 1}_mean_waiting_time"
            raise EcsFormatError(f"{fname}:{props[key][1]}: field '{key}': must be > 0 (seconds)")

    def names(key, allowed, what):
        raw, line = props[key]
        items = [x.strip() for x in raw.split(",") if x.strip()]
        if not items:
            raise EcsFormatError(f"{fname}:{line}: field '{key}': empty (use ',' between values)")
        keep = []
        for it in items:
            if it in allowed:
                keep.append(it)
            else:
                ctx.warn(f"{fname}:{line}: unsupported {what} '{it}' in '{key}' (supported: {', '.join(allowed)}): skipped")
        return keep

    policies = names("orchestrator_policies", ORCH_POLICIES, "orchestrator policy")
    scenarios = names("simulation_scenarios", SIM_SCENARIOS, "simulation scenario")
    if any(p in EO_POLICIES for p in policies) and "TWO_TIER" in scenarios:
        ctx.warn(f"{fname}:{props['simulation_scenarios'][1]}: EdgeCloudSim's sample_app2 orchestrator (NETWORK_BASED, "
                 f"UTILIZATION_BASED, HYBRID) knows SINGLE_TIER and TWO_TIER_WITH_EO only; TWO_TIER runs as TWO_TIER_WITH_EO")
    return {"sim": sim, "devices": devices, "network": network, "cloud": cloud, "mobility": {"mean_dwell_s": dwell},
            "orchestrator_policies": policies, "simulation_scenarios": scenarios}


# applications.xml ------------------------------------------------------------------

APP_FIELDS = {  # element -> (model field, integer)
    "usage_percentage": ("usage_pct", False),
    "prob_cloud_selection": ("prob_cloud_pct", False),
    "poisson_interarrival": ("interarrival_s", False),
    "active_period": ("active_s", False),
    "idle_period": ("idle_s", False),
    "data_upload": ("upload_kb", False),
    "data_download": ("download_kb", False),
    "task_length": ("length_mi", False),
    "required_core": ("required_cores", True),
    "vm_utilization_on_edge": ("vm_util_edge_pct", False),
    "vm_utilization_on_cloud": ("vm_util_cloud_pct", False),
    "vm_utilization_on_mobile": ("vm_util_mobile_pct", False),
    "delay_sensitivity": ("delay_sensitivity", False),
}
APP_BOUNDS = {"usage_percentage": (0, 100), "prob_cloud_selection": (0, 100), "vm_utilization_on_edge": (0, 100),
              "vm_utilization_on_cloud": (0, 100), "vm_utilization_on_mobile": (0, 100), "delay_sensitivity": (0, 1)}
APP_POSITIVE = {"poisson_interarrival", "active_period", "task_length", "required_core"}
APP_OPTIONAL_UNSUPPORTED = {"max_delay_requirement": "a deadline (EdgeCloudSim's default device manager does not enforce it either)"}


def _text(fname: str, node: Node, key: str) -> tuple[str, int]:
    found = node.find_all(key)
    if not found or not found[0].text.strip():
        raise EcsFormatError(f"{fname}:{node.line}: field '{key}': missing in <{node.tag}{_label(node)}>")
    return found[0].text.strip(), found[0].line


def _label(node: Node) -> str:
    return f" name=\"{node.attrs['name']}\"" if "name" in node.attrs else ""


def _parse_applications(path: Path, ctx: _Ctx) -> list[dict]:
    fname = path.name
    root = read_xml(path)
    if root.tag != "applications":
        raise EcsFormatError(f"{fname}:{root.line}: field '<{root.tag}>': expected root element <applications>")
    apps = []
    for child in root.children:
        if child.tag != "application":
            ctx.warn(f"{fname}:{child.line}: unsupported element <{child.tag}>: ignored")
    nodes = root.find_all("application")
    if not nodes:
        raise EcsFormatError(f"{fname}:{root.line}: field 'application': no <application> element")
    seen = set()
    for node in nodes:
        name = node.attrs.get("name", "").strip()
        if not name:
            raise EcsFormatError(f"{fname}:{node.line}: field 'name': <application> needs a name attribute")
        if name in seen:
            raise EcsFormatError(f"{fname}:{node.line}: field 'name': application '{name}' defined twice")
        seen.add(name)
        app: dict = {"name": name}
        for key, (fld, integer) in APP_FIELDS.items():
            raw, line = _text(fname, node, key)
            lo, hi = APP_BOUNDS.get(key, (0, None))
            v = _num(fname, line, key, raw, integer=integer, lo=lo)
            if hi is not None and v > hi:
                raise EcsFormatError(f"{fname}:{line}: field '{key}': must be <= {hi}, got '{raw}'")
            if key in APP_POSITIVE and v <= 0:
                raise EcsFormatError(f"{fname}:{line}: field '{key}': must be > 0, got '{raw}'")
            app[fld] = v
        for child in node.children:
            if child.tag in APP_FIELDS:
                continue
            if child.tag in APP_OPTIONAL_UNSUPPORTED:
                if child.text.strip() and _num(fname, child.line, child.tag, child.text) != 0:
                    ctx.warn(f"{fname}:{child.line}: unsupported key '{child.tag}' of application '{name}': "
                             f"{APP_OPTIONAL_UNSUPPORTED[child.tag]}; ignored")
            else:
                ctx.warn(f"{fname}:{child.line}: unsupported key '{child.tag}' of application '{name}': ignored")
        apps.append(app)
    total = sum(a["usage_pct"] for a in apps)
    if abs(total - 100.0) > 1e-6:
        ctx.warn(f"{fname}:{root.line}: usage_percentage values sum to {total:g}, not 100: device apps are drawn with the "
                 f"normalised shares (EdgeCloudSim leaves a device without app below 100 and never reaches the last apps above)")
    return apps


# edge_devices.xml ------------------------------------------------------------------

DC_NO_EFFECT = {"costPerBw", "costPerSec", "costPerMem", "costPerStorage"}


def _parse_edge_devices(path: Path, ctx: _Ctx) -> list[dict]:
    fname = path.name
    root = read_xml(path)
    if root.tag != "edge_devices":
        raise EcsFormatError(f"{fname}:{root.line}: field '<{root.tag}>': expected root element <edge_devices>")
    for child in root.children:
        if child.tag != "datacenter":
            ctx.warn(f"{fname}:{child.line}: unsupported element <{child.tag}>: ignored")
    dcs = root.find_all("datacenter")
    if not dcs:
        raise EcsFormatError(f"{fname}:{root.line}: field 'datacenter': no <datacenter> element")
    out = []
    wlan_lines: dict[int, int] = {}
    for i, dc in enumerate(dcs):
        for child in dc.children:
            if child.tag not in DC_NO_EFFECT | {"location", "hosts"}:
                ctx.warn(f"{fname}:{child.line}: unsupported element <{child.tag}> in <datacenter>: ignored")
        locs = dc.find_all("location")
        if not locs:
            raise EcsFormatError(f"{fname}:{dc.line}: field 'location': missing in <datacenter>")
        loc = locs[0]
        vals = {}
        for key, integer in (("x_pos", False), ("y_pos", False), ("wlan_id", True), ("attractiveness", True)):
            raw, line = _text(fname, loc, key)
            vals[key] = _num(fname, line, key, raw, integer=integer, lo=0 if integer else None)
            if key == "attractiveness" and vals[key] > 2:
                raise EcsFormatError(f"{fname}:{line}: field 'attractiveness': must be 0, 1 or 2 (levels L1..L3), got '{raw}'")
            if key == "wlan_id":
                if vals[key] in wlan_lines:
                    raise EcsFormatError(f"{fname}:{line}: field 'wlan_id': {vals[key]} already used at line {wlan_lines[vals[key]]}")
                wlan_lines[vals[key]] = line
        for child in loc.children:
            if child.tag not in ("x_pos", "y_pos", "wlan_id", "attractiveness"):
                ctx.warn(f"{fname}:{child.line}: unsupported element <{child.tag}> in <location>: ignored")
        hosts_el = dc.find_all("hosts")
        if not hosts_el or not hosts_el[0].find_all("host"):
            raise EcsFormatError(f"{fname}:{dc.line}: field 'host': <datacenter> needs <hosts><host>...</host></hosts>")
        hosts = []
        for h in hosts_el[0].find_all("host"):
            host = {}
            for key, fld, integer in (("core", "cores", True), ("mips", "mips", False), ("ram", "ram_mb", False)):
                raw, line = _text(fname, h, key)
                host[fld] = _num(fname, line, key, raw, integer=integer, lo=1 if key != "ram" else 0)
            vms_el = h.find_all("VMs")
            if not vms_el or not vms_el[0].find_all("VM"):
                raise EcsFormatError(f"{fname}:{h.line}: field 'VM': <host> needs <VMs><VM>...</VM></VMs>")
            vms = []
            for vm in vms_el[0].find_all("VM"):
                v = {}
                for key, fld, integer in (("core", "cores", True), ("mips", "mips", False), ("ram", "ram_mb", False)):
                    raw, line = _text(fname, vm, key)
                    v[fld] = _num(fname, line, key, raw, integer=integer, lo=1 if key != "ram" else 0)
                for child in vm.children:
                    if child.tag not in ("core", "mips", "ram", "storage"):
                        ctx.warn(f"{fname}:{child.line}: unsupported element <{child.tag}> in <VM>: ignored")
                vms.append(v)
            for child in h.children:
                if child.tag not in ("core", "mips", "ram", "storage", "VMs"):
                    ctx.warn(f"{fname}:{child.line}: unsupported element <{child.tag}> in <host>: ignored")
            if sum(v["cores"] for v in vms) > host["cores"] or max(v["mips"] for v in vms) > host["mips"]:
                ctx.warn(f"{fname}:{h.line}: the VMs of this host need more cores or MIPS than it has (EdgeCloudSim would "
                         f"fail to create them); mecoffload simulates the VMs as given")
            host["vms"] = vms
            hosts.append(host)
        out.append({"name": f"edge-{i}", "x": float(vals["x_pos"]), "y": float(vals["y_pos"]), "wlan_id": vals["wlan_id"],
                    "attractiveness": vals["attractiveness"], "hosts": hosts})
    ids = sorted(wlan_lines)
    if ids != list(range(len(dcs))):
        bad = next(w for w in ids if w >= len(dcs))
        raise EcsFormatError(f"{fname}:{wlan_lines[bad]}: field 'wlan_id': must be 0..{len(dcs) - 1} (one access point per "
                             f"datacenter, as EdgeCloudSim assumes), got {bad}")
    return out


# ---------------------------------------------------------------------- entry point


def import_folder(folder: str | Path, name: str | None = None) -> tuple[EcsScenario, list[str]]:
    """Parse an EdgeCloudSim scenario folder (the ``config/`` folder, or a folder holding one)."""
    root = Path(folder)
    if not root.is_dir():
        raise EcsFormatError(f"{root}: not a folder (expected an EdgeCloudSim scenario folder with {PROPERTIES}, "
                             f"{APPLICATIONS}, {EDGE_DEVICES})")
    cfg = root
    if not (cfg / PROPERTIES).exists() and (root / "config" / PROPERTIES).exists():
        cfg = root / "config"
    ctx = _Ctx()
    props = _parse_properties(cfg / PROPERTIES, ctx)
    apps = _parse_applications(cfg / APPLICATIONS, ctx)
    edge = _parse_edge_devices(cfg / EDGE_DEVICES, ctx)
    extra = sorted(p.name for p in cfg.iterdir() if p.is_file() and p.name not in (PROPERTIES, APPLICATIONS, EDGE_DEVICES)
                   and p.suffix in (".properties", ".xml"))
    for f in extra:
        ctx.warn(f"{f}: unsupported file: ignored (mecoffload reads {PROPERTIES}, {APPLICATIONS}, {EDGE_DEVICES})")
    label = name or (root.name if root.name != "config" else root.parent.name) or "ecs"
    data = {"name": label, "source": str(root), "description": f"imported from EdgeCloudSim folder {root}",
            "apps": apps, "edge": edge, **props}
    if not data["orchestrator_policies"] or not data["simulation_scenarios"]:
        ctx.warn(f"{PROPERTIES}: no supported orchestrator policy x simulation scenario left: run-ecs runs only the "
                 f"policies given with --policies")
        data["orchestrator_policies"], data["simulation_scenarios"] = [], []
    sc = validate_ecs_scenario(data, str(cfg))
    return sc, ctx.warnings
