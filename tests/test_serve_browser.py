"""The dashboard in headless Chromium (Debian's ``chromium``; ``make test-browser``, not in CI):
a served policy gets decisions and outcomes while Chromium loads ``/``; after a few refreshes
the page must show data (decisions counted, latency percentiles, location mix) and no error.
Saves the screenshot as docs/serve-dashboard.png."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from test_serve import snap
from test_serve_live import free_port

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
SHOT = ROOT / "docs" / "serve-dashboard.png"


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is not installed: `make test-browser` installs Debian's chromium package"
    return exe


def feed(url: str, stop: threading.Event) -> None:
    """Decisions (1 to 8 tasks per request) and their outcomes until ``stop``."""
    with httpx.Client(base_url=url, timeout=10) as c:
        i = 0
        while not stop.is_set():
            try:
                r = c.post("/v1/decide", json=snap(1 + i % 8))
            except httpx.HTTPError:
                assert stop.is_set(), "the service stopped answering"
                return
            for d in r.json()["decisions"]:
                est = d["estimated_latency_s"][d["action"]]
                body = {"decision_id": d["decision_id"], "realized_latency_s": est * 1.1} if i % 10 else \
                       {"decision_id": d["decision_id"], "dropped": True}
                try:
                    c.post("/v1/outcome", json=body)
                except httpx.HTTPError:
                    return
            i += 1
            time.sleep(0.01)


def test_dashboard_in_headless_chromium(tmp_path):
    exe = chromium()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "mecoffload.cli", "serve", "-p", "setnet:checkpoints/setnet-comllm",
                             "--port", str(port), "--no-access-log"], cwd=ROOT, env=env)
    stop = threading.Event()
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        feeder = threading.Thread(target=feed, args=(url, stop), daemon=True)
        feeder.start()
        time.sleep(2.0)
        common = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=7000"]
        dom = subprocess.run([*common, "--dump-dom", url + "/"], capture_output=True, text=True, timeout=120).stdout
        SHOT.parent.mkdir(exist_ok=True)
        subprocess.run([*common, "--window-size=1280,1000", f"--screenshot={SHOT}", url + "/"], capture_output=True,
                       timeout=120)
    finally:
        stop.set()
        feeder.join(timeout=30) if "feeder" in locals() else None
        proc.terminate()
        proc.wait(timeout=30)
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("state") == "ok", attrs  # not "error", not "no-data"
    assert int(attrs["polls"]) >= 2 and float(attrs["decisions"]) > 0
    assert "error:" not in dom
    pct = re.search(r'id="pct">([^<]*)<', dom).group(1)
    assert re.match(r"[\d.]+ / [\d.]+ / [\d.]+", pct), pct  # p50 / p90 / p99 in ms
    assert "server_" not in re.search(r'id="total">([^<]*)<', dom).group(1)
    assert re.search(r"<td>setnet:checkpoints/setnet-comllm</td><td>\d+</td>", dom)  # realized vs estimated table
    assert SHOT.exists() and SHOT.stat().st_size > 10_000
