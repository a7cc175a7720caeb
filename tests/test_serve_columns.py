"""The columnar fast path (``serve.columns.from_json``): the boards it reads from the JSON body equal
those of pydantic + ``snapshot.board`` bit for bit; anything pydantic would refuse (or that it is
unsure of) is left to the pydantic path (None), whose 422 names the field."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mecoffload.serve.columns as columns
from mecoffload.serve.columns import concat, from_json, prepare
from mecoffload.serve.schema import BatchIn, Snapshot
from mecoffload.serve.snapshot import Board, obs_to_snapshots
from mecoffload.sim.dynamics import Arrivals, observe, reset
from mecoffload.sim.params import Params
from mecoffload.sim.scenario import load_scenario

P = Params.from_scenario(load_scenario("comllm", None))


@pytest.fixture(autouse=True)
def every_size(monkeypatch):
    """Small bodies too take the fast path here (in the service they go to pydantic)."""
    monkeypatch.setattr(columns, "MIN_BYTES", 0)


def snap(i: int, n_tasks: int = 1, servers: int = 6, extra: bool = False) -> dict:
    rng = np.random.default_rng(i)
    srv = [{"cpu_ghz": float(rng.uniform(20, 48)), "tasks_in_service": int(rng.integers(0, 4)),
            "tasks_uploading": int(rng.integers(0, 3)), "backlog_gcycles": float(rng.uniform(0, 3)),
            **({"rate_mbps": float(rng.uniform(3, 30))} if i % 3 else {}), "distance_m": float(rng.uniform(20, 400))}
           for _ in range(servers)]
    if extra:
        srv[0]["backlog_history_gcycles"] = [float(x) for x in rng.uniform(0, 2, P.history)]
        srv[-1]["mean_rate_mbps"] = 7
        srv[-1]["uploading_mbit"] = 1.5
    tasks = [{"size_mbit": float(rng.uniform(2, 5)), **({"deadline_s": 0.8} if t % 2 else {})} for t in range(n_tasks)]
    return {"servers": srv, "device": {"local_wait_s": float(rng.uniform(0, 0.5)), **({"uplink_backlog_mbit": 3} if extra else {})},
            "tasks": tasks}


def same(a, b) -> None:
    """Two ``Parsed`` with the same groups, indices, locations and bit-identical boards."""
    assert a.n == b.n and list(a.groups) == list(b.groups)
    for e in a.groups:
        ga, gb = a.groups[e], b.groups[e]
        assert list(ga.idx) == list(gb.idx) and ga.at == gb.at
        for f in dataclasses.fields(Board):
            x, y = getattr(ga.board, f.name), getattr(gb.board, f.name)
            assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), f.name


def pydantic(body: dict, single: bool):
    if single:
        return prepare([Snapshot.model_validate_json(orjson.dumps(body))], -1, P)
    return prepare(BatchIn.model_validate_json(orjson.dumps(body)).snapshots, 0, P)


def test_batch_of_mixed_snapshots_equals_the_pydantic_path():
    body = {"snapshots": [snap(i, n_tasks=1 + i % 4, servers=6 if i % 3 else 4, extra=i % 2 == 0) for i in range(20)]}
    same(from_json(orjson.dumps(body), False, P), pydantic(body, False))
    one = snap(5, n_tasks=3, extra=True)
    same(from_json(orjson.dumps(one), True, P), pydantic(one, True))


def test_serve_sim_snapshots_equal_the_pydantic_path():
    state, _ = reset(P, 8, 3)
    arr = Arrivals(user=np.zeros((8, 1), np.int64), bits=np.full((8, 1), P.size_lo_bit * 1.7), valid=np.ones((8, 1), bool))
    body = {"snapshots": obs_to_snapshots(observe(state, arr, 0, P), P)}
    same(from_json(orjson.dumps(body), False, P), pydantic(body, False))


def test_small_bodies_take_the_pydantic_path(monkeypatch):
    monkeypatch.setattr(columns, "MIN_BYTES", 6_000)
    assert from_json(orjson.dumps(snap(1)), True, P) is None
    assert from_json(orjson.dumps({"snapshots": [snap(i) for i in range(16)]}), False, P) is not None


def test_concat_copies_the_boards():
    a, b = (from_json(orjson.dumps({"snapshots": [snap(i, 2), snap(i + 1, 1, servers=4)]}), False, P) for i in (0, 5))
    both = concat([a, b])
    assert both.n == 4 and both.groups[6].idx == [0, 2] and both.groups[4].idx == [1, 3]
    both.groups[6].board.local_wait_s[:] = -1.0
    assert (a.groups[6].board.local_wait_s >= 0).all()


BAD = [  # (path into the snapshot, value): each is refused by pydantic or by board (422)
    (("servers", 0, "cpu_ghz"), "20"), (("servers", 0, "cpu_ghz"), 0.0), (("servers", 0, "cpu_ghz"), True),
    (("servers", 0, "tasks_in_service"), 1.0), (("servers", 0, "tasks_in_service"), -1),
    (("servers", 0, "tasks_in_service"), 2 ** 70), (("servers", 1, "rate_mbps"), 1e7),
    (("servers", 1, "backlog_gcycles"), None), (("servers", 1, "uploading_mbit"), None), (("servers", 2, "colour"), 1),
    (("servers", 2, "backlog_history_gcycles"), [1.0]), (("servers", 2, "backlog_history_gcycles"), ["1"] * P.history),
    (("device", "cpu_ghz"), P.f_loc / 1e9 * 2), (("device", "local_wait_s"), None), (("device", "x"), 0),
    (("tasks", 0, "size_mbit"), 0.0), (("tasks", 0, "deadline_s"), 0), (("tasks", 0, "gcycles_per_mbit"), 1e-3),
    (("tasks",), []), (("servers",), []), (("device",), [1]),
]


@pytest.mark.parametrize("path,value", BAD)
def test_what_pydantic_or_board_refuses_is_left_to_them(path, value):
    s = snap(1, 2)
    s["servers"][1].pop("rate_mbps", None)
    s["servers"][1]["rate_mbps"] = 5.0
    node = s
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    assert from_json(json.dumps(s).encode(), True, P) is None  # json: orjson writes no int over 64 bits
    with pytest.raises(Exception):  # noqa: B017 - ValidationError or SnapshotError
        prepare([Snapshot.model_validate_json(json.dumps(s))], -1, P)
    assert from_json(json.dumps({"snapshots": [snap(0), s]}).encode(), False, P) is None


def test_other_bodies_are_left_to_pydantic():
    s = snap(2)
    for body in (b"not json", b"[1]", b'{"snapshots": [], "x": 1}', orjson.dumps({"snapshots": []}),
                 orjson.dumps({**s, "extra": 1}), b'{"servers": NaN}'):
        assert from_json(body, False, P) is None and from_json(body, True, P) is None
    no_rate = copy.deepcopy(s)
    for v in no_rate["servers"]:
        v.pop("rate_mbps", None), v.pop("distance_m")
    assert from_json(orjson.dumps(no_rate), True, P) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(1e-3, 1e4), st.integers(0, 10), st.floats(0, 1e9), st.floats(1e-6, 1e6),
                          st.floats(0, 1e7) | st.none(), st.floats(1e-6, 1e6) | st.integers(1, 1000)), min_size=1, max_size=5))
def test_any_valid_numbers_parse_as_pydantic_parses_them(rows):
    servers = [{"cpu_ghz": c, "tasks_in_service": n, "tasks_uploading": 0, "backlog_gcycles": w, "rate_mbps": r,
                **({} if d is None else {"distance_m": d})} for c, n, w, r, d, _ in rows]
    body = {"servers": servers, "device": {"local_wait_s": rows[0][2] / 1e4}, "tasks": [{"size_mbit": x[5]} for x in rows]}
    same(from_json(orjson.dumps(body), True, P), pydantic(body, True))


@pytest.mark.parametrize("spec", ["oracle", "setnet:checkpoints/setnet-comllm"])
def test_a_large_batch_over_http_gets_the_decisions_of_the_pydantic_path(spec, monkeypatch):
    import asyncio

    import httpx

    from mecoffload.serve.app import create_app
    from mecoffload.serve.service import Service

    monkeypatch.setattr(columns, "MIN_BYTES", 6_000)
    sc = load_scenario("comllm", None)
    body = {"snapshots": [snap(i, n_tasks=1 + i % 3, servers=6 if i % 5 else 4, extra=i % 4 == 0) for i in range(40)]}
    want = Service(sc, spec).decide(BatchIn.model_validate(body).snapshots)[1]
    calls = []
    service = Service(sc, spec)
    real = service.decide_parts
    service.decide_parts = lambda parts: calls.append(type(parts[0]).__name__) or real(parts)

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(service)), base_url="http://t") as c:
            return await c.post("/v1/decide/batch", json=body)
    r = asyncio.run(run())
    assert r.status_code == 200 and calls == ["Parsed"]
    assert [x["decisions"] for x in r.json()["results"]] == want
