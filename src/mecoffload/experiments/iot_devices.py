"""Seed 002 §V: every tier policy vs the number of IoT devices (200, 400, ..., 2000), 3 seeds.

Writes ``metrics.csv`` (one row per device count x policy), ``results.json``, ``report.md``
and the five figures of seed 002 (Figs 4-8): ``service_time.png``, ``network_delay.png``,
``processing_time.png``, ``failure_rate.png``, ``vm_utilization.png`` (plus
``failure_reasons.png``). All device counts and seeds of one policy run as a single batch of
environments; every policy sees identical tasks, movements and link draws.

Budgets: ``small`` simulates 150 s per run (30 s warm-up), ``paper`` 1980 s (180 s warm-up,
EdgeCloudSim's 33 min with 3 min warm-up).
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..tiers.config import load_tier_scenario
from ..tiers.dlnet import get_models
from ..eval.runner import Runner
from ..tiers.evaluate import sweep_devices
from ..tiers.outcomes import REASONS

DEVICES = list(range(200, 2001, 200))
SEEDS = 3
BUDGETS = {"small": {"sim.horizon_s": 150.0, "sim.warmup_s": 30.0}, "paper": {"sim.horizon_s": 1980.0, "sim.warmup_s": 180.0}}
FIGURES = [
    ("service_time_s", "Service time (s)", "service_time.png", "Fig. 4"),
    ("network_delay_s", "Network delay (s)", "network_delay.png", "Fig. 5"),
    ("processing_time_s", "Processing time (s)", "processing_time.png", "Fig. 6"),
    ("failure_pct", "Task failure rate (%)", "failure_rate.png", "Fig. 7"),
    ("edge_vm_util_pct", "Average CPU utilisation of MEC VMs (%)", "vm_utilization.png", "Fig. 8"),
]
CSV_KEYS = ["tasks", "completed", "service_time_s", "network_delay_s", "processing_time_s", "waiting_time_s",
            "failure_pct", "fail_vm_capacity_pct", "fail_bandwidth_pct", "fail_deadline_pct", "fail_mobility_pct",
            "fail_unfinished_pct", "edge_vm_util_pct", "cloud_vm_util_pct", "edge_busy_pct", "cloud_busy_pct",
            "tier_local_edge_pct", "tier_remote_edge_pct", "tier_cloud_pct",
            "local_edge_service_time_s", "remote_edge_service_time_s", "cloud_service_time_s",
            "local_edge_failure_pct", "remote_edge_failure_pct", "cloud_failure_pct",
            "service_time_s_std", "failure_pct_std", "throughput_tasks_per_s"]


POLICIES = ["random", "utilization-based", "flores", "sonmez", "almutairi", "dl-tier", "dl-tier:desc", "least-utilized",
            "min-service", "oracle", "lacs"]


def default_policies() -> list[str]:
    """The seed 002 set (utilisation-based, Flores, Sonmez, Almutairi, dl-tier as written and
    with the most sensitive tasks first), two simple references (least-utilized, min-service),
    random, and the foundation's oracle and lacs through the adapter."""
    return list(POLICIES)


def run(budget: str, out: Path, seed: int, progress: bool = False, devices: list[int] | None = None,
        policies: list[str] | None = None, seeds: int = SEEDS, overrides: dict | None = None,
        runner: Runner | None = None) -> dict:
    t_start = time.perf_counter()
    devices = devices or DEVICES
    policies = policies or default_policies()
    sc = load_tier_scenario("iot3tier", {**BUDGETS[budget], **(overrides or {})})
    t0 = time.perf_counter()
    dl_info = get_models(sc, seed).info if "dl-tier" in policies else None
    train_s = time.perf_counter() - t0
    timings: dict[str, float] = {}
    ticker = _ticker(progress, len(policies) * int((sc.sim.horizon_s + 20) / sc.sim.slot_s))
    try:
        res = sweep_devices(sc, policies, devices, seeds, seed, progress=ticker, timings=timings, runner=runner)
    finally:
        if ticker is not None:
            ticker.close()
    runtime = time.perf_counter() - t_start
    out.mkdir(parents=True, exist_ok=True)
    by_policy = {p: {str(n): res[n][p] for n in devices} for p in policies}
    _write_csv(out / "metrics.csv", res, devices, policies)
    figs = _plots(by_policy, devices, out)
    doc = {
        "experiment": "iot-devices",
        "scenario": sc.name,
        "budget": budget,
        "seed": seed,
        "seeds": seeds,
        "devices": devices,
        "simulated_s": sc.sim.horizon_s,
        "warmup_s": sc.sim.warmup_s,
        "runtime_s": runtime,
        "dl_training_s": train_s if dl_info else 0.0,
        "dl_training": dl_info,
        "policy_runtime_s": timings,
        "policies": by_policy,
    }
    (out / "results.json").write_text(json.dumps(doc, indent=1))
    _report(out / "report.md", doc, figs)
    return doc


class _ticker:
    """Rich progress bar on stderr advanced by simulated epochs (None when not a terminal)."""

    def __new__(cls, enabled: bool, total: int):
        if not enabled:
            return None
        return super().__new__(cls)

    def __init__(self, enabled: bool, total: int):
        self.prog = Progress(TextColumn("iot-devices"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
                             TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.prog.start()
        self.task = self.prog.add_task("run", total=total)

    def __call__(self, n: int) -> None:
        self.prog.advance(self.task, n)

    def close(self) -> None:
        self.prog.stop()


def _write_csv(path: Path, res: dict, devices: list[int], policies: list[str]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["devices", "policy"] + CSV_KEYS)
        for n in devices:
            for p in policies:
                m = res[n][p]
                w.writerow([n, p] + [_num(m.get(k, float("nan"))) for k in CSV_KEYS])


def _num(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _plots(by_policy: dict, devices: list[int], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for key, label, fname, fig_no in FIGURES:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for i, (p, per) in enumerate(by_policy.items()):
            y = np.array([per[str(n)][key] for n in devices], float)
            sd = np.array([per[str(n)].get(f"{key}_std", 0.0) for n in devices], float)
            ax.errorbar(devices, y, yerr=sd, marker="os^vDP<>xh"[i % 10], ms=4, capsize=2, lw=1.2, label=p,
                        color=f"C{i % 10}", ls="-" if i < 10 else "--")
        ax.set_xlabel("Number of IoT devices")
        ax.set_ylabel(label)
        ax.set_title(f"{label} vs devices (seed 002 {fig_no})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)
        paths.append(out / fname)
    # failure reasons at the largest device count
    n = devices[-1]
    names = list(by_policy)
    reasons = list(REASONS)
    fig, ax = plt.subplots(figsize=(7, 4))
    bottom = np.zeros(len(names))
    for r in reasons:
        v = np.array([by_policy[p][str(n)][f"fail_{r}_pct"] for p in names])
        if v.any():
            ax.bar(range(len(names)), v, bottom=bottom, label=r)
            bottom += v
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel(f"failed tasks at {n} devices (%)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "failure_reasons.png", dpi=110)
    plt.close(fig)
    paths.append(out / "failure_reasons.png")
    return paths


def _report(path: Path, doc: dict, figs: list[Path]) -> None:
    devices = doc["devices"]
    lines = [
        "# iot-devices (seed 002 §V)",
        "",
        f"Scenario `{doc['scenario']}`, budget `{doc['budget']}`: {doc['simulated_s']:.0f} s simulated per run "
        f"({doc['warmup_s']:.0f} s warm-up), devices {devices[0]}..{devices[-1]}, {doc['seeds']} seeds from {doc['seed']}. "
        f"Runtime {doc['runtime_s']:.1f} s (dl-tier training {doc['dl_training_s']:.1f} s).",
        "",
    ]
    for n in (devices[0], devices[-1]):
        lines += [f"## {n} devices", "",
                  "| policy | service (s) | network (s) | processing (s) | failure (%) | vm cap / bw / deadline / mobility (%) | MEC VM util (%) | local / remote / cloud (%) |",
                  "|---|---|---|---|---|---|---|---|"]
        for p, per in doc["policies"].items():
            m = per[str(n)]
            lines.append(
                f"| {p} | {m['service_time_s']:.3f} | {m['network_delay_s']:.3f} | {m['processing_time_s']:.3f} | "
                f"{m['failure_pct']:.1f} | {m['fail_vm_capacity_pct']:.1f} / {m['fail_bandwidth_pct']:.1f} / "
                f"{m['fail_deadline_pct']:.1f} / {m['fail_mobility_pct']:.1f} | {m['edge_vm_util_pct']:.1f} | "
                f"{m['tier_local_edge_pct']:.0f} / {m['tier_remote_edge_pct']:.0f} / {m['tier_cloud_pct']:.0f} |")
        lines.append("")
    if doc.get("dl_training"):
        info = doc["dl_training"]
        lines += [f"dl-tier: TierSelectionNN validation accuracy on the rule labels {100 * info['tier_val_acc']:.1f} %, "
                  f"VMCompatibilityNN top-1 {100 * info['vm_val_top1']:.1f} % ({info['tier_steps']} Adam steps).", ""]
    lines += ["Figures: " + ", ".join(f"[{p.name}]({p.name})" for p in figs), ""]
    path.write_text("\n".join(lines))
