"""Issue 16 load part: DNN-split tasks in the MEC engine, 1 / 10 / 40 devices on 4 servers.

For each network (alone, and the six mixed) x uplink (3G / LTE / Wi-Fi, the ``dnn-<link>`` presets:
Tegra K1 devices, servers Titan X, T4 and two Xeons, 10 inferences/s per device, deadline 200 ms) x
devices: the five DNN policies (``policies.dnn``) on the same arrivals (common random numbers).
Writes ``load.csv|md`` (every point x policy: realized latency mean / p95, drops, device energy per
inference, inferences/s, split distribution, speed-ups over all-local and the better all-edge),
``load_claims.md|csv`` (at 40 devices: does the load-aware oracle beat Neurosurgeon by >= 30 % on p95
and on drops; DDLRO's "-60 % latency, -40 % energy" against the best non-partitioned policy) and the
plot ``split_vs_load.png``. Units: s, J.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..eval.evaluate import evaluate
from ..sim.scenario import DNN_NETWORKS, load_scenario
from .tables import write_table

POLICIES = ["dnn-local", "dnn-edge-nearest", "dnn-edge-least-loaded", "neurosurgeon", "dnn-oracle"]
LEARNED = {"setnet-dnn": "checkpoints/setnet-dnn-wifi", "setnet-dnn-realized": "checkpoints/setnet-dnn-realized-wifi"}
"""learned policies of the load grid (row label -> shipped ``setnet-dnn`` checkpoint, relative to the working
directory; imitation only, and with the realized GRPO after it): run where present, trained on dnn-wifi and
zero-shot elsewhere"""
NON_PARTITIONED = ["dnn-local", "dnn-edge-nearest", "dnn-edge-least-loaded"]
LINKS = ("3g", "lte", "wifi")
DEVICES_N = (1, 10, 40)
EPISODES = {"small": 8, "paper": 20, "tiny": 2}
"""episodes per point by budget (each 200 slots of 10 ms = 2 s)"""
KEYS = ("realized_mean_s", "realized_p95_s", "realized_drop_pct", "energy_per_inference_j", "inferences_per_s",
        "split_local_pct", "split_edge_pct", "split_middle_pct", "split_depth_mean", "accuracy_top1_mean")


def run_load(budget: str, out: Path, seed: int, log, networks: tuple[str, ...] = DNN_NETWORKS,
             devices: tuple[int, ...] = DEVICES_N, links: tuple[str, ...] = LINKS) -> dict:
    """Every (network group, link, devices) point; returns {"rows", "claims", "figures"}."""
    episodes = EPISODES.get(budget, EPISODES["small"])
    groups = [("mixed", tuple(networks))] + ([(n, (n,)) for n in networks] if len(networks) > 1 else [])
    labels = {**{p: p for p in POLICIES}, **learned_specs()}  # spec -> row label
    rows, policies = [], list(labels)
    for label, nets in groups:
        for link in links:
            for n_dev in devices:
                sc = load_scenario(f"dnn-{link}", {"users.count": n_dev, "dnn.networks": list(nets)})
                runs = evaluate(sc, policies, episodes, seed)
                rows += _point_rows(label, link, n_dev, {labels[k]: r.metrics for k, r in runs.items()})
            log(f"load: {label} {link} done")
    claims = _claims(rows, max(devices))
    _tables(out, rows, claims, episodes)
    return {"episodes": episodes, "rows": rows, "claims": claims, "figures": [_plot(out, rows)]}


def learned_specs() -> dict[str, str]:
    """{``setnet-dnn:folder``: row label} of every shipped learned checkpoint of ``LEARNED`` that exists here."""
    return {f"setnet-dnn:{folder}": label for label, folder in LEARNED.items() if (Path(folder) / "config.json").exists()}


def _point_rows(label: str, link: str, n_dev: int, metrics: dict[str, dict]) -> list[dict]:
    local = metrics["dnn-local"]["realized_mean_s"]
    edge = min(metrics[p]["realized_mean_s"] for p in ("dnn-edge-nearest", "dnn-edge-least-loaded"))
    out = []
    for pol, m in metrics.items():
        r = {"network": label, "uplink": link, "devices": n_dev, "policy": pol, **{k: m[k] for k in KEYS}}
        r["speedup_vs_local"] = local / m["realized_mean_s"] if m["realized_mean_s"] else None
        r["speedup_vs_edge"] = edge / m["realized_mean_s"] if m["realized_mean_s"] else None
        out.append(r)
    return out


def _reduction(new: float, old: float) -> float | None:
    return None if not old else 100.0 * (1.0 - new / old)


def _claims(rows: list[dict], n_dev: int) -> list[dict]:
    """Per (network group, link) at ``n_dev`` devices: dnn-oracle against Neurosurgeon (p95, drops) and
    against the best non-partitioned policy (DDLRO: mean latency and energy); the learned policies' p95
    reduction against Neurosurgeon and their drops beside."""
    out = []
    for key in dict.fromkeys((r["network"], r["uplink"]) for r in rows):
        at = {r["policy"]: r for r in rows if (r["network"], r["uplink"]) == key and r["devices"] == n_dev}
        o, ns = at["dnn-oracle"], at["neurosurgeon"]
        base_lat = min(at[p]["realized_mean_s"] for p in NON_PARTITIONED)
        base_e = min(at[p]["energy_per_inference_j"] for p in NON_PARTITIONED)
        p95 = _reduction(o["realized_p95_s"], ns["realized_p95_s"])
        lat_red, e_red = _reduction(o["realized_mean_s"], base_lat), _reduction(o["energy_per_inference_j"], base_e)
        out.append({"network": key[0], "uplink": key[1], "devices": n_dev,
                    "p95_oracle_s": o["realized_p95_s"], "p95_neurosurgeon_s": ns["realized_p95_s"],
                    "p95_reduction_pct": p95, "p95_beats_by_30pct": bool(p95 is not None and p95 >= 30.0),
                    "drops_oracle_pct": o["realized_drop_pct"], "drops_neurosurgeon_pct": ns["realized_drop_pct"],
                    "fewer_drops": o["realized_drop_pct"] < ns["realized_drop_pct"],
                    "latency_reduction_vs_best_nonpartitioned_pct": lat_red,
                    "energy_reduction_vs_best_nonpartitioned_pct": e_red,
                    "ddlro_holds": bool(lat_red is not None and e_red is not None and lat_red >= 60 and e_red >= 40)})
        for label in (lb for lb in LEARNED if lb in at):  # the learned policies against Neurosurgeon too
            out[-1][f"p95_reduction_{label}_pct"] = _reduction(at[label]["realized_p95_s"], ns["realized_p95_s"])
            out[-1][f"drops_{label}_pct"] = at[label]["realized_drop_pct"]
    return out


def _tables(out: Path, rows: list[dict], claims: list[dict], episodes: int) -> None:
    keys = list(rows[0])
    write_table(out, "load", f"Load: every network x uplink x devices x policy ({episodes} episodes of 2 s each, "
                "4 servers)", keys, [[r[k] for k in keys] for r in rows], digits=4)
    mixed = [r for r in rows if r["network"] == "mixed"]
    write_table(out, "load_mixed", "Load, the six networks mixed: latency (ms), drops, device energy per inference",
                ["uplink", "devices", "policy", "mean (ms)", "p95 (ms)", "drops %", "energy (mJ)", "inf/s",
                 "all-local %", "full offload %", "middle split %", "speed-up vs local", "speed-up vs edge"],
                [[r["uplink"], r["devices"], r["policy"], 1e3 * r["realized_mean_s"], 1e3 * r["realized_p95_s"],
                  r["realized_drop_pct"], 1e3 * r["energy_per_inference_j"], r["inferences_per_s"], r["split_local_pct"],
                  r["split_edge_pct"], r["split_middle_pct"], r["speedup_vs_local"], r["speedup_vs_edge"]] for r in mixed],
                digits=2)
    keys = list(claims[0])
    write_table(out, "load_claims", "Targets at the largest load: dnn-oracle vs Neurosurgeon (p95 >= 30 % lower, fewer "
                "drops) and DDLRO (-60 % latency, -40 % energy vs the best non-partitioned policy)", keys,
                [[c[k] for k in keys] for c in claims], digits=2)


def _plot(out: Path, rows: list[dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mixed = [r for r in rows if r["network"] == "mixed"]
    links = list(dict.fromkeys(r["uplink"] for r in mixed))
    fig, axes = plt.subplots(1, len(links), figsize=(4.2 * len(links), 3.6), squeeze=False)
    for ax, link in zip(axes[0], links):
        for i, pol in enumerate(("neurosurgeon", "dnn-oracle")):
            pts = sorted((r["devices"], r) for r in mixed if r["uplink"] == link and r["policy"] == pol)
            x = [d for d, _ in pts]
            ax.plot(x, [r["split_local_pct"] for _, r in pts], f"C{i}-o", label=f"{pol}: all-local %")
            ax.plot(x, [r["split_middle_pct"] for _, r in pts], f"C{i}--s", label=f"{pol}: middle split %")
            ax.plot(x, [r["split_edge_pct"] for _, r in pts], f"C{i}:^", label=f"{pol}: full offload %")
        ax.set_xscale("log")
        ax.set_xlabel("devices (4 servers)")
        ax.set_ylabel("% of inferences")
        ax.set_title(f"split chosen vs load, {link} (6 networks mixed)", fontsize=9)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    path = Path(out) / "split_vs_load.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def mean_claims(claims: list[dict]) -> dict:
    """Counts over the (network, link) settings at the largest load."""
    red = [c["p95_reduction_pct"] for c in claims if c["p95_reduction_pct"] is not None]
    return {"settings": len(claims), "p95_beats_by_30pct": sum(c["p95_beats_by_30pct"] for c in claims),
            "fewer_drops": sum(c["fewer_drops"] for c in claims), "ddlro_holds": sum(c["ddlro_holds"] for c in claims),
            "p95_reduction_pct_mean": float(np.mean(red)) if red else None}
