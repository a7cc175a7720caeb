"""EdgeCloudSim scenarios in mecoffload: import a scenario folder, run its sweep with
EdgeCloudSim's semantics (vectorised, seeded), compare with any mecoffload policy.

Modules: ``parser`` (default_config.properties, applications.xml, edge_devices.xml ->
:class:`~.model.EcsScenario`, warnings, exit-2 errors), ``model`` (pydantic model, TOML
IO, mapping to the three-tier config), ``orchestrators`` (EdgeCloudSim's orchestrator
policies; also registered as the tier policy ``ecs:SCENARIO/POLICY``), ``engine`` (the
vectorised simulation), ``metrics`` (EdgeCloudSim's figures), ``runner`` (the sweep),
``plots``, ``writer`` (export back to EdgeCloudSim format), ``samples`` (sample_app1 settings
and its published results), ``cli`` (``import-ecs``, ``run-ecs``).
"""
