"""Scenarios with the parameters of EdgeCloudSim's sample applications, built in Python.

:func:`sample_app1` has the settings of EdgeCloudSim's ``scripts/sample_app1`` (release of
2018, the one its published ``sample_app1/output`` logs come from): 14 access points with one
edge server each (2 VMs x 2 cores x 1000 MIPS), one cloud host with 4 VMs x 4 cores x 10000
MIPS, 4 applications, WLAN 200 Mbps, WAN 15 Mbps, 30 simulated minutes, 100..1000 devices.
``write_ecs_folder(sample_app1(), dir)`` writes it as an EdgeCloudSim folder (used by the
benchmark and the docs; the values are EdgeCloudSim's, the files are mecoffload's own).
"""

from __future__ import annotations

from .model import EcsScenario, validate_ecs_scenario


def _app(name, usage, cloud, inter, active, idle, up, down, length, edge_util, cloud_util):
    return {"name": name, "usage_pct": usage, "prob_cloud_pct": cloud, "interarrival_s": inter, "delay_sensitivity": 0.0,
            "active_s": active, "idle_s": idle, "upload_kb": up, "download_kb": down, "length_mi": length,
            "required_cores": 1, "vm_util_edge_pct": edge_util, "vm_util_cloud_pct": cloud_util, "vm_util_mobile_pct": 0.0}


def sample_app1(devices: tuple[int, int, int] = (100, 1000, 100), minutes: float = 30.0) -> EcsScenario:
    attract = [0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
    edge = [{"name": f"edge-{i}", "x": float(i + 1), "y": float(i + 1), "wlan_id": i, "attractiveness": a,
             "hosts": [{"cores": 8, "mips": 4000.0, "ram_mb": 8000.0,
                        "vms": [{"cores": 2, "mips": 1000.0, "ram_mb": 2000.0}] * 2}]}
            for i, a in enumerate(attract)]
    data = {
        "name": "sample_app1",
        "description": "EdgeCloudSim sample_app1 settings (2018 release)",
        "sim": {"simulation_time_s": 60.0 * minutes, "warmup_s": 180.0, "load_check_interval_s": 6.0},
        "devices": {"min": devices[0], "max": devices[1], "step": devices[2]},
        "apps": [
            _app("AUGMENTED_REALITY", 30, 20, 5, 45, 15, 1500, 25, 2000, 20, 2),
            _app("HEALTH_APP", 20, 20, 30, 10, 20, 1250, 20, 400, 5, 0.5),
            _app("HEAVY_COMP_APP", 20, 40, 60, 60, 60, 2500, 250, 3000, 30, 3),
            _app("INFOTAINMENT_APP", 30, 15, 7, 15, 45, 25, 2000, 750, 10, 1),
        ],
        "edge": edge,
        "cloud": {"hosts": 1, "vms_per_host": 4, "cores": 4, "mips": 10000.0, "ram_mb": 32000.0},
        "network": {"wlan_mbps": 200.0, "wan_mbps": 15.0, "wan_propagation_s": 0.1, "lan_internal_delay_s": 0.005},
        "mobility": {"mean_dwell_s": [500.0, 300.0, 120.0]},
        "orchestrator_policies": ["NEXT_FIT"],
        "simulation_scenarios": ["SINGLE_TIER", "TWO_TIER", "TWO_TIER_WITH_EO"],
    }
    return validate_ecs_scenario(data, "sample_app1")


# EdgeCloudSim's published sample_app1 results (scripts/sample_app1/output/30-08-2018_15-27/
# default_config/ite1.log; NEXT_FIT, one iteration): devices -> scenario -> figures.
# fail = failed tasks %, service / processing / network = average s, edge_util = average edge VM
# utilisation %, vm / mob = failed due to VM capacity / mobility, % of all tasks.
SAMPLE_APP1_REFERENCE = {
    100: {"SINGLE_TIER": (1.139, 1.894, 1.875, 0.0191, 7.88, 0.14, 1.00), "TWO_TIER": (0.841, 1.549, 1.439, 0.1102, 5.25, 0.05, 0.79),
          "TWO_TIER_WITH_EO": (0.796, 1.519, 1.398, 0.1208, 4.84, 0.00, 0.80)},
    200: {"SINGLE_TIER": (6.875, 2.330, 2.311, 0.0194, 19.48, 5.90, 0.98), "TWO_TIER": (1.607, 1.778, 1.661, 0.1175, 12.98, 0.77, 0.84),
          "TWO_TIER_WITH_EO": (0.814, 1.550, 1.429, 0.1219, 11.87, 0.00, 0.81)},
    300: {"SINGLE_TIER": (13.369, 2.819, 2.799, 0.0197, 32.89, 12.48, 0.89), "TWO_TIER": (4.487, 1.943, 1.822, 0.1208, 19.93, 3.70, 0.79),
          "TWO_TIER_WITH_EO": (0.727, 1.519, 1.398, 0.1212, 15.66, 0.00, 0.73)},
    400: {"SINGLE_TIER": (19.669, 2.859, 2.839, 0.0201, 38.88, 18.66, 1.01), "TWO_TIER": (7.859, 2.165, 2.039, 0.1260, 31.11, 6.93, 0.93),
          "TWO_TIER_WITH_EO": (0.855, 1.736, 1.612, 0.1235, 25.85, 0.00, 0.86)},
    500: {"SINGLE_TIER": (24.827, 3.021, 3.001, 0.0203, 48.12, 23.81, 1.02), "TWO_TIER": (11.695, 2.240, 2.111, 0.1290, 36.38, 10.89, 0.80),
          "TWO_TIER_WITH_EO": (0.908, 1.978, 1.850, 0.1277, 37.67, 0.00, 0.91)},
    600: {"SINGLE_TIER": (24.749, 2.971, 2.950, 0.0207, 49.61, 23.80, 0.95), "TWO_TIER": (16.340, 2.315, 2.175, 0.1408, 43.08, 15.45, 0.89),
          "TWO_TIER_WITH_EO": (1.056, 2.328, 2.200, 0.1273, 50.90, 0.00, 1.06)},
    700: {"SINGLE_TIER": (38.119, 3.203, 3.182, 0.0210, 59.74, 37.09, 1.03), "TWO_TIER": (23.611, 2.404, 2.252, 0.1524, 48.76, 22.75, 0.86),
          "TWO_TIER_WITH_EO": (4.172, 3.057, 2.923, 0.1337, 80.10, 2.83, 1.34)},
    800: {"SINGLE_TIER": (42.047, 3.295, 3.273, 0.0214, 64.46, 41.05, 0.99), "TWO_TIER": (25.128, 2.420, 2.260, 0.1604, 53.86, 24.27, 0.86),
          "TWO_TIER_WITH_EO": (6.033, 3.104, 2.966, 0.1378, 83.88, 4.69, 1.34)},
    900: {"SINGLE_TIER": (44.241, 3.405, 3.383, 0.0217, 70.06, 43.27, 0.98), "TWO_TIER": (32.253, 2.507, 2.330, 0.1769, 62.00, 31.44, 0.81),
          "TWO_TIER_WITH_EO": (14.812, 3.278, 3.126, 0.1519, 92.69, 13.59, 1.22)},
    1000: {"SINGLE_TIER": (48.561, 3.445, 3.423, 0.0221, 72.88, 47.62, 0.94), "TWO_TIER": (32.969, 2.570, 2.391, 0.1794, 67.74, 32.15, 0.82),
           "TWO_TIER_WITH_EO": (24.562, 3.265, 3.094, 0.1704, 95.80, 23.48, 1.09)},
}
REFERENCE_FIELDS = ("failed_pct", "service_time_s", "processing_time_s", "network_delay_s", "edge_vm_util_pct",
                    "fail_vm_capacity_pct", "fail_mobility_pct")
