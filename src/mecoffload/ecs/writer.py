"""Write an :class:`~.model.EcsScenario` back as an EdgeCloudSim scenario folder
(``default_config.properties``, ``applications.xml``, ``edge_devices.xml``).

Round trip: ``import_folder(write_ecs_folder(sc, d))`` gives ``sc`` back (names aside), so a
scenario tuned in mecoffload can be run in EdgeCloudSim for comparison.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from .model import EcsScenario


def _g(x: float) -> str:
    """Shortest text of a number that reads back to the same value (integers without '.0')."""
    if float(x) == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def write_ecs_folder(sc: EcsScenario, folder: str | Path) -> Path:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    s, n, c = sc.sim, sc.network, sc.cloud
    props = [
        f"# EdgeCloudSim settings written by mecoffload from scenario '{sc.name}'",
        f"simulation_time={_g(s.simulation_time_s / 60.0)}",
        f"warm_up_period={_g(s.warmup_s / 60.0)}",
        f"vm_load_check_interval={_g(s.load_check_interval_s / 60.0)}",
        f"location_check_interval={_g(s.load_check_interval_s / 60.0)}",
        "file_log_enabled=true",
        "deep_file_log_enabled=false",
        "",
        f"min_number_of_mobile_devices={sc.devices.min}",
        f"max_number_of_mobile_devices={sc.devices.max}",
        f"mobile_device_counter_size={sc.devices.step}",
        "",
        f"wan_propagation_delay={_g(n.wan_propagation_s)}",
        f"lan_internal_delay={_g(n.lan_internal_delay_s)}",
        f"wlan_bandwidth={_g(n.wlan_mbps)}",
        f"wan_bandwidth={_g(n.wan_mbps)}",
        "gsm_bandwidth=0",
        "",
        f"number_of_host_on_cloud_datacenter={c.hosts}",
        f"number_of_vm_on_cloud_host={c.vms_per_host}",
        f"core_for_cloud_vm={c.cores}",
        f"mips_for_cloud_vm={_g(c.mips)}",
        f"ram_for_cloud_vm={_g(c.ram_mb)}",
        "storage_for_cloud_vm=1000000",
        "",
        "core_for_mobile_vm=0",
        "mips_for_mobile_vm=0",
        "ram_for_mobile_vm=0",
        "storage_for_mobile_vm=0",
        "",
        f"orchestrator_policies={','.join(sc.orchestrator_policies)}",
        f"simulation_scenarios={','.join(sc.simulation_scenarios)}",
        "",
    ]
    for i, d in enumerate(sc.mobility.mean_dwell_s):
        props.append(f"attractiveness_L{i + 1}_mean_waiting_time={_g(d)}")
    for i in range(len(sc.mobility.mean_dwell_s), 3):
        props.append(f"attractiveness_L{i + 1}_mean_waiting_time={_g(sc.mobility.mean_dwell_s[-1])}")
    (out / "default_config.properties").write_text("\n".join(props) + "\n")

    apps = ['<?xml version="1.0"?>', "<applications>"]
    for a in sc.apps:
        apps.append(f"  <application name={quoteattr(a.name)}>")
        for tag, v in (("usage_percentage", a.usage_pct), ("prob_cloud_selection", a.prob_cloud_pct),
                       ("poisson_interarrival", a.interarrival_s), ("delay_sensitivity", a.delay_sensitivity),
                       ("active_period", a.active_s), ("idle_period", a.idle_s), ("data_upload", a.upload_kb),
                       ("data_download", a.download_kb), ("task_length", a.length_mi), ("required_core", a.required_cores),
                       ("vm_utilization_on_edge", a.vm_util_edge_pct), ("vm_utilization_on_cloud", a.vm_util_cloud_pct),
                       ("vm_utilization_on_mobile", a.vm_util_mobile_pct)):
            apps.append(f"    <{tag}>{_g(v)}</{tag}>")
        apps.append("  </application>")
    apps.append("</applications>")
    (out / "applications.xml").write_text("\n".join(apps) + "\n")

    dev = ['<?xml version="1.0"?>', "<edge_devices>"]
    for e in sc.edge:
        dev += ['  <datacenter arch="x86" os="Linux" vmm="Xen">',
                "    <costPerBw>0.1</costPerBw>", "    <costPerSec>3.0</costPerSec>",
                "    <costPerMem>0.05</costPerMem>", "    <costPerStorage>0.1</costPerStorage>",
                "    <location>", f"      <x_pos>{_g(e.x)}</x_pos>", f"      <y_pos>{_g(e.y)}</y_pos>",
                f"      <wlan_id>{e.wlan_id}</wlan_id>", f"      <attractiveness>{e.attractiveness}</attractiveness>",
                "    </location>", "    <hosts>"]
        for h in e.hosts:
            dev += ["      <host>", f"        <core>{h.cores}</core>", f"        <mips>{_g(h.mips)}</mips>",
                    f"        <ram>{_g(h.ram_mb)}</ram>", "        <storage>200000</storage>", "        <VMs>"]
            for v in h.vms:
                dev += ['          <VM vmm="Xen">', f"            <core>{v.cores}</core>", f"            <mips>{_g(v.mips)}</mips>",
                        f"            <ram>{_g(v.ram_mb)}</ram>", "            <storage>50000</storage>", "          </VM>"]
            dev += ["        </VMs>", "      </host>"]
        dev += ["    </hosts>", "  </datacenter>"]
    dev.append("</edge_devices>")
    (out / "edge_devices.xml").write_text("\n".join(dev) + "\n")
    return out
