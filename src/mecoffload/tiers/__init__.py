"""The three-tier world (seed 002; also the world of EdgeCloudSim scenarios): local edge /
remote edge / cloud datacenters with hosts and VMs, WLAN/MAN/WAN links, IoT devices with apps
and mobility; the seed-002 engine on it; the tier policies.

Two engines share this world and everything around it: :class:`~.dynamics.TierSim` (seed 002
semantics: epochs, tier and VM chosen at dispatch with reservations, deferral, deadlines,
per-slot link capacities) and :class:`mecoffload.ecs.engine.EcsSim` (EdgeCloudSim semantics:
tier at creation, VM at upload end, M/M/1 network, no queue). Both decide through the
:class:`~.obs.TierPolicy` protocol and produce the same task outcomes.

World and shared parts (engine layer): ``config`` (pydantic scenario + TOML presets),
``workload`` (static layout, exogenous tasks, mobility), ``network`` (link models and
:class:`~.network.LinkState`), ``outcomes`` (task states, failure reasons, accounting,
aggregation), ``arrays`` (group sums), ``obs`` (observation, policy protocol, DEFER/REJECT),
``choice`` (VM choice inside a tier), ``errors``. Seed-002 engine: ``dynamics`` (TierSim),
``vms`` (time-shared VMs), ``metrics`` (seed 002 §V). Policies: ``policies`` (registry
``TIER_POLICIES`` and baselines), ``fuzzy`` (Mamdani inference), ``adapter`` (run
``mecoffload.policies`` on tiers); learner: ``dlnet`` (Algorithm 1, torch imported lazily);
evaluation: ``evaluate``. Units are in names and docstrings: s, MI, MIPS, Mbps, KB, MB, %.
"""
