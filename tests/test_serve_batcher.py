"""The decision fast path and request coalescing (``serve.batcher``): requests that wait together are
decided in one ``Service.decide`` call with the answers of deciding each alone; a faulty one gets
its 422 alone and books nothing; setnet's traced module gives the eager module's logits."""

from __future__ import annotations

import asyncio
import copy

import httpx
import numpy as np
import pytest
import torch

from mecoffload.serve.app import create_app
from mecoffload.serve.schema import Snapshot
from mecoffload.serve.service import Service
from mecoffload.serve.snapshot import SnapshotError
from mecoffload.sim.params import Params
from mecoffload.sim.scenario import load_scenario

SC = load_scenario("comllm", None)
P = Params.from_scenario(SC)
SETNET = "setnet:checkpoints/setnet-comllm"


def snap(i: int, n_tasks: int = 1, servers: int = 6) -> dict:
    """A snapshot that differs with ``i`` (so that decisions differ between requests)."""
    rng = np.random.default_rng(i)
    return {"servers": [{"cpu_ghz": float(rng.uniform(20, 48)), "tasks_in_service": int(rng.integers(0, 4)),
                         "tasks_uploading": int(rng.integers(0, 3)), "backlog_gcycles": float(rng.uniform(0, 3)),
                         "rate_mbps": float(rng.uniform(3, 30)), "distance_m": float(rng.uniform(20, 400))}
                        for _ in range(servers)],
            "device": {"local_wait_s": float(rng.uniform(0, 0.5))},
            "tasks": [{"size_mbit": float(rng.uniform(2, 5))} for _ in range(n_tasks)]}


def concurrently(service: Service, requests: list[tuple[str, dict]]) -> tuple[list[httpx.Response], int]:
    """POST all ``requests`` (path, body) at once on one app: (responses, combined decide calls)."""
    app = create_app(service)

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            return await asyncio.gather(*(c.post(path, json=body) for path, body in requests))
    return asyncio.run(run()), app.state.coalescer.calls


def strip(decisions: list[dict]) -> list[dict]:
    return [{k: v for k, v in d.items() if k not in ("decision_id", "probabilities")} for d in decisions]


@pytest.mark.parametrize("spec", ["oracle", SETNET])
def test_waiting_requests_are_decided_together_with_the_answers_of_each_alone(spec):
    bodies = [snap(i, n_tasks=1 + i % 3, servers=6 if i % 4 else 4) for i in range(12)]  # two server counts, 1-3 tasks
    alone = Service(SC, spec)
    want = [alone.decide([Snapshot.model_validate(b)], first=-1)[1][0] for b in bodies]
    service = Service(SC, spec)
    rs, calls = concurrently(service, [("/v1/decide", b) for b in bodies] + [("/v1/decide/batch", {"snapshots": bodies[:3]})])
    assert all(r.status_code == 200 for r in rs), [r.text for r in rs if r.status_code != 200]
    got = [r.json()["decisions"] for r in rs[:-1]]
    for g, w in zip(got, want):
        assert strip(g) == strip(w)
        if spec == SETNET:  # float32 scores of a larger batch: equal to rounding
            assert np.allclose([d["probabilities"] for d in g], [d["probabilities"] for d in w], atol=1e-6)
    assert [strip(x["decisions"]) for x in rs[-1].json()["results"]] == [strip(w) for w in want[:3]]
    ids = [d["decision_id"] for ds in got for d in ds] + [d["decision_id"] for x in rs[-1].json()["results"]
                                                           for d in x["decisions"]]
    assert sorted(ids) == list(range(len(ids)))  # unique, none lost
    assert calls < len(rs) / 2  # 13 requests, a few combined calls


def test_a_faulty_request_gets_its_422_alone_and_books_nothing():
    bodies = [snap(i) for i in range(6)]
    bad = copy.deepcopy(bodies[2])
    bad["device"]["cpu_ghz"] = P.f_loc / 1e9 * 2  # not the scenario's device: 422 after the schema
    service = Service(SC, "oracle")
    rs, _ = concurrently(service, [("/v1/decide", b) for b in bodies[:2] + [bad] + bodies[3:]])
    assert [r.status_code for r in rs] == [200, 200, 422, 200, 200, 200]
    assert rs[2].json()["detail"][0]["loc"] == ["body", "device", "cpu_ghz"]
    ids = sorted(d["decision_id"] for r in rs if r.status_code == 200 for d in r.json()["decisions"])
    assert ids == list(range(5))  # the combined call that failed booked nothing
    text = service.monitor.exposition().decode()
    total = sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("mecoffload_decisions_total{"))
    assert total == 5


def test_service_decide_is_all_or_nothing():
    service = Service(SC, "oracle")
    good = Snapshot.model_validate(snap(0))
    bad = snap(1, n_tasks=2)
    bad["tasks"][1]["gcycles_per_mbit"] = P.gamma / 1e3 * 3
    with pytest.raises(SnapshotError) as exc:
        service.decide([good, Snapshot.model_validate(bad)])
    assert exc.value.loc == ("body", "snapshots", 1, "tasks", 1, "gcycles_per_mbit")
    assert service.decide([good])[1][0][0]["decision_id"] == 0


def test_setnet_runs_traced_with_the_eager_logits():
    service = Service(SC, SETNET)
    pol = service.served.for_servers(6)
    assert isinstance(pol.net, torch.jit.ScriptModule)  # the trace was taken (bit-identical on the probes)
    from mecoffload.policies.setnet import SetNetPolicy

    eager = SetNetPolicy(P, "checkpoints/setnet-comllm")
    g = torch.Generator().manual_seed(5)
    for n, e in ((1, 6), (7, 2), (300, 9)):
        t, s = torch.randn(n, 5, generator=g), torch.randn(n, e, 9, generator=g)
        with torch.inference_mode():
            assert torch.equal(pol.net(t, s), eager.net(t, s))


def test_an_int8_policy_decides_each_request_alone(tmp_path):
    """Dynamic int8 scales activations per forward pass: such a policy is never coalesced, so every
    answer is that of its request decided alone (bit for bit, probabilities included)."""
    from mecoffload.compress.api import Options, compress

    q = tmp_path / "q"
    compress(SETNET, P, q, Options(sparsity=0.4, quantize="int8", check_states=200))
    spec = f"setnet:{q}"
    bodies = [snap(100 + i, n_tasks=1 + i % 2) for i in range(10)]
    alone = Service(SC, spec)
    want = [alone.decide([Snapshot.model_validate(b)], first=-1)[1][0] for b in bodies]
    service = Service(SC, spec)
    assert service.served.alone and not Service(SC, SETNET).served.alone
    rs, calls = concurrently(service, [("/v1/decide", b) for b in bodies])
    assert all(r.status_code == 200 for r in rs)
    assert calls < len(bodies)  # the requests did wait together ...
    for r, w in zip(rs, want):  # ... and were decided one by one
        assert [{k: v for k, v in d.items() if k != "decision_id"} for d in r.json()["decisions"]] == \
            [{k: v for k, v in d.items() if k != "decision_id"} for d in w]
