"""EdgeCloudSim's plots vs device count (PNG, headless): failed tasks, failure reasons,
service / processing time and network delay (overall, edge, cloud), VM utilisation."""

from __future__ import annotations

from pathlib import Path

from .runner import EcsResult

PLOTS = [
    ("failed_tasks.png", "Failed tasks (%)", [("failed_pct", "")]),
    ("failure_reasons.png", "Failed tasks by reason (% of tasks)",
     [("fail_vm_capacity_pct", "VM capacity"), ("fail_bandwidth_pct", "bandwidth"), ("fail_mobility_pct", "mobility")]),
    ("service_time.png", "Average service time (s)",
     [("service_time_s", ""), ("edge_service_time_s", "edge"), ("cloud_service_time_s", "cloud")]),
    ("processing_time.png", "Average processing time (s)",
     [("processing_time_s", ""), ("edge_processing_time_s", "edge"), ("cloud_processing_time_s", "cloud")]),
    ("network_delay.png", "Average network delay (s)",
     [("network_delay_s", ""), ("lan_delay_s", "WLAN (edge)"), ("wan_delay_s", "WAN (cloud)")]),
    ("vm_utilization.png", "Average VM utilisation (%)", [("edge_vm_util_pct", "edge"), ("cloud_vm_util_pct", "cloud")]),
]


def plot_all(res: EcsResult, out: Path) -> list[Path]:
    """One PNG, ``ecs_figures.png``: a panel per figure (columns = orchestrators / policies)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x = res.devices
    panels = [(title, key, sub) for _, title, series in PLOTS for key, sub in series]
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (title, key, sub) in zip(axes.flat, panels):
        for col in res.columns:
            ax.plot(x, [res.figures[col][n].get(key, float("nan")) for n in x], marker="o", ms=2.5, lw=1.2, label=col)
        ax.set_title(f"{title}{' - ' + sub if sub else ''}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("number of mobile devices", fontsize=7)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", fontsize=8, frameon=False)
    fig.suptitle(f"EdgeCloudSim scenario {res.scenario} ({res.seeds} seed(s) per point)", fontsize=10)
    fig.tight_layout()
    p = out / "ecs_figures.png"
    fig.savefig(p, dpi=90)
    plt.close(fig)
    return [p]


def _plot_worker(conn) -> None:  # pragma: no cover - runs in a child process
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401  (the slow import, done while the simulation runs)

    msg = conn.recv()
    if msg is None:
        return
    data, folder = msg
    try:
        plot_all(EcsResult.from_json(data), Path(folder))
        conn.send("ok")
    except Exception as exc:  # reported by the parent
        conn.send(f"plots failed: {exc}")


class BackgroundPlotter:
    """Imports matplotlib in a forked child while the simulation runs, then plots there.
    Falls back to plotting in this process where fork is not available."""

    def __init__(self):
        import multiprocessing as mp

        self.proc = None
        if "fork" in mp.get_all_start_methods():
            ctx = mp.get_context("fork")
            self.conn, child = ctx.Pipe()
            self.proc = ctx.Process(target=_plot_worker, args=(child,), daemon=True)
            self.proc.start()

    def plot(self, res: EcsResult, folder: Path) -> None:
        if self.proc is None:
            plot_all(res, folder)
            return
        self.conn.send((res.to_json(), str(folder)))

    def wait(self) -> str:
        if self.proc is None:
            return "ok"
        status = self.conn.recv() if self.conn.poll(120) else "plots timed out"
        self.proc.join(5)
        return status

    def cancel(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(5)
