"""``POST /v1/decide/columns`` (``serve.columnar``): the columnar form of ``/v1/decide/batch`` gives
its decisions bit for bit, alone and coalesced with row-format requests; what the schema cannot
check (shapes, rate or distance, the scenario's device and density, the history) is a 422 naming
the field."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from test_serve_batcher import concurrently  # POST requests at once on one app: (responses, coalesced calls)

from mecoffload.serve.columnar import to_columns
from mecoffload.serve.service import Service
from mecoffload.sim.params import Params
from mecoffload.sim.scenario import load_scenario

SC = load_scenario("comllm", None)
P = Params.from_scenario(SC)
SETNET = "setnet:checkpoints/setnet-comllm"
FIELDS = ("decision_id", "action", "location", "server", "estimated_latency_s", "meets_deadline", "probabilities")


def snap(i: int, n_tasks: int = 2, servers: int = 6) -> dict:
    """Snapshots that use every optional field somewhere (rate or distance only, history, mean rate,
    uploading bits, deadlines, uplink backlog)."""
    rng = np.random.default_rng(i)
    srv = [{"cpu_ghz": float(rng.uniform(20, 48)), "tasks_in_service": int(rng.integers(0, 4)),
            "tasks_uploading": int(rng.integers(0, 3)), "backlog_gcycles": float(rng.uniform(0, 3)),
            **({"rate_mbps": float(rng.uniform(3, 30))} if (i + e) % 3 else {}),
            **({"distance_m": float(rng.uniform(20, 400))} if (i + e) % 3 != 1 else {})} for e in range(servers)]
    if i % 2:
        srv[0]["backlog_history_gcycles"] = [float(x) for x in rng.uniform(0, 2, P.history)]
        srv[-1]["mean_rate_mbps"] = 7
        srv[-1]["uploading_mbit"] = 1.5
    tasks = [{"size_mbit": float(rng.uniform(2, 5)), **({"deadline_s": 0.8} if (i + t) % 2 else {})}
             for t in range(n_tasks)]
    return {"servers": srv, "device": {"local_wait_s": float(rng.uniform(0, 0.5)),
                                       **({"uplink_backlog_mbit": 3} if i % 4 == 1 else {})}, "tasks": tasks}


def by_snapshot(cols: dict, k: int) -> list[dict]:
    """The row-format decisions of snapshot ``k`` of a columnar answer."""
    return [{f: None if cols[f] is None else cols[f][k][j] for f in FIELDS} for j in range(len(cols["action"][k]))]


@pytest.mark.parametrize("spec", ["oracle", SETNET])
def test_columns_give_the_decisions_of_the_batch_endpoint_bit_for_bit(spec):
    snaps = [snap(i) for i in range(9)]
    body = to_columns(snaps)
    assert any(v is None for row in body["servers"]["rate_mbps"] for v in row)  # nulls are exercised
    (batch,), _ = concurrently(Service(SC, spec), [("/v1/decide/batch", {"snapshots": snaps})])
    (cols,), _ = concurrently(Service(SC, spec), [("/v1/decide/columns", body)])
    assert batch.status_code == 200 and cols.status_code == 200, cols.text
    got = cols.json()
    assert got["policy"] == spec and np.shape(got["estimated_latency_s"]) == (9, 2, 7)
    for k, res in enumerate(batch.json()["results"]):
        assert by_snapshot(got, k) == res["decisions"]
    assert (got["probabilities"] is None) == (spec == "oracle")


def test_columnar_and_row_requests_waiting_together_get_the_answers_of_each_alone():
    snaps = [snap(i, n_tasks=2 if i < 4 else 1 + i % 3) for i in range(8)]
    alone = [concurrently(Service(SC, "oracle"), [("/v1/decide/columns", to_columns(snaps[:4]))])[0][0].json(),
             concurrently(Service(SC, "oracle"), [("/v1/decide", snaps[5])])[0][0].json()]
    rs, calls = concurrently(Service(SC, "oracle"), [("/v1/decide/columns", to_columns(snaps[:4][::2])),
                                                 ("/v1/decide/columns", to_columns(snaps[:4])),
                                                 ("/v1/decide", snaps[5]), ("/v1/decide/batch", {"snapshots": snaps[4:]})])
    assert [r.status_code for r in rs] == [200] * 4 and calls < 4
    strip = lambda ds: [{f: v for f, v in d.items() if f != "decision_id"} for d in ds]  # noqa: E731
    got = rs[1].json()
    assert [strip(by_snapshot(got, k)) for k in range(4)] == [strip(by_snapshot(alone[0], k)) for k in range(4)]
    assert strip(rs[2].json()["decisions"]) == strip(alone[1]["decisions"])
    ids = [i for r in rs[:2] for row in r.json()["decision_id"] for i in row] + \
          [d["decision_id"] for d in rs[2].json()["decisions"]] + \
          [d["decision_id"] for x in rs[3].json()["results"] for d in x["decisions"]]
    assert sorted(ids) == list(range(len(ids)))  # unique, none lost


def _bad(change) -> dict:
    body = to_columns([snap(i) for i in range(3)])
    change(body)
    return body


@pytest.mark.parametrize("change, loc", [
    (lambda b: b["servers"]["cpu_ghz"][1].pop(), ["body", "servers", "cpu_ghz"]),  # ragged
    (lambda b: b["servers"]["backlog_gcycles"].pop(), ["body", "servers", "backlog_gcycles"]),  # K - 1 rows
    (lambda b: b["device"]["local_wait_s"].append(0.1), ["body", "servers", "cpu_ghz"]),  # K + 1 devices
    (lambda b: b["tasks"]["deadline_s"][0].append(0.5), ["body", "tasks", "deadline_s"]),  # T + 1 in one row
    (lambda b: (b["servers"]["rate_mbps"][2].__setitem__(4, None), b["servers"]["distance_m"][2].__setitem__(4, None)),
     ["body", "servers", "rate_mbps", 2, 4]),
    (lambda b: b["device"].__setitem__("cpu_ghz", [None, P.f_loc / 1e9 * 2, None]), ["body", "device", "cpu_ghz", 1]),
    (lambda b: b["tasks"].__setitem__("gcycles_per_mbit", [[P.gamma / 1e3, 9.0]] * 3), ["body", "tasks", "gcycles_per_mbit", 0, 1]),
    (lambda b: b["backlog_history_gcycles"][0][0].append(1.0), ["body", "backlog_history_gcycles"]),
    (lambda b: b["servers"]["cpu_ghz"][0].__setitem__(2, -1.0), ["body", "servers", "cpu_ghz", 0, 2]),  # pydantic
    (lambda b: b["servers"].__setitem__("tasks_in_service", [[1.5] * 6] * 3), ["body", "servers", "tasks_in_service", 0, 0]),
    (lambda b: b["device"].__setitem__("local_wait_s", []), ["body", "device", "local_wait_s"]),
])
def test_a_body_that_does_not_fit_is_a_422_naming_the_field_and_books_nothing(change, loc):
    service = Service(SC, "oracle")
    (r,), _ = concurrently(service, [("/v1/decide/columns", _bad(change))])
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc
    (ok,), _ = concurrently(service, [("/v1/decide/columns", to_columns([snap(0)]))])
    assert ok.json()["decision_id"] == [[0, 1]]  # the failed request booked no decision


def test_to_columns_refuses_snapshots_of_different_shapes():
    with pytest.raises(ValueError, match="same number of servers"):
        to_columns([snap(0, servers=6), snap(1, servers=4)])
    body = to_columns([copy.deepcopy(snap(1)), snap(2)])
    assert body["servers"]["uploading_mbit"][0][-1] == 1.5 and body["servers"]["uploading_mbit"][1][-1] == 0.0
