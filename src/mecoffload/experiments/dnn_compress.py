"""Issue 16 compression part: compressed model variants (fp32 / int8 / pruned) in the DNN-split action at the
40-device point (4 servers), variants off against on, and DDLRO's claim "with compression and load balancing".

For each device class (Tegra K1: every network alone and the six mixed; Raspberry Pi 4: mixed) x uplink
(3G / LTE / Wi-Fi) x variant setting — ``off`` (fp32 only, the load grid's scenario) and ``on`` at two
per-task minimum accuracies (``dnn.max_top1_loss`` 1 and 3 top-1 points below fp32) — the five DNN
policies on the same arrivals. DDLRO's method is compression + load balancing = ``dnn-oracle`` with the
variants on; its baseline the best non-partitioned policy (all-local / all-edge) with fp32 models only
(``vs fp32 whole-model``), and, stricter, the best non-partitioned policy that may also compress
(``vs compressed whole-model``). The 3-point setting runs only where it allows a variant the 1-point one
does not (pruned VGG16, 2.93 points below fp32). Writes ``compress.csv|md`` (every point x policy), ``compress_claims.csv|md``.
Units: s, J, top-1 %.
"""

from __future__ import annotations

from pathlib import Path

from ..dnn.tasks import build_tables
from ..eval.evaluate import evaluate
from ..sim.scenario import DNN_NETWORKS, load_scenario
from .dnn_load import EPISODES, NON_PARTITIONED, POLICIES
from .tables import write_table

SETTINGS = (("off", ("fp32",), 1.0), ("on, loss <= 1", ("fp32", "int8", "pruned"), 1.0),
            ("on, loss <= 3", ("fp32", "int8", "pruned"), 3.0))
"""variant settings: label, dnn.variants, dnn.max_top1_loss (top-1 points below fp32)"""
KEYS = ("realized_mean_s", "realized_p95_s", "realized_drop_pct", "energy_per_inference_j", "accuracy_top1_mean",
        "variant_fp32_pct", "variant_int8_pct", "variant_pruned_pct", "split_middle_pct")


def run_compress(budget: str, out: Path, seed: int, log, networks: tuple[str, ...] = DNN_NETWORKS,
                 links: tuple[str, ...] = ("3g", "lte", "wifi"), n_dev: int = 40,
                 devices: tuple[str, ...] = ("tk1", "rpi4"), load_rows: list[dict] | None = None) -> dict:
    """Every (device, network group, link, variant setting) point at ``n_dev`` devices; returns {"rows", "claims"}.
    The ``off`` points of the Tegra K1 are taken from ``load_rows`` (the load grid: the same scenario, seed and
    episodes) where it has them; the looser minimum accuracy runs only for groups where it allows more (VGG16)."""
    episodes = EPISODES.get(budget, EPISODES["small"])
    rows = []
    for dev in devices:
        groups = [("mixed", tuple(networks))]
        if dev == devices[0] and len(networks) > 1:
            groups += [(n, (n,)) for n in networks]
        for label, nets in groups:
            for link in links:
                for name, variants, loss in SETTINGS:
                    if loss > 1.0 and not _looser_helps(nets):
                        continue
                    rows += _point(dev, label, nets, link, name, variants, loss, n_dev, episodes, seed, load_rows)
            log(f"compress: {dev} {label} done")
    claims = _claims(rows)
    _tables(out, rows, claims, episodes, n_dev)
    return {"episodes": episodes, "devices": n_dev, "rows": rows, "claims": claims,
            "holds": sum(c["ddlro_holds_vs_fp32"] for c in claims), "settings": len(claims)}


def _looser_helps(nets: tuple[str, ...]) -> bool:
    """Whether a 3-point minimum allows a variant that a 1-point one does not, for some network of ``nets``."""
    a1 = build_tables(nets, "tk1", ("t4",), "wifi", variants=SETTINGS[1][1], max_top1_loss=SETTINGS[1][2]).allowed
    a3 = build_tables(nets, "tk1", ("t4",), "wifi", variants=SETTINGS[2][1], max_top1_loss=SETTINGS[2][2]).allowed
    return bool((a3 & ~a1).any())


def _point(dev, label, nets, link, name, variants, loss, n_dev, episodes, seed, load_rows) -> list[dict]:
    """The five policies' rows at one point (from the load grid for fp32 on the Tegra K1 when it has them)."""
    head = {"device": dev, "network": label, "uplink": link, "variants": name}
    if name == "off" and dev == "tk1" and load_rows:
        got = [r for r in load_rows if (r["network"], r["uplink"], r["devices"]) == (label, link, n_dev)
               and r["policy"] in POLICIES]
        if len(got) == len(POLICIES):
            return [{**head, "policy": r["policy"], **{k: r.get(k, 100.0 if k == "variant_fp32_pct" else 0.0)
                                                       for k in KEYS}} for r in got]
    sc = load_scenario(f"dnn-{link}", {"users.count": n_dev, "dnn.networks": list(nets), "dnn.device": dev,
                                       "dnn.variants": list(variants), "dnn.max_top1_loss": loss})
    return [{**head, "policy": pol, **{k: r.metrics.get(k, 0.0) for k in KEYS}}
            for pol, r in evaluate(sc, POLICIES, episodes, seed).items()]


def _red(new: float, old: float) -> float | None:
    return None if not old or new != new or old != old else 100.0 * (1.0 - new / old)


def _best(at: dict, setting: str, key: str) -> float:
    """The least ``key`` over the non-partitioned policies of ``setting`` (NaN ones, e.g. every task dropped, left out)."""
    vals = [at[(setting, p)][key] for p in NON_PARTITIONED if at[(setting, p)][key] == at[(setting, p)][key]]
    return min(vals) if vals else float("nan")


def _claims(rows: list[dict]) -> list[dict]:
    """Per (device, network, link, variants on): dnn-oracle with compression against the whole-model baselines."""
    out = []
    for key in dict.fromkeys((r["device"], r["network"], r["uplink"]) for r in rows):
        at = {(r["variants"], r["policy"]): r for r in rows if (r["device"], r["network"], r["uplink"]) == key}
        off = at[("off", "dnn-oracle")]
        for name, _, _ in SETTINGS[1:]:
            if (name, "dnn-oracle") not in at:
                continue
            o = at[(name, "dnn-oracle")]
            lat32, e32 = _red(o["realized_mean_s"], _best(at, "off", "realized_mean_s")), \
                _red(o["energy_per_inference_j"], _best(at, "off", "energy_per_inference_j"))
            latc, ec = _red(o["realized_mean_s"], _best(at, name, "realized_mean_s")), \
                _red(o["energy_per_inference_j"], _best(at, name, "energy_per_inference_j"))
            out.append({"device": key[0], "network": key[1], "uplink": key[2], "variants": name,
                        "oracle_mean_off_s": off["realized_mean_s"], "oracle_mean_on_s": o["realized_mean_s"],
                        "oracle_energy_off_j": off["energy_per_inference_j"], "oracle_energy_on_j": o["energy_per_inference_j"],
                        "oracle_drops_off_pct": off["realized_drop_pct"], "oracle_drops_on_pct": o["realized_drop_pct"],
                        "top1_off": off["accuracy_top1_mean"], "top1_on": o["accuracy_top1_mean"],
                        "int8_pct": o["variant_int8_pct"], "pruned_pct": o["variant_pruned_pct"],
                        "latency_red_vs_fp32_whole_pct": lat32, "energy_red_vs_fp32_whole_pct": e32,
                        "latency_red_vs_compressed_whole_pct": latc, "energy_red_vs_compressed_whole_pct": ec,
                        "ddlro_holds_vs_fp32": bool(lat32 is not None and e32 is not None and lat32 >= 60 and e32 >= 40)})
    return out


def _tables(out: Path, rows: list[dict], claims: list[dict], episodes: int, n_dev: int) -> None:
    keys = list(rows[0])
    write_table(out, "compress", f"Compression at {n_dev} devices (4 servers): every point x policy ({episodes} "
                "episodes of 2 s)", keys, [[r[k] for k in keys] for r in rows], digits=4)
    cols = ["device", "network", "uplink", "variants", "oracle mean off (ms)", "on (ms)", "energy off (mJ)", "on (mJ)",
            "drops off %", "on %", "top-1 off", "on", "int8 %", "pruned %", "latency red. vs fp32 whole-model %",
            "energy red. vs fp32 whole-model %", "latency red. vs compressed whole-model %",
            "energy red. vs compressed whole-model %", "DDLRO holds"]
    write_table(out, "compress_claims", f"dnn-oracle with compression + load balancing at {n_dev} devices against the "
                "best non-partitioned policy (DDLRO: -60 % latency, -40 % energy)", cols,
                [[c["device"], c["network"], c["uplink"], c["variants"], 1e3 * c["oracle_mean_off_s"],
                  1e3 * c["oracle_mean_on_s"], 1e3 * c["oracle_energy_off_j"], 1e3 * c["oracle_energy_on_j"],
                  c["oracle_drops_off_pct"], c["oracle_drops_on_pct"], c["top1_off"], c["top1_on"], c["int8_pct"],
                  c["pruned_pct"], c["latency_red_vs_fp32_whole_pct"], c["energy_red_vs_fp32_whole_pct"],
                  c["latency_red_vs_compressed_whole_pct"], c["energy_red_vs_compressed_whole_pct"],
                  c["ddlro_holds_vs_fp32"]] for c in claims], digits=2)
