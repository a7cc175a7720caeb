"""Three-tier IoT offloading (seed 002): local edge / remote edge / cloud datacenters with
hosts and VMs, EdgeCloudSim-like network and admission semantics, fuzzy orchestrators and
the TierSelection + VMCompatibility networks.

Modules: ``config`` (pydantic scenario + presets), ``workload`` (exogenous tasks, mobility),
``network`` (WLAN/MAN/WAN delay models), ``dynamics`` (vectorised engine), ``metrics``,
``fuzzy`` (vectorised Mamdani inference), ``policies`` (tier registry), ``dlnet``
(Algorithm 1 networks, torch imported lazily), ``adapter`` (run ``mecoffload.policies`` on
tiers), ``evaluate`` and ``cli``. Units are in names and docstrings: s, MI, MIPS, Mbps, KB, MB.
"""
