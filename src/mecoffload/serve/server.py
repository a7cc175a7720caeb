"""Run the service under uvicorn: ``serve(scenario, spec, host, port, workers, api_key_file)``.

Rules: a host that is not loopback needs an API key file (the key is its first line, at least 16
characters); uvicorn stops gracefully on SIGTERM / SIGINT (no new connections, in-flight requests
finish within ``GRACE_S``, then ``/readyz`` is down and the process exits 0). With ``workers`` > 1
uvicorn starts that many processes from ``app_from_env`` (the configuration travels in the
environment variable ``MECOFFLOAD_SERVE``); each has its own metrics and ``POST /v1/policy`` is refused.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import os
import signal
import sys
from pathlib import Path

from ..core.errors import UserError, clip
from ..sim.scenario import Scenario, validate_scenario
from .app import create_app
from .service import Service

GRACE_S = 10  # s given to in-flight requests after SIGTERM
ENV = "MECOFFLOAD_SERVE"
MIN_KEY = 16


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_key(path: Path | None, host: str) -> str | None:
    """The API key of ``path`` (first line); required when ``host`` is not loopback."""
    if path is None:
        if not is_loopback(host):
            raise UserError(f"--host {clip(host)} is not loopback: an API key is required (--api-key-file FILE, "
                            f"one line of at least {MIN_KEY} characters)")
        return None
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UserError(f"--api-key-file '{clip(path)}': cannot read it ({exc.strerror or exc})") from None
    key = lines[0].strip() if lines else ""
    if len(key) < MIN_KEY:
        raise UserError(f"--api-key-file '{clip(path)}': the key (first line) must have at least {MIN_KEY} characters")
    return key


def build(config: dict):
    """(Service, app) of a configuration {scenario (dump), spec, seed, key, workers, access_log}."""
    service = Service(validate_scenario(config["scenario"]), config["spec"], config.get("seed", 0))
    return service, create_app(service, config.get("key"), config.get("workers", 1))


def app_from_env():
    """The app of one uvicorn worker process (``--workers`` > 1)."""
    config = json.loads(os.environ[ENV])
    _log(config.get("access_log", True))
    return build(config)[1]


def _log(access: bool) -> None:
    """Turn the JSON access log on or off: the level of the ``mecoffload.serve.access`` logger,
    which ``accesslog.AccessLog`` reads (it writes the lines to stderr itself, in bulk)."""
    logging.getLogger("mecoffload.serve.access").setLevel(logging.INFO if access else logging.WARNING)


def check_port(host: str, port: int) -> None:
    """Refuse (UserError) a host:port this process cannot listen on (in use, or not an address of this machine)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UserError(f"--host {clip(host)}: not an address ({exc.strerror or exc})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise UserError(f"--host {clip(host)}: not an address of this machine") from None
            why = "already in use (another service?)" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise UserError(f"--port {port}: cannot listen on {clip(host)}:{port}: {why}") from None


def serve(sc: Scenario, spec: str, host: str, port: int, workers: int, key_file: Path | None, seed: int = 0,
          access_log: bool = True, announce=None) -> None:
    """Serve ``spec`` on ``sc`` until SIGTERM / SIGINT (see the module docstring); ``announce()`` is
    called once the policy is built and the port is free, just before listening."""
    import uvicorn

    config = {"scenario": sc.model_dump(), "spec": spec, "seed": seed, "key": read_key(key_file, host),
              "workers": workers, "access_log": access_log}
    _log(access_log)
    common = {"host": host, "port": port, "log_level": "warning", "access_log": False,
              "timeout_graceful_shutdown": GRACE_S}
    stopped: list[int] = []
    # uvicorn stops gracefully on SIGTERM/SIGINT, then re-raises the signal with the handlers it found:
    # these take it and let ``serve`` return (exit code 0 after a requested shutdown)
    check_port(host, port)  # before the signal handlers: a refusal leaves the process as it was
    previous = {sig: signal.signal(sig, lambda signum, frame: stopped.append(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        app = build(config)[1]  # fail here, with one error line, before anything listens
        if announce is not None:
            announce()
        if workers > 1:
            del app  # each worker builds its own
            os.environ[ENV] = json.dumps(config)
            uvicorn.run("mecoffload.serve.server:app_from_env", factory=True, workers=workers, **common)
        else:
            uvicorn.run(app, **common)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped:
        print(f"stopped by {signal.Signals(stopped[0]).name}: in-flight requests finished", file=sys.stderr)
