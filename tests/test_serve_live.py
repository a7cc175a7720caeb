"""uvicorn on loopback (a free port) + ``mecoffload serve-sim``: metrics identical to in-process
``mecoffload evaluate`` with the same policy and seed; a hot policy swap; graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mecoffload.cli import main

ROOT = Path(__file__).resolve().parent.parent
KEY = "live-test-key-0123456789"
ARGS = ["-n", "4", "--seed", "5", "--set", "sim.horizon_slots=40"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def json_out(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_serve_sim_equals_evaluate_and_sigterm(tmp_path, capsys):
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "mecoffload.cli", "serve", "-p", "oracle", "--port", str(port),
                             "--api-key-file", str(key_file)], cwd=ROOT, env=env, stderr=log, stdout=log)
    try:
        deadline = time.time() + 180
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.time() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.3)
        for spec in ("oracle", "setnet:checkpoints/setnet-comllm"):
            if spec != "oracle":
                r = httpx.post(f"{url}/v1/policy", json={"spec": spec}, headers={"x-api-key": KEY}, timeout=60)
                assert r.status_code == 200, r.text
            remote = json_out(capsys, ["serve-sim", "--url", url, "--api-key-file", str(key_file), "--json", *ARGS])
            local = json_out(capsys, ["evaluate", "-p", spec, "--json", "--no-plots", "--out", str(tmp_path / spec[:6]), *ARGS])
            assert remote["policies"] == local["policies"]  # every metric, bit for bit
            assert remote["requests"] > 20
        metrics = httpx.get(f"{url}/metrics").text
        assert 'mecoffload_requests_total{path="/v1/decide/batch",status="200"}' in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    lines = [json.loads(x) for x in (tmp_path / "server.log").read_text().splitlines() if x.startswith("{")]
    assert any(x["path"] == "/v1/decide/batch" and x["status"] == 200 and x["ms"] > 0 for x in lines)
