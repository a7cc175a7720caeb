"""``applications.xml`` of an EdgeCloudSim folder -> the ``apps`` of an :class:`~.model.EcsScenario`
(one ``<application>`` each; EdgeCloudSim's units: s, KB, MI, %)."""

from __future__ import annotations

from pathlib import Path

from .readers import EcsFormatError, Warnings, children_of, number, text_of

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


def parse_applications(path: Path, ctx: Warnings) -> list[dict]:
    """The ``apps`` of an :class:`~.model.EcsScenario` from ``applications.xml``."""
    fname = path.name
    root, nodes = children_of(path, "applications", "application", ctx)
    apps = []
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
            raw, line = text_of(fname, node, key)
            lo, hi = APP_BOUNDS.get(key, (0, None))
            v = number(fname, line, key, raw, integer=integer, lo=lo)
            if hi is not None and v > hi:
                raise EcsFormatError(f"{fname}:{line}: field '{key}': must be <= {hi}, got '{raw}'")
            if key in APP_POSITIVE and v <= 0:
                raise EcsFormatError(f"{fname}:{line}: field '{key}': must be > 0, got '{raw}'")
            app[fld] = v
        for child in node.children:
            if child.tag in APP_FIELDS:
                continue
            if child.tag in APP_OPTIONAL_UNSUPPORTED:
                if child.text.strip() and number(fname, child.line, child.tag, child.text) != 0:
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
