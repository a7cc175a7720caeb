"""EdgeCloudSim scenarios in mecoffload: import a scenario folder onto the three-tier world of
:mod:`mecoffload.tiers`, run its sweep with EdgeCloudSim's semantics (vectorised, seeded),
compare with any mecoffload policy.

Loader: ``parser`` (``import_folder``; the files: ``properties``, ``applications``,
``edge_devices``; low-level ``readers`` with ``EcsFormatError``), ``model`` (the pydantic model of
the folder, TOML IO, ``to_tier_scenario``), ``writer`` (export back to EdgeCloudSim format),
``samples`` (sample_app1 settings and its published results). Engine: ``engine`` (EcsSim) with
``rules`` (orchestrator codes), ``network`` (M/M/1), ``mobility``, ``vmlists`` and ``placement``
(VM choice), ``processing`` (time-shared VMs), ``observe`` (observations for tier policies),
``metrics`` (EdgeCloudSim's figures). Policy: ``orchestrators`` (the orchestrators as the tier
policy ``ecs:SCENARIO/POLICY``). Evaluation: ``runner`` (the sweep), ``plots``.
"""
