"""Issue 16 (seed 004) single-device part: DNN split points on one device beside one edge server.

For each network x device class x edge server x uplink (Neurosurgeon's 3G 1.1, LTE 5.85, Wi-Fi
18.88 Mbit/s): latency and device energy of every split point (:mod:`mecoffload.dnn.partition`),
the Neurosurgeon rule (least latency, or least device energy) and its gains over all-local and
all-edge. Writes ``profiles.md|csv`` (the layer profiles and their cross-checks), ``wifi.md|csv``
(the headline table: Neurosurgeon's devices, Wi-Fi), ``grid.csv`` (every combination),
``ddlro.md|csv`` (DDLRO's "-60 % latency, -40 % energy" claim against the best non-partitioned
choice), ``results.json``, ``report.md`` and the plots ``layers_<net>.png`` (Neurosurgeon Fig. 3
style), ``speedup_vs_bandwidth.png``, ``energy_vs_bandwidth.png``.

The load part (``experiments.dnn_load``): 1 / 10 / 40 devices on 4 servers in the MEC engine, the
load-aware partitioner against Neurosurgeon's per-task rule and the whole-model baselines
(``load.md|csv``, ``load_mixed.md``, ``load_claims.md|csv``, ``split_vs_load.png``). The compression
part (``experiments.dnn_compress``): fp32 / int8 / pruned variants off and on at 40 devices, DDLRO's
claim with compression + load balancing (``compress.md|csv``, ``compress_claims.md|csv``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..dnn.devices import DEVICES, SERVERS, UPLINKS
from ..dnn.partition import layer_times, neurosurgeon_summary, split_costs
from ..dnn.profiles import NETWORKS, Profile, load_profile
from .dnn_compress import run_compress
from .dnn_load import mean_claims, run_load
from .tables import Stages, finish, write_table

REFERENCE_GMAC = {"vgg16": 15.5, "resnet50": 4.1, "alexnet": 0.71}
"""issue 16's cross-check figures at 224 x 224 (GMAC)"""

NEUROSURGEON = {"speedup": 3.1, "energy_reduction_pct": 59.5}
"""Kang et al., ASPLOS 2017, abstract: average gains over the cloud-only status quo (8 DNNs, 3 links)"""

DDLRO = {"latency_reduction_pct": 60.0, "energy_reduction_pct": 40.0}
"""seed 004's claim: up to 60 % lower latency and 40 % better energy efficiency"""

HEADLINE = ("tk1", "titanx")
"""Neurosurgeon's pair: Tegra K1 mobile, Titan X server"""

BANDWIDTHS = np.geomspace(0.25, 200.0, 49)
"""uplink sweep of the bandwidth plots (Mbit/s); power model of Wi-Fi (Huang et al. 2012)"""


def run(budget: str, out: Path, seed: int, progress: bool = False, load: dict | None = None) -> dict:
    """Run the single-device analysis (deterministic, well under a minute) and the load part into
    ``out``; ``budget`` sets the load part's episodes (``dnn_load.EPISODES``), ``seed`` its arrivals;
    ``load`` (keyword arguments of ``run_load``: networks, devices, links) narrows its grid (tests), and the
    compression part's with it (those networks and links, the Tegra K1 only, at the largest load)."""
    t_start = time.perf_counter()
    log = Stages("dnn-split", progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    profiles = {n: load_profile(n) for n in NETWORKS}
    log("profiles loaded")
    grid = _grid(profiles)
    headline = [r for r in grid if (r["device"], r["server"], r["uplink"]) == (*HEADLINE, "wifi")]
    doc = {"experiment": "dnn-split", "budget": budget, "seed": seed, "profiles": _profile_rows(profiles),
           "wifi": _headline(headline), "ddlro": _ddlro(grid), "grid": grid,
           "not_done": "the device -> e1 -> e2 chain; setnet over (v, k, e); the GA over the slot's (v, k, e) "
                       "(dnn-ga) is not part of this grid; int8 speed-ups on the Pi 4 and on Kepler / Maxwell GPUs "
                       "and pruned speed-ups of convolutions are 1.0 (no credible measurement, docs/dnn.md)"}
    _tables(out, doc)
    log("tables written")
    doc["figures"] = [p.name for p in _plots(out, profiles)]
    log("plots written")
    doc["load"] = run_load(budget, out, seed, log, **(load or {}))
    doc["load"]["summary"] = mean_claims(doc["load"]["claims"])
    doc["figures"] += doc["load"]["figures"]
    log("load part written")
    narrow: dict = {"load_rows": doc["load"]["rows"]}
    if load:
        narrow.update(networks=load.get("networks", NETWORKS), links=load.get("links", ("3g", "lte", "wifi")),
                      n_dev=max(load.get("devices", (40,))), devices=("tk1",))
    doc["compress"] = run_compress(budget, out, seed, log, **narrow)
    log("compression part written")
    return finish(out, doc, t_start, _report, log)


def _row(net: str, dev: str, srv: str, link: str, p: Profile, act_bytes: float) -> dict:
    costs = split_costs(p, DEVICES[dev], SERVERS[srv], UPLINKS[link], bytes_per_element=act_bytes)
    lat, en = neurosurgeon_summary(costs, "latency"), neurosurgeon_summary(costs, "energy")
    base_l = min(lat["local_latency_s"][0], lat["edge_latency_s"][0])
    base_e = min(en["local_energy_j"][0], en["edge_energy_j"][0])
    k_l, k_e = int(lat["split"][0]), int(en["split"][0])
    return {"network": net, "device": dev, "server": srv, "uplink": link, "activation": "fp32" if act_bytes == 4 else "int8",
            "n_layers": p.n_layers, "split_latency": k_l, "split_latency_layer": _split_name(p, k_l),
            "latency_s": float(lat["latency_s"][0]), "local_latency_s": float(lat["local_latency_s"][0]),
            "edge_latency_s": float(lat["edge_latency_s"][0]),
            "speedup_vs_local": float(lat["speedup_vs_local"][0]), "speedup_vs_edge": float(lat["speedup_vs_edge"][0]),
            "split_energy": k_e, "split_energy_layer": _split_name(p, k_e), "energy_j": float(en["energy_j"][0]),
            "local_energy_j": float(en["local_energy_j"][0]), "edge_energy_j": float(en["edge_energy_j"][0]),
            "energy_reduction_vs_local_pct": float(en["energy_reduction_vs_local_pct"][0]),
            "energy_reduction_vs_edge_pct": float(en["energy_reduction_vs_edge_pct"][0]),
            "latency_reduction_vs_best_whole_pct": 100.0 * (1 - float(lat["latency_s"][0]) / base_l),
            "energy_reduction_vs_best_whole_pct": 100.0 * (1 - float(en["energy_j"][0]) / base_e)}


def _split_name(p: Profile, k: int) -> str:
    return "all-edge (input)" if k == 0 else "all-local" if k == p.n_layers else f"after {p.layer_names[k - 1]}"


def _grid(profiles: dict[str, Profile]) -> list[dict]:
    return [_row(n, d, s, u, p, b) for n, p in profiles.items() for d in DEVICES for s in SERVERS
            for u in UPLINKS for b in (4.0, 1.0)]


def _profile_rows(profiles: dict[str, Profile]) -> list[dict]:
    rows = []
    for n, p in profiles.items():
        v, doc = p.variants, p.doc
        act = p.act_bytes(4.0, 4.0)[:-1]
        rows.append({"network": n, "split_points": p.n_layers + 1, "gmac": p.total_macs / 1e9,
                     "reference_gmac": REFERENCE_GMAC.get(n), "torchvision_gops": doc["torchvision_meta"]["gops"],
                     "conv_pct": 100 * p.macs["conv"].sum() / p.total_macs, "dense_pct": 100 * p.macs["dense"].sum() / p.total_macs,
                     "attention_pct": 100 * p.macs["attention"].sum() / p.total_macs,
                     "params_m": float(p.params.sum()) / 1e6, "weights_mb_fp32": 4 * float(p.params.sum()) / 1e6,
                     "input_kb_fp32": act[0] / 1e3, "max_act_kb_fp32": act.max() / 1e3, "min_act_kb_fp32": act[1:].min() / 1e3,
                     "top1_fp32": v.get("fp32", {}).get("top1"), "top1_int8": v.get("int8", {}).get("top1"),
                     "top1_pruned": v.get("pruned", {}).get("top1")})
    return rows


def _headline(rows: list[dict]) -> dict:
    fp32 = [r for r in rows if r["activation"] == "fp32"]
    mean = {k: float(np.mean([r[k] for r in fp32])) for k in
            ("speedup_vs_local", "speedup_vs_edge", "energy_reduction_vs_local_pct", "energy_reduction_vs_edge_pct")}
    return {"device": HEADLINE[0], "server": HEADLINE[1], "uplink": "wifi", "rows": fp32, "mean": mean,
            "neurosurgeon": NEUROSURGEON}


def _ddlro(grid: list[dict]) -> dict:
    lat = np.array([r["latency_reduction_vs_best_whole_pct"] for r in grid])
    en = np.array([r["energy_reduction_vs_best_whole_pct"] for r in grid])
    both = (lat >= DDLRO["latency_reduction_pct"]) & (en >= DDLRO["energy_reduction_pct"])
    i_l, i_e = int(np.argmax(lat)), int(np.argmax(en))
    key = ("network", "device", "server", "uplink", "activation")
    return {"claim": DDLRO, "settings": len(grid), "holds_in": int(both.sum()),
            "holds_where": [{k: grid[i][k] for k in key} for i in np.flatnonzero(both)],
            "max_latency_reduction_pct": float(lat[i_l]), "max_latency_at": {k: grid[i_l][k] for k in key},
            "max_energy_reduction_pct": float(en[i_e]), "max_energy_at": {k: grid[i_e][k] for k in key},
            "settings_with_any_latency_gain": int((lat > 1e-9).sum()), "settings_with_any_energy_gain": int((en > 1e-9).sum())}


def _tables(out: Path, doc: dict) -> None:
    pr = doc["profiles"]
    write_table(out, "profiles", "Layer profiles (torchvision definitions, 224 x 224, batch 1)",
                ["network", "split points", "GMAC (ours)", "GMAC (issue ref.)", "torchvision _ops", "conv %", "dense %",
                 "attention %", "params (M)", "input (kB fp32)", "largest act. (kB)", "smallest act. (kB)",
                 "top-1 fp32", "top-1 int8", "top-1 pruned"],
                [[r["network"], r["split_points"], r["gmac"], r["reference_gmac"], r["torchvision_gops"], r["conv_pct"],
                  r["dense_pct"], r["attention_pct"], r["params_m"], r["input_kb_fp32"], r["max_act_kb_fp32"],
                  r["min_act_kb_fp32"], r["top1_fp32"], r["top1_int8"], r["top1_pruned"]] for r in pr], digits=3)
    w = doc["wifi"]
    rows = [[r["network"], r["split_latency_layer"], 1e3 * r["local_latency_s"], 1e3 * r["edge_latency_s"], 1e3 * r["latency_s"],
             r["speedup_vs_local"], r["speedup_vs_edge"], r["split_energy_layer"], r["energy_reduction_vs_local_pct"],
             r["energy_reduction_vs_edge_pct"]] for r in w["rows"]]
    m = w["mean"]
    rows.append(["**mean**", "", None, None, None, m["speedup_vs_local"], m["speedup_vs_edge"], "",
                 m["energy_reduction_vs_local_pct"], m["energy_reduction_vs_edge_pct"]])
    rows.append(["Neurosurgeon (paper, mean of 8 DNNs vs cloud-only)", "", None, None, None, None, NEUROSURGEON["speedup"], "",
                 None, NEUROSURGEON["energy_reduction_pct"]])
    write_table(out, "wifi", "Single device, Wi-Fi 18.88 Mbit/s: Tegra K1 device, Titan X server (Neurosurgeon's setup)",
                ["network", "latency-best split", "all-local (ms)", "all-edge (ms)", "best (ms)", "speed-up vs local",
                 "speed-up vs edge", "energy-best split", "energy red. vs local %", "energy red. vs edge %"], rows, digits=2)
    d = doc["ddlro"]
    write_table(out, "ddlro", "DDLRO's claim (-60 % latency, -40 % energy) vs the best non-partitioned choice",
                ["settings", "claim holds in", "max latency reduction %", "at", "max energy reduction %", "at"],
                [[d["settings"], d["holds_in"], d["max_latency_reduction_pct"], _where(d["max_latency_at"]),
                  d["max_energy_reduction_pct"], _where(d["max_energy_at"])]], digits=1)
    keys = list(doc["grid"][0])
    write_table(out, "grid", "Every network x device x server x uplink x activation type", keys,
                [[r[k] for k in keys] for r in doc["grid"]], digits=4)


def _where(at: dict) -> str:
    return "/".join(str(at[k]) for k in ("network", "device", "server", "uplink", "activation"))


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plots(out: Path, profiles: dict[str, Profile]) -> list[Path]:
    plt = _plt()
    paths = []
    dev, srv = DEVICES[HEADLINE[0]], SERVERS[HEADLINE[1]]
    for n, p in profiles.items():  # Neurosurgeon Fig. 3: per-layer latency (bars) and output size (line)
        fig, ax = plt.subplots(figsize=(max(6.0, 0.28 * p.n_layers + 2), 3.6))
        x = np.arange(p.n_layers)
        ax.bar(x, 1e3 * layer_times(p, dev), color="C0", label=f"latency on {dev.name} (ms)")
        ax.set_ylabel("layer latency (ms)")
        ax.set_xticks(x, [s.split(".")[-1] if len(s) > 14 else s for s in p.layer_names], rotation=90, fontsize=6)
        ax2 = ax.twinx()
        ax2.plot(x, p.act_bytes(4.0, 4.0)[1:-1].tolist() + [4.0 * p.act[-1]], "C3.-", lw=1)
        ax2.set_ylabel("output size (bytes, fp32)", color="C3")
        ax2.set_yscale("log")
        ax.set_title(f"{n}: per-layer latency ({dev.name}) and activation size")
        paths.append(_save(plt, fig, out / f"layers_{n}.png"))
    paths += _bandwidth_plots(plt, out, profiles)
    return paths


def _bandwidth_plots(plt, out: Path, profiles: dict[str, Profile]) -> list[Path]:
    dev, srv, link = DEVICES[HEADLINE[0]], SERVERS[HEADLINE[1]], UPLINKS["wifi"]
    f1, a1 = plt.subplots(figsize=(6.4, 4))
    f2, a2 = plt.subplots(figsize=(6.4, 4))
    for i, (n, p) in enumerate(profiles.items()):
        s_l = neurosurgeon_summary(split_costs(p, dev, srv, link, BANDWIDTHS), "latency")
        s_e = neurosurgeon_summary(split_costs(p, dev, srv, link, BANDWIDTHS), "energy")
        a1.plot(BANDWIDTHS, s_l["speedup_vs_local"], color=f"C{i}", label=n)
        a1.plot(BANDWIDTHS, s_l["speedup_vs_edge"], color=f"C{i}", ls="--")
        a2.plot(BANDWIDTHS, 1e3 * s_e["energy_j"], color=f"C{i}", label=n)
    for a, yl in ((a1, "speed-up of the best split (x)"), (a2, "device energy at the energy-best split (mJ)")):
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel("uplink (Mbit/s)")
        a.set_ylabel(yl)
        for u in UPLINKS.values():
            a.axvline(u.mbps, color="grey", lw=0.6, ls=":")
        a.legend(fontsize=7)
    a1.set_title(f"{dev.name} + {srv.name}: vs all-local (solid), vs all-edge (dashed)")
    a2.set_title(f"{dev.name} + {srv.name}: device energy (Wi-Fi power model)")
    return [_save(plt, f1, out / "speedup_vs_bandwidth.png"), _save(plt, f2, out / "energy_vs_bandwidth.png")]


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _report(path: Path, doc: dict) -> None:
    out = path.parent
    parts = ["# dnn-split: DNN split points on a single device (issue 16, part 1)", ""]
    parts += [(out / f"{t}.md").read_text() + "\n" for t in ("profiles", "wifi", "ddlro")]
    d = doc["ddlro"]
    parts.append(f"DDLRO's claim holds in {d['holds_in']} of {d['settings']} settings "
                 f"(partitioning alone, one device, no load balancing).\n")
    parts.append("## Under load (MEC engine, 4 servers)\n")
    parts += [(out / f"{t}.md").read_text() + "\n" for t in ("load_mixed", "load_claims")]
    sm = doc["load"]["summary"]
    parts.append(f"At the largest load, over {sm['settings']} (network, uplink) settings: the load-aware oracle's p95 is "
                 f">= 30 % below Neurosurgeon's in {sm['p95_beats_by_30pct']}, it drops fewer in {sm['fewer_drops']}; "
                 f"DDLRO's claim holds in {sm['ddlro_holds']}. Every point: load.csv.\n")
    parts.append("## Compressed variants (fp32 / int8 / pruned) under load\n")
    parts.append((out / "compress_claims.md").read_text() + "\n")
    c = doc["compress"]
    parts.append(f"With compression + load balancing, DDLRO's claim (-60 % latency and -40 % energy vs the best fp32 "
                 f"whole-model policy) holds in {c['holds']} of {c['settings']} settings. Every point: compress.csv.\n")
    parts.append("Not done: " + doc["not_done"] + ".\n")
    parts += [f"![{f}]({f})" for f in doc.get("figures", [])]
    path.write_text("\n".join(parts) + "\n")
