"""The decision service in-process (httpx.ASGITransport): every endpoint, its errors, and the
decisions against the simulator's own observation / decision code."""

from __future__ import annotations

import asyncio
import copy
import json
import time

import httpx
import numpy as np
import pytest

from mecoffload.cli import main
from mecoffload.policies.base import make_policy
from mecoffload.serve.app import create_app
from mecoffload.serve.schema import Snapshot
from mecoffload.serve.service import Service
from mecoffload.serve.snapshot import OBS_FIELDS, board, mean_fading_rate, obs_to_snapshots
from mecoffload.sim import dynamics as D
from mecoffload.sim.cost import obs_latency, oracle_actions
from mecoffload.sim.params import Params
from mecoffload.sim.scenario import load_scenario

KEY = "k" * 20
H = {"x-api-key": KEY}
SETNET = "setnet:checkpoints/setnet-comllm"
SC = load_scenario("comllm", None)
P = Params.from_scenario(SC)


def snap(n_tasks: int = 1, servers: int = 6) -> dict:
    return {"servers": [{"cpu_ghz": 20.0 + 4 * e, "tasks_in_service": e % 3, "tasks_uploading": e % 2,
                         "backlog_gcycles": 0.5 * e, "rate_mbps": 8.0 + 2 * e, "distance_m": 50.0 + 20 * e}
                        for e in range(servers)],
            "device": {"local_wait_s": 0.05}, "tasks": [{"size_mbit": 2.0 + 0.5 * j} for j in range(n_tasks)]}


def client(spec: str = "oracle", key: str | None = KEY, service: Service | None = None):
    service = service or Service(SC, spec)
    return service, httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(service, key)), base_url="http://t")


def call(spec: str, *requests, key: str | None = KEY, service: Service | None = None):
    """Run (method, path, kwargs) requests in order on a fresh app; the responses."""
    async def run():
        _, c = client(spec, key, service)
        async with c:
            return [await c.request(m, path, **kw) for m, path, kw in requests]
    return asyncio.run(run())


def sim_rounds(seed: int = 3, slots: int = 12, envs: int = 16):
    """(Obs, oracle actions) of real simulator decision rounds."""
    st, exo = D.reset(P, envs, seed)
    out = []
    for _ in range(slots):
        arr = D.draw_slot(st, P, exo)
        for k in range(arr.width):
            obs = D.observe(st, arr, k, P)
            a = oracle_actions(obs, P)
            out.append((obs, a))
            D.decide(st, obs, a, P)
        D.serve(st, P)
    return out


def test_snapshot_round_trip_is_float_exact_or_one_ulp():
    n_exact = n_all = 0
    for obs, _ in sim_rounds():
        snaps = [Snapshot.model_validate(s) for s in obs_to_snapshots(obs, P)]
        _, back = board(snaps, [("body",)] * len(snaps), P).observe(0)
        for f in OBS_FIELDS:
            if f in ("env", "user"):
                continue
            a, b = getattr(obs, f), getattr(back, f)
            assert np.allclose(a, b, rtol=3e-16, atol=0), f
            n_exact += int((a == b).sum())
            n_all += a.size
    assert n_exact / n_all > 0.95  # the rest: no decimal in the service's units maps back exactly


def test_decide_matches_oracle_and_cost_model():
    rounds = sim_rounds()
    obs, acts = rounds[5]
    body = {"snapshots": obs_to_snapshots(obs, P)}
    (r,) = call("oracle", ("POST", "/v1/decide/batch", {"json": body, "headers": H}))
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["decisions"][0]["action"] for x in res] == acts.tolist()
    est = np.array([x["decisions"][0]["estimated_latency_s"] for x in res])
    assert np.allclose(est, obs_latency(obs, P), rtol=1e-12)
    d = res[0]["decisions"][0]
    assert d["location"] == ("local" if d["action"] == 0 else "edge")
    assert d["server"] == (None if d["action"] == 0 else d["action"] - 1)
    assert d["probabilities"] is None and len(d["meets_deadline"]) == P.n_servers + 1


@pytest.mark.parametrize("overrides", [None, ["cost.model=queue"]])
def test_sequential_decisions_update_the_snapshot_as_the_simulator_does(overrides):
    """Five tasks of one user in one slot: the service's decisions equal the simulator's,
    where each k-th arrival is observed after the decision of the (k-1)-th."""
    sc = load_scenario("comllm", overrides)
    p = Params.from_scenario(sc)
    st, exo = D.reset(p, 1, 11)
    D.draw_slot(st, p, exo, arrivals=False)
    sizes = np.array([[4.9e6, 2.2e6, 3.7e6, 4.4e6, 2.5e6]])
    arr = D.Arrivals(user=np.zeros((1, 5), np.int64), bits=sizes, valid=np.ones((1, 5), bool))
    sim_actions, sim_costs = [], []
    for k in range(5):
        obs = D.observe(st, arr, k, p)
        if k == 0:
            first = obs_to_snapshots(obs, p)[0]
        a = oracle_actions(obs, p)
        sim_actions.append(int(a[0]))
        sim_costs.append(obs_latency(obs, p)[0])
        D.decide(st, obs, a, p)
    first["tasks"] = [{"size_mbit": float(b) / 1e6} for b in sizes[0]]
    (r,) = call("oracle", ("POST", "/v1/decide", {"json": first, "headers": H}), service=Service(sc, "oracle"))
    dec = r.json()["decisions"]
    assert [d["action"] for d in dec] == sim_actions
    assert len(set(sim_actions)) > 1  # the queue updates matter here
    assert np.allclose([d["estimated_latency_s"] for d in dec], sim_costs, rtol=1e-12)


def test_batch_equals_single_requests_and_ids_increase():
    a, b = snap(3), snap(1)
    r_batch, r1, r2 = call("oracle", ("POST", "/v1/decide/batch", {"json": {"snapshots": [a, b]}, "headers": H}),
                           ("POST", "/v1/decide", {"json": a, "headers": H}), ("POST", "/v1/decide", {"json": b, "headers": H}))
    strip = lambda ds: [{k: v for k, v in d.items() if k != "decision_id"} for d in ds]  # noqa: E731
    res = r_batch.json()["results"]
    assert strip(res[0]["decisions"]) == strip(r1.json()["decisions"])
    assert strip(res[1]["decisions"]) == strip(r2.json()["decisions"])
    ids = [d["decision_id"] for x in res for d in x["decisions"]] + [d["decision_id"] for d in r1.json()["decisions"]]
    assert sorted(ids) == list(range(len(ids)))  # unique; a batch numbers its decisions round by round


def test_setnet_probabilities_and_same_actions_as_in_process():
    obs, _ = sim_rounds()[7]
    (r,) = call(SETNET, ("POST", "/v1/decide/batch", {"json": {"snapshots": obs_to_snapshots(obs, P)}, "headers": H}))
    res = [x["decisions"][0] for x in r.json()["results"]]
    probs = np.array([d["probabilities"] for d in res])
    assert np.allclose(probs.sum(1), 1.0) and (probs >= 0).all()
    actions = np.array([d["action"] for d in res])
    assert (probs.argmax(1) == actions).all()
    assert (actions == make_policy(SETNET, P).act(obs, np.random.default_rng(0))).all()


def test_distance_only_uses_mean_fading_path_loss():
    s = snap(1)
    for srv in s["servers"]:
        del srv["rate_mbps"]
    service = Service(SC, "oracle")
    b = board([Snapshot.model_validate(s)], [("body",)], P)
    assert np.allclose(b.rate[0], mean_fading_rate([v["distance_m"] for v in s["servers"]], P))
    (r,) = call("oracle", ("POST", "/v1/decide", {"json": s, "headers": H}), service=service)
    assert r.status_code == 200


@pytest.mark.parametrize("edit, loc", [
    (lambda s: s["servers"][2].update(rate_mbps=-1), ["body", "servers", 2, "rate_mbps"]),
    (lambda s: s["tasks"][0].update(size_mbit=0), ["body", "tasks", 0, "size_mbit"]),
    (lambda s: s["device"].update(local_wait_s=-0.1), ["body", "device", "local_wait_s"]),
    (lambda s: s["servers"][0].update(cpu_ghz=1e9), ["body", "servers", 0, "cpu_ghz"]),
    (lambda s: s["servers"][1].update(tasks_uploading=1.5), ["body", "servers", 1, "tasks_uploading"]),
    (lambda s: s.update(servers=s["servers"] * 43), ["body", "servers"]),
    (lambda s: s.update(tasks=s["tasks"] * 4097), ["body", "tasks"]),
    (lambda s: s.update(tasks=[]), ["body", "tasks"]),
    (lambda s: s.update(extra=1), ["body", "extra"]),
    (lambda s: [v.pop("rate_mbps") and v.pop("distance_m") for v in s["servers"]], ["body", "servers", 0]),
    (lambda s: s["servers"][3].update(backlog_history_gcycles=[1.0]), ["body", "servers", 3, "backlog_history_gcycles"]),
    (lambda s: s["tasks"][0].update(gcycles_per_mbit=1.0), ["body", "tasks", 0, "gcycles_per_mbit"]),
    (lambda s: s["device"].update(cpu_ghz=3.0), ["body", "device", "cpu_ghz"]),
])
def test_422_names_the_field(edit, loc):
    s = snap(1)
    edit(s)
    service = Service(SC, "oracle")
    (r,) = call("oracle", ("POST", "/v1/decide", {"json": s, "headers": H}), service=service)
    assert r.status_code == 422
    assert any(d["loc"][: len(loc)] == loc for d in r.json()["detail"]), r.json()
    assert 'mecoffload_validation_errors_total{path="/v1/decide"} 1.0' in service.monitor.exposition().decode()


def test_nan_and_infinity_are_422():
    text = json.dumps(snap(1)).replace('"local_wait_s": 0.05', '"local_wait_s": NaN')
    r1, r2 = call("oracle", ("POST", "/v1/decide", {"content": text, "headers": {**H, "content-type": "application/json"}}),
                  ("POST", "/v1/decide", {"content": text.replace("NaN", "Infinity"),
                                          "headers": {**H, "content-type": "application/json"}}))
    for r in (r1, r2):
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "local_wait_s"


def test_batch_error_names_the_snapshot():
    bad = snap(1)
    bad["tasks"][0]["gcycles_per_mbit"] = 9.0
    (r,) = call("oracle", ("POST", "/v1/decide/batch", {"json": {"snapshots": [snap(1), bad]}, "headers": H}))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "snapshots", 1, "tasks", 0, "gcycles_per_mbit"]


def test_body_over_1_mib_is_413_and_wrong_key_401():
    big = json.dumps({"snapshots": [snap(40)] * 700})
    assert len(big) > 1 << 20
    r1, r2, r3, r4 = call("oracle", ("POST", "/v1/decide/batch", {"content": big, "headers": {**H, "content-type": "application/json"}}),
                          ("POST", "/v1/decide", {"json": snap()}),
                          ("POST", "/v1/decide", {"json": snap(), "headers": {"x-api-key": KEY[:-1] + "x"}}),
                          ("POST", "/v1/decide", {"json": snap(), "headers": {"authorization": f"Bearer {KEY}"}}))
    assert r1.status_code == 413 and "1 MiB" in r1.json()["detail"]
    assert r2.status_code == 401 and r3.status_code == 401 and r4.status_code == 200


def test_no_key_on_loopback_opens_v1_but_not_policy_replacement():
    r1, r2 = call("oracle", ("POST", "/v1/decide", {"json": snap()}), ("POST", "/v1/policy", {"json": {"spec": "random"}}),
                  key=None)
    assert r1.status_code == 200 and r2.status_code == 403


def test_outcome_statistics_realized_vs_estimated():
    service = Service(SC, "oracle")
    (r,) = call("oracle", ("POST", "/v1/decide", {"json": snap(2), "headers": H}), service=service)
    d0, d1 = r.json()["decisions"]
    est0 = d0["estimated_latency_s"][d0["action"]]
    o1, o2, o3, o4, st, m = call("oracle",
        ("POST", "/v1/outcome", {"json": {"decision_id": d0["decision_id"], "realized_latency_s": est0 + 0.25}, "headers": H}),
        ("POST", "/v1/outcome", {"json": {"decision_id": d1["decision_id"], "dropped": True}, "headers": H}),
        ("POST", "/v1/outcome", {"json": {"decision_id": d1["decision_id"], "dropped": True}, "headers": H}),
        ("POST", "/v1/outcome", {"json": {"decision_id": 5, "dropped": True, "realized_latency_s": 1.0}, "headers": H}),
        ("GET", "/v1/stats", {"headers": H}), ("GET", "/metrics", {}), service=service)
    assert o1.status_code == 200 and abs(o1.json()["error_s"] - 0.25) < 1e-12
    assert o2.status_code == 200 and o2.json()["error_s"] is None
    assert o3.status_code == 404 and o4.status_code == 422
    s = st.json()["policies"]["oracle"]
    assert s["outcomes"] == 2 and s["dropped"] == 1 and s["drop_pct"] == 50.0
    assert abs(s["mean_error_s"] - 0.25) < 1e-12 and abs(s["mean_realized_s"] - est0 - 0.25) < 1e-12
    text = m.text
    assert 'mecoffload_outcomes_total{policy="oracle",result="dropped"} 1.0' in text
    assert 'mecoffload_outcome_error_seconds_count{policy="oracle"} 1.0' in text


def test_policy_get_post_and_errors():
    g, bad, noauth, ok, after = call("oracle", ("GET", "/v1/policy", {"headers": H}),
                                     ("POST", "/v1/policy", {"json": {"spec": "nosuch"}, "headers": H}),
                                     ("POST", "/v1/policy", {"json": {"spec": SETNET}}),
                                     ("POST", "/v1/policy", {"json": {"spec": SETNET}, "headers": H}),
                                     ("POST", "/v1/decide", {"json": snap(), "headers": H}))
    assert g.json()["policy"] == "oracle" and g.json()["n_servers"] == 6 and g.json()["deterministic"]
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "spec"]
    assert bad.json()["detail"][0]["msg"].startswith("unknown policy 'nosuch'")  # not a servers error
    assert noauth.status_code == 401
    assert ok.status_code == 200 and ok.json()["policy"] == SETNET
    assert after.json()["policy"] == SETNET and after.json()["decisions"][0]["probabilities"] is not None


def test_policy_swap_does_not_block_or_drop_decisions(monkeypatch):
    service = Service(SC, "oracle")
    real_load = service.load

    def slow_load(spec):
        time.sleep(0.8)
        return real_load(spec)

    monkeypatch.setattr(service, "load", slow_load)

    async def run():
        _, c = client(service=service)
        async with c:
            swap = asyncio.create_task(c.post("/v1/policy", json={"spec": "nearest"}, headers=H))
            await asyncio.sleep(0.1)
            during = [await c.post("/v1/decide", json=snap(), headers=H) for _ in range(5)]
            done_before = swap.done()
            await swap
            after = await c.post("/v1/decide", json=snap(), headers=H)
            return during, done_before, after
    during, done_before, after = asyncio.run(run())
    assert not done_before
    assert all(r.status_code == 200 and r.json()["policy"] == "oracle" for r in during)
    assert after.json()["policy"] == "nearest"


def test_other_servers_count_and_dqn_refusal():
    r1, r2 = call(SETNET, ("POST", "/v1/decide", {"json": snap(2, servers=9), "headers": H}),
                  ("POST", "/v1/decide", {"json": snap(1, servers=3), "headers": H}))
    assert r1.status_code == 200 and len(r1.json()["decisions"][0]["estimated_latency_s"]) == 10
    assert r2.status_code == 200
    (r3,) = call("dqn:checkpoints/dqn-comllm", ("POST", "/v1/decide", {"json": snap(1, servers=9), "headers": H}))
    assert r3.status_code == 422 and r3.json()["detail"][0]["loc"] == ["body", "servers"]


def test_health_ready_metrics_openapi_docs_dashboard():
    service = Service(SC, "oracle")
    rs = call("oracle", ("GET", "/healthz", {}), ("GET", "/readyz", {}), ("POST", "/v1/decide", {"json": snap(3), "headers": H}),
              ("GET", "/metrics", {}), ("GET", "/openapi.json", {}), ("GET", "/docs", {}), ("GET", "/", {}),
              ("GET", "/static/dashboard.js", {}), service=service)
    health, ready, _, metrics, spec, docs, dash, js = rs
    assert health.json() == {"status": "ok"} and ready.json()["status"] == "ready"
    assert 'mecoffload_requests_total{path="/v1/decide",status="200"} 1.0' in metrics.text
    assert "mecoffload_decisions_total" in metrics.text and 'mecoffload_request_seconds_bucket{le="0.001",path="/v1/decide"}' in metrics.text
    paths = spec.json()["paths"]
    assert {"/v1/decide", "/v1/decide/batch", "/v1/outcome", "/v1/policy", "/healthz", "/readyz", "/metrics"} <= set(paths)
    assert "size_mbit" in spec.text and "Mbit" in spec.text
    external = ('src="http', "src='http", 'href="http', "href='http", "//cdn")
    assert docs.status_code == 200 and "/openapi.json" in docs.text and not any(x in docs.text for x in external)
    assert dash.status_code == 200 and "/static/dashboard.js" in dash.text and not any(x in dash.text for x in external)
    assert js.status_code == 200 and "/metrics" in js.text
    service.ready = False
    (nr,) = call("oracle", ("GET", "/readyz", {}), service=service)
    assert nr.status_code == 503


def test_cli_refuses_public_host_without_key_and_short_key(tmp_path, capsys):
    assert main(["serve", "-p", "oracle", "--host", "0.0.0.0"]) == 2
    assert "API key is required" in capsys.readouterr().err
    f = tmp_path / "key"
    f.write_text("short\n")
    assert main(["serve", "-p", "oracle", "--host", "0.0.0.0", "--api-key-file", str(f)]) == 2
    assert "at least 16 characters" in capsys.readouterr().err
    assert main(["serve", "-p", "nosuch"]) == 2
    out = capsys.readouterr().err
    assert out.startswith("error: unknown policy 'nosuch'") and "serving" not in out  # nothing announced


def test_cli_refuses_a_port_in_use(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "-p", "oracle", "--port", str(port)]) == 2
    out = capsys.readouterr().err
    assert f"error: --port {port}: cannot listen on 127.0.0.1:{port}: already in use" in out and "serving" not in out


def test_queue_cost_model_and_reject_decisions_match_the_oracle():
    """cost.model = queue with admission control: the Obs queue view round-trips, the oracle's
    decisions (some of them rejections) and the queue model's latencies come back."""
    sc = load_scenario("comllm", ["cost.model=queue", "cost.allow_reject=true", "task.rate=1.2"])
    p = Params.from_scenario(sc)
    service = Service(sc, "oracle")
    st, exo = D.reset(p, 16, 2)
    seen = set()
    for _ in range(15):
        arr = D.draw_slot(st, p, exo)
        for k in range(arr.width):
            obs = D.observe(st, arr, k, p)
            a = oracle_actions(obs, p)
            snaps = [Snapshot.model_validate(s) for s in obs_to_snapshots(obs, p)]
            _, back = board(snaps, [("body",)] * len(snaps), p).observe(0)
            for f in ("uplink_bits", "uplink_wait_s", "mean_rate", "n_uploading", "n_in_service", "backlog_cycles",
                      "backlog_bits"):
                assert np.allclose(getattr(obs, f), getattr(back, f), rtol=1e-15, atol=0), f
            _, out = service.decide(snaps)
            got = np.array([d[0]["action"] for d in out])
            assert (got == a).all()
            assert np.allclose([d[0]["estimated_latency_s"] for d in out], obs_latency(obs, p), rtol=1e-12)
            seen |= {d[0]["location"] for d in out}
            D.decide(st, obs, a, p)
        D.serve(st, p)
    assert seen == {"local", "edge", "reject"}, seen


def test_startup_freezes_the_heap_and_a_swap_refreezes_it():
    """The service's startup moves the objects alive then out of the garbage collector's reach
    (``gc.freeze``: full collections over them stalled every request ~100 ms), and a policy swap
    lets the old policy's objects go before freezing the new ones."""
    import gc

    from fastapi.testclient import TestClient

    gc.unfreeze()
    try:
        with TestClient(create_app(Service(SC, "oracle"), KEY)) as c:  # runs the lifespan (startup)
            frozen = gc.get_freeze_count()
            assert frozen > 10_000
            r = c.post("/v1/policy", json={"spec": "nearest"}, headers=H)
            assert r.status_code == 200 and r.json()["policy"] == "nearest"
            assert gc.get_freeze_count() > 10_000
            assert c.post("/v1/decide", json=snap(), headers=H).status_code == 200
    finally:
        gc.unfreeze()
