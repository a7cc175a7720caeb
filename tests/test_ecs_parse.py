"""EdgeCloudSim scenario folders: parsing, units, warnings for unsupported keys, malformed files,
round trips (TOML, back to EdgeCloudSim files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mecoffload.ecs.model import EcsScenario, dump_toml, load_ecs_scenario
from mecoffload.ecs.parser import EcsFormatError, import_folder, read_properties
from mecoffload.ecs.samples import sample_app1
from mecoffload.ecs.writer import write_ecs_folder
from mecoffload.core.errors import ScenarioError

FIX = Path(__file__).parent / "fixtures"


def test_small_folder_fields_and_units():
    sc, warnings = import_folder(FIX / "ecs_small")
    assert warnings == []
    assert sc.name == "ecs_small"
    assert sc.sim.simulation_time_s == 240.0 and sc.sim.warmup_s == 30.0  # minutes in the file
    assert sc.sim.load_check_interval_s == pytest.approx(3.0)
    assert sc.devices.counts() == [20, 50, 80]
    assert [a.name for a in sc.apps] == ["CAMERA", "SENSOR", "BATCH"]
    cam = sc.apps[0]
    assert (cam.usage_pct, cam.prob_cloud_pct, cam.interarrival_s, cam.active_s, cam.idle_s) == (50, 25, 3, 30, 10)
    assert (cam.upload_kb, cam.download_kb, cam.length_mi, cam.required_cores) == (800, 40, 1500, 1)
    assert (cam.vm_util_edge_pct, cam.vm_util_cloud_pct, cam.delay_sensitivity) == (25, 2.5, 0.5)
    assert [e.attractiveness for e in sc.edge] == [0, 1, 2] and [e.wlan_id for e in sc.edge] == [0, 1, 2]
    assert [(v.cores, v.mips) for v in sc.edge[2].hosts[0].vms] == [(2, 1500.0), (1, 1500.0)]
    assert (sc.cloud.hosts, sc.cloud.vms_per_host, sc.cloud.cores, sc.cloud.mips) == (1, 2, 2, 8000.0)
    assert (sc.network.wlan_mbps, sc.network.wan_mbps) == (100.0, 20.0)
    assert (sc.network.wan_propagation_s, sc.network.lan_internal_delay_s, sc.network.fail_delay_s) == (0.05, 0.004, 5.0)
    assert sc.mobility.mean_dwell_s == [90.0, 60.0, 30.0]  # used as seconds, as EdgeCloudSim does
    assert sc.orchestrators() == ["SINGLE_TIER/NEXT_FIT", "SINGLE_TIER/FIRST_FIT", "TWO_TIER/NEXT_FIT",
                                  "TWO_TIER/FIRST_FIT", "TWO_TIER_WITH_EO/NEXT_FIT", "TWO_TIER_WITH_EO/FIRST_FIT"]


def test_unsupported_keys_warn_one_by_one():
    sc, warnings = import_folder(FIX / "ecs_eo")
    text = "\n".join(warnings)
    for needle in ["default_config.properties:19: unsupported key 'man_bandwidth'",
                   "default_config.properties:21: unsupported key 'wlan_range'",
                   "default_config.properties:22: unsupported key 'my_custom_setting'",
                   "unsupported key 'core_for_mobile_vm'", "unsupported key 'mips_for_mobile_vm'",
                   "unsupported orchestrator policy 'FUZZY_BASED'",
                   "applications.xml:17: unsupported key 'max_delay_requirement'",
                   "applications.xml:18: unsupported key 'priority'",
                   "edge_devices.xml:8: unsupported element <energy>"]:
        assert needle in text, needle
    assert len(warnings) == 9  # one per setting, nothing else
    # the old spelling of the WAN propagation delay is read; FUZZY_BASED is skipped
    assert sc.network.wan_propagation_s == 0.1
    assert sc.orchestrators() == ["TWO_TIER_WITH_EO/NETWORK_BASED", "TWO_TIER_WITH_EO/UTILIZATION_BASED",
                                  "TWO_TIER_WITH_EO/HYBRID"]
    # two hosts in a datacenter: their VMs form one list
    assert [len(h.vms) for h in sc.edge[1].hosts] == [1, 1]


def test_bandwidth_zero_is_a_warning_with_the_value_used(tmp_path):
    d = tmp_path / "app2like"
    shutil.copytree(FIX / "ecs_small", d)
    p = d / "default_config.properties"
    p.write_text(p.read_text().replace("wlan_bandwidth=100", "wlan_bandwidth=0").replace("wan_bandwidth=20\n", ""))
    sc, warnings = import_folder(d)
    assert any("'wlan_bandwidth' = 0" in w and "200 Mbps" in w for w in warnings)
    assert any("'wan_bandwidth' = 0" in w for w in warnings)  # missing: EdgeCloudSim's default 0
    assert (sc.network.wlan_mbps, sc.network.wan_mbps) == (200.0, 15.0)


@pytest.mark.parametrize("folder, needle", [
    ("ecs_malformed_properties", "default_config.properties:3: field 'simulation_time': expected a number, got 'four'"),
    ("ecs_malformed_xml", "edge_devices.xml:17: field '<mips>': malformed XML"),
])
def test_malformed_fixture_folders(folder, needle):
    with pytest.raises(EcsFormatError) as exc:
        import_folder(FIX / folder)
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg


def _mutate(tmp_path, fname, old, new):
    d = tmp_path / "f"
    shutil.copytree(FIX / "ecs_small", d)
    p = d / fname
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))
    return d


@pytest.mark.parametrize("fname, old, new, needle", [
    ("applications.xml", "<task_length>1500</task_length>", "", "applications.xml:3: field 'task_length': missing"),
    ("applications.xml", "<required_core>1</required_core>", "<required_core>1.5</required_core>",
     "applications.xml:13: field 'required_core': expected an integer, got '1.5'"),
    ("applications.xml", "<usage_percentage>50</usage_percentage>", "<usage_percentage>150</usage_percentage>",
     "applications.xml:4: field 'usage_percentage': must be <= 100"),
    ("edge_devices.xml", "<wlan_id>2</wlan_id>", "<wlan_id>1</wlan_id>", "field 'wlan_id': 1 already used at line"),
    ("edge_devices.xml", "<attractiveness>2</attractiveness>", "<attractiveness>3</attractiveness>",
     "field 'attractiveness': must be 0, 1 or 2"),
    ("default_config.properties", "wlan_bandwidth=100\n", "", "default_config.properties:36: field 'wlan_bandwidth': missing"),
    ("default_config.properties", "max_number_of_mobile_devices=80", "max_number_of_mobile_devices=10",
     "field 'max_number_of_mobile_devices': smaller than min_number_of_mobile_devices"),
    ("default_config.properties", "warm_up_period=0.5", "warm_up_period=9",
     "field 'warm_up_period': must be shorter than simulation_time"),
])
def test_malformed_fields_name_file_line_field(tmp_path, fname, old, new, needle):
    with pytest.raises(EcsFormatError) as exc:
        import_folder(_mutate(tmp_path, fname, old, new))
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_file_and_not_a_folder(tmp_path):
    d = tmp_path / "f"
    shutil.copytree(FIX / "ecs_small", d)
    (d / "applications.xml").unlink()
    with pytest.raises(ScenarioError, match="applications.xml: file not found"):
        import_folder(d)
    with pytest.raises(ScenarioError, match="not a folder"):
        import_folder(tmp_path / "nope")


def test_properties_syntax(tmp_path):
    p = tmp_path / "x.properties"
    p.write_text("# comment\n! also a comment\n\n  a = 1\nb:2\nc 3\nlong=1,\\\n   2\na=4\n")
    props, n = read_properties(p)
    assert {k: v for k, (v, _) in props.items()} == {"a": "4", "b": "2", "c": "3", "long": "1,2"}
    assert props["a"][1] == 9 and props["long"][1] == 7 and n == 9


def test_toml_round_trip(tmp_path):
    sc, warnings = import_folder(FIX / "ecs_eo")
    path = tmp_path / "eo.toml"
    path.write_text(dump_toml(sc, [f"import warning: {w}" for w in warnings]))
    back = load_ecs_scenario(path)
    assert back == sc
    with pytest.raises(ScenarioError, match="invalid EdgeCloudSim scenario field .sim.slot_s."):
        path.write_text(path.read_text().replace("slot_s = 0.25", "slot_s = -1.0"))
        load_ecs_scenario(path)


def test_edgecloudsim_folder_round_trip(tmp_path):
    for sc in (import_folder(FIX / "ecs_small")[0], import_folder(FIX / "ecs_eo")[0], sample_app1()):
        d = write_ecs_folder(sc, tmp_path / sc.name)
        back, warnings = import_folder(d)
        assert warnings == []
        keep = {"name", "source", "description"}
        assert back.model_dump(exclude=keep) == sc.model_dump(exclude=keep)


def test_sample_app1_settings():
    sc = sample_app1()
    assert isinstance(sc, EcsScenario)
    assert len(sc.edge) == 14 and sum(len(h.vms) for e in sc.edge for h in e.hosts) == 28
    assert sc.devices.counts() == list(range(100, 1001, 100))
    assert sc.sim.simulation_time_s == 1800.0 and sc.orchestrators()[0] == "SINGLE_TIER/NEXT_FIT"
    tier = sc.to_tier_scenario(1000)
    assert tier.devices.count == 1000 and len(tier.edge) == 14 and tier.devices.phase == "edgecloudsim"
