"""``edge_devices.xml`` of an EdgeCloudSim folder -> the ``edge`` datacenters of an
:class:`~.model.EcsScenario`: one access point (``wlan_id`` 0..N-1) per datacenter, its hosts and
their VMs (cores, MIPS of one core, RAM in MB). Elements that are not simulated give one
warning each.
"""

from __future__ import annotations

from pathlib import Path

from .readers import EcsFormatError, Node, Warnings, children_of, number, text_of

DC_NO_EFFECT = {"costPerBw", "costPerSec", "costPerMem", "costPerStorage"}
MACHINE_FIELDS = (("core", "cores", True), ("mips", "mips", False), ("ram", "ram_mb", False))
"""element -> (model field, integer) of a <host> or a <VM>"""


def _warn_unknown(fname: str, node: Node, allowed, ctx: Warnings) -> None:
    for child in node.children:
        if child.tag not in allowed:
            ctx.warn(f"{fname}:{child.line}: unsupported element <{child.tag}> in <{node.tag}>: ignored")


def _machine(fname: str, node: Node) -> dict:
    """cores, mips, ram_mb of a <host> or <VM>."""
    out = {}
    for key, fld, integer in MACHINE_FIELDS:
        raw, line = text_of(fname, node, key)
        out[fld] = number(fname, line, key, raw, integer=integer, lo=1 if key != "ram" else 0)
    return out


def _location(fname: str, dc: Node, wlan_lines: dict[int, int], ctx: Warnings) -> dict:
    locs = dc.find_all("location")
    if not locs:
        raise EcsFormatError(f"{fname}:{dc.line}: field 'location': missing in <datacenter>")
    loc = locs[0]
    vals = {}
    for key, integer in (("x_pos", False), ("y_pos", False), ("wlan_id", True), ("attractiveness", True)):
        raw, line = text_of(fname, loc, key)
        vals[key] = number(fname, line, key, raw, integer=integer, lo=0 if integer else None)
        if key == "attractiveness" and vals[key] > 2:
            raise EcsFormatError(f"{fname}:{line}: field 'attractiveness': must be 0, 1 or 2 (levels L1..L3), got '{raw}'")
        if key == "wlan_id":
            if vals[key] in wlan_lines:
                raise EcsFormatError(f"{fname}:{line}: field 'wlan_id': {vals[key]} already used at line {wlan_lines[vals[key]]}")
            wlan_lines[vals[key]] = line
    _warn_unknown(fname, loc, ("x_pos", "y_pos", "wlan_id", "attractiveness"), ctx)
    return vals


def _host(fname: str, h: Node, ctx: Warnings) -> dict:
    host = _machine(fname, h)
    vms_el = h.find_all("VMs")
    if not vms_el or not vms_el[0].find_all("VM"):
        raise EcsFormatError(f"{fname}:{h.line}: field 'VM': <host> needs <VMs><VM>...</VM></VMs>")
    vms = []
    for vm in vms_el[0].find_all("VM"):
        vms.append(_machine(fname, vm))
        _warn_unknown(fname, vm, ("core", "mips", "ram", "storage"), ctx)
    _warn_unknown(fname, h, ("core", "mips", "ram", "storage", "VMs"), ctx)
    if sum(v["cores"] for v in vms) > host["cores"] or max(v["mips"] for v in vms) > host["mips"]:
        ctx.warn(f"{fname}:{h.line}: the VMs of this host need more cores or MIPS than it has (EdgeCloudSim would "
                 f"fail to create them); mecoffload simulates the VMs as given")
    host["vms"] = vms
    return host


def parse_edge_devices(path: Path, ctx: Warnings) -> list[dict]:
    """The ``edge`` datacenters of an :class:`~.model.EcsScenario` from ``edge_devices.xml``."""
    fname = path.name
    _, dcs = children_of(path, "edge_devices", "datacenter", ctx)
    out = []
    wlan_lines: dict[int, int] = {}
    for i, dc in enumerate(dcs):
        _warn_unknown(fname, dc, DC_NO_EFFECT | {"location", "hosts"}, ctx)
        vals = _location(fname, dc, wlan_lines, ctx)
        hosts_el = dc.find_all("hosts")
        if not hosts_el or not hosts_el[0].find_all("host"):
            raise EcsFormatError(f"{fname}:{dc.line}: field 'host': <datacenter> needs <hosts><host>...</host></hosts>")
        hosts = [_host(fname, h, ctx) for h in hosts_el[0].find_all("host")]
        out.append({"name": f"edge-{i}", "x": float(vals["x_pos"]), "y": float(vals["y_pos"]), "wlan_id": vals["wlan_id"],
                    "attractiveness": vals["attractiveness"], "hosts": hosts})
    ids = sorted(wlan_lines)
    if ids != list(range(len(dcs))):
        bad = next(w for w in ids if w >= len(dcs))
        raise EcsFormatError(f"{fname}:{wlan_lines[bad]}: field 'wlan_id': must be 0..{len(dcs) - 1} (one access point per "
                             f"datacenter, as EdgeCloudSim assumes), got {bad}")
    return out
