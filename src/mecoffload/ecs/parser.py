"""Read an EdgeCloudSim scenario folder: ``default_config.properties``, ``applications.xml``,
``edge_devices.xml`` (the format of EdgeCloudSim's ``scripts/sample_app*/config/``), the loader
of EdgeCloudSim scenarios onto mecoffload's three-tier world.

:func:`import_folder` returns the :class:`~.model.EcsScenario` and a list of warnings, one per
key or element that is not simulated (each names the file, the line and the key). A
malformed file raises :class:`EcsFormatError` (a :class:`~mecoffload.core.errors.ScenarioError`):
one line ``FILE:LINE: field 'NAME': what is wrong``, which the CLI prints before exiting 2.
The files: :mod:`.properties`, :mod:`.applications`, :mod:`.edge_devices` (low-level readers:
:mod:`.readers`).
"""

from __future__ import annotations

from pathlib import Path

from .applications import parse_applications
from .edge_devices import parse_edge_devices
from .model import EcsScenario, validate_ecs_scenario
from .properties import parse_properties
from .readers import APPLICATIONS, EDGE_DEVICES, PROPERTIES, EcsFormatError, Warnings, read_properties, read_xml  # noqa: F401

def import_folder(folder: str | Path, name: str | None = None) -> tuple[EcsScenario, list[str]]:
    """Parse an EdgeCloudSim scenario folder (the ``config/`` folder, or a folder holding one)."""
    root = Path(folder)
    if not root.is_dir():
        raise EcsFormatError(f"{root}: not a folder (expected an EdgeCloudSim scenario folder with {PROPERTIES}, "
                             f"{APPLICATIONS}, {EDGE_DEVICES})")
    cfg = root
    if not (cfg / PROPERTIES).exists() and (root / "config" / PROPERTIES).exists():
        cfg = root / "config"
    ctx = Warnings()
    props = parse_properties(cfg / PROPERTIES, ctx)
    apps = parse_applications(cfg / APPLICATIONS, ctx)
    edge = parse_edge_devices(cfg / EDGE_DEVICES, ctx)
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
