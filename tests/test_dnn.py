"""DNN split analysis: the latency / energy formulas on a hand-sized profile, the Neurosurgeon rule's
guarantees (never worse than all-local or all-edge, better with more bandwidth), input errors as one
line, the `dnn` commands and the `dnn-split` experiment's outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mecoffload.cli import main
from mecoffload.core.errors import UserError
from mecoffload.dnn.devices import DEVICES, SERVERS, UPLINKS, Processor, Uplink, pick
from mecoffload.dnn.partition import layer_times, neurosurgeon_summary, split_costs
from mecoffload.dnn.profiles import NETWORKS, from_doc, load_profile


def _layer(name, conv=0, dense=0, other=0, params=0, shape=(1, 10)):
    return {"name": name, "type": "X", "conv_macs": conv, "dense_macs": dense, "attention_macs": 0,
            "other_elems": other, "params": params, "out_shape": list(shape)}


TINY = from_doc({"name": "tiny", "input_shape": [1, 100],
                 "layers": [_layer("a", conv=1e9, shape=(1, 50)), _layer("b", dense=1e6, params=1e6, shape=(1, 10))]})
DEV = Processor("d", "test device", {"conv": 1e10, "dense": 1e10, "attention": 1e10}, 1e9, p_compute_w=2.0, p_idle_w=0.5)
SRV = Processor("s", "test server", {"conv": 1e12, "dense": 1e12, "attention": 1e12}, 1e11)
LINK = Uplink("l", 8.0, 0.1, 1.0)


def test_layer_times_are_the_roofline_bound():
    # layer a: 2e9 FLOP / 1e10 = 0.2 s (compute bound); layer b: 4e6 B / 1e9 = 4 ms > 2e6 / 1e10
    assert layer_times(TINY, DEV) == pytest.approx([0.2, 4e-3])
    assert layer_times(TINY, SRV) == pytest.approx([2e-3, 4e-5])


def test_split_costs_by_hand():
    c = split_costs(TINY, DEV, SRV, LINK, include_idle=True)
    # k = 0: the 8-bit input (100 B) at 8 Mbit/s; k = 1: 50 fp32 (200 B); k = 2: nothing crosses
    assert c.upload_s[0] == pytest.approx([800 / 8e6, 1600 / 8e6, 0.0])
    assert c.device_s[0] == pytest.approx([0.0, 0.2, 0.204])
    assert c.server_s[0] == pytest.approx([2.04e-3, 4e-5, 0.0])
    tx = 0.1 * 8 + 1.0
    assert c.energy_j[0] == pytest.approx(2.0 * c.device_s[0] + tx * c.upload_s[0] + 0.5 * c.server_s[0])
    s = neurosurgeon_summary(c, "latency")
    assert s["split"][0] == 0 and s["speedup_vs_edge"][0] == 1.0
    assert s["speedup_vs_local"][0] == pytest.approx(0.204 / (1e-4 + 2.04e-3))
    int8 = split_costs(TINY, DEV, SRV, LINK, bytes_per_element=1.0)
    assert int8.upload_s[0, 1] == pytest.approx(c.upload_s[0, 1] / 4)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(NETWORKS), st.sampled_from(list(DEVICES)), st.sampled_from(list(SERVERS)),
       st.floats(0.05, 1000.0), st.sampled_from(["latency", "energy"]))
def test_the_rule_is_never_worse_than_local_or_edge(net, dev, srv, mbps, objective):
    c = split_costs(load_profile(net), DEVICES[dev], SERVERS[srv], UPLINKS["wifi"], mbps)
    s = neurosurgeon_summary(c, objective)
    if objective == "latency":
        assert s["speedup_vs_local"][0] >= 1 - 1e-12 and s["speedup_vs_edge"][0] >= 1 - 1e-12
        assert s["latency_s"][0] == pytest.approx(c.latency_s.min())
    else:
        assert s["energy_reduction_vs_local_pct"][0] >= -1e-9 and s["energy_reduction_vs_edge_pct"][0] >= -1e-9
    assert all(math.isfinite(float(v[0])) for v in s.values())


def test_more_bandwidth_never_slows_the_best_split():
    rates = np.geomspace(0.1, 500, 40)
    for net in NETWORKS:
        best = split_costs(load_profile(net), DEVICES["tk1"], SERVERS["titanx"], UPLINKS["wifi"], rates).latency_s.min(axis=1)
        assert np.all(np.diff(best) <= 1e-12)


def test_bad_inputs_are_one_line_errors():
    p = load_profile("alexnet")
    with pytest.raises(UserError, match="throughput"):
        split_costs(p, DEVICES["tk1"], SERVERS["t4"], UPLINKS["lte"], [0.0])
    with pytest.raises(UserError, match="idle power"):
        split_costs(p, DEVICES["jetson-nano"], SERVERS["t4"], UPLINKS["lte"], include_idle=True)
    with pytest.raises(UserError, match="objective"):
        split_costs(p, DEVICES["tk1"], SERVERS["t4"], UPLINKS["lte"]).best("speed")
    with pytest.raises(UserError, match="device must be one of"):
        pick(DEVICES, "iphone", "device")
    with pytest.raises(UserError, match="network must be one of"):
        load_profile("lenet")


def test_every_constant_has_a_source():
    for proc in [*DEVICES.values(), *SERVERS.values()]:
        assert proc.sources.get("rate") and proc.sources.get("mem_bw"), proc.name
        assert set(proc.rate) == {"conv", "dense", "attention"} and min(proc.rate.values()) > 0
    for dev in DEVICES.values():
        assert dev.p_compute_w > 0 and dev.sources.get("p_compute_w")
    assert [u.mbps for u in UPLINKS.values()] == [1.1, 5.85, 18.88]


def test_dnn_commands(capsys, tmp_path, monkeypatch):
    assert main(["dnn", "show", "resnet18"]) == 0
    shown = capsys.readouterr().out
    assert "1.814 GMAC" in shown and "layer4.1" in shown
    assert main(["dnn", "profile", "lenet"]) == 2
    assert capsys.readouterr().err.count("error:") == 1
    monkeypatch.setenv("MECOFFLOAD_TORCHVISION_DIR", str(tmp_path))  # a folder without torchvision
    assert main(["dnn", "profile", "alexnet", "--out", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err
    assert "make setup-dnn" in err and not (tmp_path / "a.json").exists()


def test_experiment_writes_tables_plots_and_consistent_numbers(tmp_path):
    from mecoffload.experiments.dnn_split import run

    doc = run("small", tmp_path, 0, load={"networks": ("alexnet", "vgg16"), "devices": (1, 6), "links": ("wifi",)})
    for f in ("report.md", "results.json", "wifi.md", "wifi.csv", "profiles.md", "ddlro.md", "grid.csv",
              "speedup_vs_bandwidth.png", "energy_vs_bandwidth.png", *[f"layers_{n}.png" for n in NETWORKS],
              "load.csv", "load_mixed.md", "load_claims.md", "split_vs_load.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    assert json.loads((tmp_path / "results.json").read_text()) == doc  # strict JSON: no NaN anywhere
    rows = doc["wifi"]["rows"]
    assert [r["network"] for r in rows] == list(NETWORKS)
    for r in rows:  # the table's numbers are the partition module's, recomputed here
        s = neurosurgeon_summary(split_costs(load_profile(r["network"]), DEVICES["tk1"], SERVERS["titanx"],
                                             UPLINKS["wifi"]), "latency")
        assert r["speedup_vs_local"] == pytest.approx(float(s["speedup_vs_local"][0]))
    assert doc["wifi"]["mean"]["speedup_vs_local"] == pytest.approx(np.mean([r["speedup_vs_local"] for r in rows]))
    assert doc["ddlro"]["settings"] == len(doc["grid"]) == len(NETWORKS) * len(DEVICES) * len(SERVERS) * len(UPLINKS) * 2
    assert "not done" in (tmp_path / "report.md").read_text().lower()
    load = doc["load"]
    from mecoffload.experiments.dnn_load import POLICIES, learned_specs

    assert learned_specs() == {"setnet-dnn:checkpoints/setnet-dnn-wifi": "setnet-dnn",  # the shipped checkpoints
                               "setnet-dnn:checkpoints/setnet-dnn-realized-wifi": "setnet-dnn-realized"}
    assert len(load["rows"]) == 3 * 2 * (len(POLICIES) + 2)  # (mixed, alexnet, vgg16) x devices x policies
    assert sum(r["policy"] == "setnet-dnn" for r in load["rows"]) == 3 * 2
    assert sum(r["policy"] == "setnet-dnn-realized" for r in load["rows"]) == 3 * 2
    assert {c["network"] for c in load["claims"]} == {"mixed", "alexnet", "vgg16"}
    for r in load["rows"]:
        if r["policy"] == "dnn-local":
            assert r["speedup_vs_local"] == 1.0 and r["split_local_pct"] == 100.0
        if r["policy"].startswith("dnn-edge"):
            assert r["split_edge_pct"] == 100.0
    c = next(c for c in load["claims"] if c["network"] == "vgg16")
    at = {r["policy"]: r for r in load["rows"] if r["network"] == "vgg16" and r["devices"] == 6}
    assert c["p95_oracle_s"] == at["dnn-oracle"]["realized_p95_s"]
    assert "Under load" in (tmp_path / "report.md").read_text()
    comp = doc["compress"]  # mixed, alexnet, vgg16 x wifi x (off, on at 1 point, at 3 points but for alexnet) x 5 policies
    assert len(comp["rows"]) == 8 * 5 and comp["devices"] == 6 and len(comp["claims"]) == 5
    off = {(r["network"], r["policy"]): r for r in comp["rows"] if r["variants"] == "off"}
    for r in load["rows"]:  # fp32 points reused from the load grid
        if r["devices"] == 6 and r["policy"] in POLICIES:
            assert off[(r["network"], r["policy"])]["realized_mean_s"] == r["realized_mean_s"]
    assert (tmp_path / "compress_claims.md").stat().st_size > 0 and (tmp_path / "compress.csv").stat().st_size > 0
    for c in comp["claims"]:
        assert c["top1_on"] >= c["top1_off"] - (1.0 if c["variants"].endswith("1") else 3.0) - 1e-9
    alex = next(c for c in comp["claims"] if c["network"] == "alexnet" and c["variants"] == "on, loss <= 1")
    assert alex["pruned_pct"] > 0 and alex["int8_pct"] == 0  # no int8 AlexNet; pruned AlexNet runs faster on the TK1
    assert "Compressed variants" in (tmp_path / "report.md").read_text()
