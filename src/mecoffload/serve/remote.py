"""The simulator driven through the service: every decision of an evaluation goes over HTTP.

``RemotePolicy`` is a policy whose ``act(obs, rng)`` sends all rows of a decision round to
``POST /v1/decide/batch`` (one single-task snapshot per row, ``snapshot.obs_to_snapshots``) and
returns the served actions; ``serve_sim`` runs ``sim.rollout.run_closed_loop`` with it, so the
metrics are those of ``mecoffload evaluate`` whenever the service decides as the policy does
in-process (deterministic policies; ``random``, ``lacs`` draw from the service's own stream).
"""

from __future__ import annotations

import json

import numpy as np

from ..core.errors import UserError, clip
from ..sim.params import Params
from ..sim.rollout import PolicyRun, run_closed_loop
from ..sim.scenario import Scenario
from .snapshot import obs_to_snapshots

TIMEOUT_S = 60.0


class RemotePolicy:
    """A policy answered by a running service at ``url``."""

    def __init__(self, url: str, p: Params, key: str | None = None, timeout_s: float = TIMEOUT_S) -> None:
        import httpx

        headers = {"content-type": "application/json"} | ({"x-api-key": key} if key else {})
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)
        self.p, self.requests = p, 0
        info = self._call("GET", "/v1/policy")
        if info["n_servers"] != p.n_servers or info["history_slots"] != p.history:
            raise UserError(f"the service at {clip(url)} serves a scenario with {info['n_servers']} servers and "
                            f"{info['history_slots']} history slots; this one has {p.n_servers} and {p.history}")
        self.name, self.info = info["policy"], info

    def _call(self, method: str, path: str, body: bytes | None = None) -> dict:
        import httpx

        try:
            r = self.http.request(method, path, content=body)
        except httpx.HTTPError as exc:
            raise UserError(f"--url {clip(str(self.http.base_url))}: {type(exc).__name__} ({clip(exc, 120)})") from None
        self.requests += 1
        if r.status_code != 200:
            raise UserError(f"{method} {path}: HTTP {r.status_code} ({clip(r.text, 200)})")
        return r.json()

    def reset(self, batch: int) -> None:
        pass

    def act(self, obs, rng: np.random.Generator) -> np.ndarray:
        if len(obs) == 0:
            return np.zeros(0, np.int64)
        body = json.dumps({"snapshots": obs_to_snapshots(obs, self.p)}).encode()
        doc = self._call("POST", "/v1/decide/batch", body)
        return np.array([r["decisions"][0]["action"] for r in doc["results"]], np.int64)

    def close(self) -> None:
        self.http.close()


def serve_sim(sc: Scenario, url: str, episodes: int, seed: int, key: str | None = None, progress=None) -> tuple[PolicyRun, int]:
    """(the evaluation run of the served policy, HTTP requests made)."""
    p = Params.from_scenario(sc)
    pol = RemotePolicy(url, p, key)
    try:
        run = run_closed_loop(p, pol, episodes, seed, progress)
    finally:
        pol.close()
    return run, pol.requests
