"""EdgeCloudSim sample_app1 in mecoffload: runtime of the full sweep and comparison with
EdgeCloudSim's published results (scripts/sample_app1/output/.../ite1.log, 2018).

    python benchmarks/bench_ecs.py                  # the sweep through the CLI, timed, vs the reference
    python benchmarks/bench_ecs.py --seeds 5        # mean over 5 seeds
    python benchmarks/bench_ecs.py --slots 0.05,0.1,0.25,0.5 --minutes 10   # step-size sensitivity

The scenario folder is written by ``mecoffload.ecs.samples.sample_app1`` (EdgeCloudSim's
settings, mecoffload's files), imported with ``mecoffload import-ecs`` and run with
``mecoffload run-ecs`` in a fresh process, so the time includes start-up, the table and plots.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mecoffload.ecs.runner import EcsResult, reference_check, run_ecs
from mecoffload.ecs.samples import REFERENCE_FIELDS, SAMPLE_APP1_REFERENCE, sample_app1
from mecoffload.ecs.writer import write_ecs_folder


def cli(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mecoffload.cli", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=0, help="run-ecs --jobs (0: min(2, CPUs))")
    ap.add_argument("--slots", default="", help="comma-separated step sizes for a sensitivity table (in-process)")
    ap.add_argument("--minutes", type=float, default=30.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = write_ecs_folder(sample_app1(minutes=args.minutes), tmp / "sample_app1")
        if args.slots:
            sc = sample_app1(minutes=args.minutes)
            print(f"{'slot_s':>7} {'time s':>7}  failed % at 300/600/1000 devices (SINGLE | TWO | EO) ; service s at 1000")
            for slot in [float(x) for x in args.slots.split(",")]:
                t = time.perf_counter()
                res = run_ecs(sc, seeds=args.seeds, slot_s=slot, devices=[300, 600, 1000], jobs=1)
                el = time.perf_counter() - t
                fail = " | ".join(" ".join(f"{res.figures[c][n]['failed_pct']:5.2f}" for n in res.devices) for c in res.columns)
                svc = " ".join(f"{res.figures[c][1000]['service_time_s']:.3f}" for c in res.columns)
                print(f"{slot:7.3f} {el:7.2f}  {fail} ; {svc}")
            return
        t_imp = cli("import-ecs", str(folder), "--out", str(tmp / "sa1.toml"))
        out = tmp / "run"
        t_run = cli("run-ecs", str(tmp / "sa1.toml"), "--seeds", str(args.seeds), "--jobs", str(args.jobs), "--out", str(out))
        doc = json.loads((out / "results.json").read_text())
    res = EcsResult.from_json(doc)
    print(f"sample_app1: {len(res.devices)} device counts x {len(res.columns)} orchestrators x {res.seeds} seed(s), "
          f"{args.minutes:g} min simulated each")
    print(f"import-ecs {t_imp:.2f} s; run-ecs {t_run:.2f} s wall (sweep {doc['timing_s']['total']:.2f} s, "
          f"step {res.slot_s} s)")
    print(f"{'devices':>7}  " + "  ".join(f"{c.split('/')[0]:>28}" for c in res.columns))
    print(f"{'':>7}  " + "  ".join(f"{'failed % (ECS)':>16} {'service s (ECS)':>11}" for _ in res.columns))
    for n in res.devices:
        ref = SAMPLE_APP1_REFERENCE.get(n, {})
        cells = []
        for c in res.columns:
            f = res.figures[c][n]
            r = ref.get(c.split("/")[0])
            cells.append(f"{f['failed_pct']:6.2f} ({r[0]:6.2f}) {f['service_time_s']:5.2f} ({r[1]:5.2f})" if r else "")
        print(f"{n:>7}  " + "  ".join(f"{x:>28}" for x in cells))
    if args.minutes == 30.0:
        chk = reference_check(res, SAMPLE_APP1_REFERENCE, REFERENCE_FIELDS)
        print("\nvs EdgeCloudSim (Pearson r over device counts; mean absolute difference, in % or s):")
        for scn, d in sorted(chk.items()):
            print(f"  {scn:17s} " + "  ".join(f"{k}: r={v['corr']:.3f} |d|={v['mean_abs_diff']:.3f}"
                                             for k, v in d.items() if np.isfinite(v['corr'])))


if __name__ == "__main__":
    main()
