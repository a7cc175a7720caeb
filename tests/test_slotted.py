"""Slotted queue service (sim/kernels_slotted.py), the fixed-rate uplink and ``mean_delay_slots``:
hand-computed tiny cases, and the queue invariants of tests/test_properties.py under both services
and every kind of arrival schedule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import _run, scenarios

from mecoffload.policies.base import make_policy
from mecoffload.scenario import load_scenario
from mecoffload.sim import arrivals
from mecoffload.sim.dynamics import LOCAL, Arrivals, observe, reset, serve
from mecoffload.sim.params import Params
from mecoffload.sim.rollout import run_closed_loop
from mecoffload.sim.scenario import OnOffRate, PiecewiseRate

# Δt = 0.1 s, f_loc = 1 GHz (1e8 cycles per slot), F = 2 GHz (2e8 cycles per slot), γ = 100
# cycles/bit, every uplink exactly 10 Mbit/s (1e6 bits per slot)
TINY = {"users.count": 2, "edge.count": 1, "users.cpu_ghz": 1.0, "edge.cpu_ghz": [2.0, 2.0],
        "task.density_gcycles_per_mbit": 0.1, "sim.slot_s": 0.1, "channel.fixed_rate_mbps": 10.0}


def _params(service: str, **ov) -> Params:
    return Params.from_scenario(load_scenario("comllm", {**TINY, "sim.service": service, **ov}))


def _fill(state, name: str, row: tuple, values: list) -> None:
    getattr(state, name)[row][: len(values)] = values


def _tiny_state(p: Params):
    """Device 0: two local tasks of 6e7 cycles. Device 1: two uploads of 6e5 bits to server 0.
    Server 0: device 0's two tasks of 5e7 cycles, then device 1's task of 1.5e8 cycles. All
    arrived in slot 0."""
    s, _ = reset(p, 1, 0)
    _fill(s, "lq_cyc", (0, 0), [6e7, 6e7])
    s.lq_n[0, 0] = 2
    for name in ("uq_bits", "uq_size"):
        _fill(s, name, (0, 1), [6e5, 6e5])
    _fill(s, "uq_ecyc", (0, 1), [6e5 * p.gamma] * 2)  # their work at the server, as decide_rows stores it
    s.uq_n[0, 1] = 2
    _fill(s, "eq_cyc", (0, 0), [5e7, 5e7, 1.5e8])
    _fill(s, "eq_user", (0, 0), [0, 0, 1])
    s.eq_n[0, 0] = 3
    s.arrived[0] = 7
    for q, d, ids in (("lq", (0, 0), [10, 11]), ("uq", (0, 1), [20, 21]), ("eq", (0, 0), [30, 31, 32])):
        _fill(s, f"{q}_id", d, ids)
        _fill(s, f"{q}_est", d, [i / 100 for i in ids])  # each task's estimate travels with it
    return s


def _records(out) -> tuple[list, list]:
    loc = out.lat_loc == 0
    return sorted(np.round(out.latency_s[loc], 12)), sorted(np.round(out.latency_s[~loc], 12))


def test_fixed_rate_is_exact():
    p = _params("continuous")
    s, _ = reset(p, 3, 1)
    assert not p.rayleigh
    assert (s.rate == 1e7).all() and (s.mean_rate == 1e7).all()
    arr = Arrivals(user=np.zeros((3, 1), np.int64), bits=np.full((3, 1), 1e6), valid=np.ones((3, 1), bool))
    assert (observe(s, arr, 0, p).rate == 1e7).all()


def test_slotted_by_hand():
    """Each queue serves its head only; the server splits F between the devices with a task there."""
    p = _params("slotted")
    s = _tiny_state(p)
    per_slot, ids = [], []
    for _ in range(4):
        out = serve(s, p)
        per_slot.append((_records(out), out.work_edge[0, 0], out.energy_j[0]))
        ids.append(sorted(out.task_id.tolist()))
        np.testing.assert_array_equal(out.est_s, out.task_id / 100)
    # slot 0: local head 0.06 s; server: k = 2 queues of 1 GHz, device 0's head 5e7 cycles -> 0.05 s
    # (its second task waits), device 1's head gets 1e8 of 1.5e8; device 1's first upload (0.06 s)
    # joins the server at the boundary behind it
    assert per_slot[0][0] == ([0.06], [0.05])
    assert per_slot[0][1] == pytest.approx(5e7 + 1e8)
    assert per_slot[0][2] == pytest.approx(1e-28 * 1e18 * 6e7 + 0.2 * 0.06)
    # slot 1: the second local task (started at the slot boundary) 0.1 + 0.06; server: k = 2 again,
    # device 0's second task and the rest of device 1's head, 5e7 cycles each at 1 GHz: 0.1 + 0.05
    assert per_slot[1][0] == ([0.16], [0.15, 0.15])
    # slots 2, 3: device 1's two uploaded tasks (6e7 cycles each) alone at 2 GHz, one per slot
    assert per_slot[2][0] == ([], [0.23]) and per_slot[2][1] == pytest.approx(6e7)
    assert per_slot[3][0] == ([], [0.33])
    assert ids == [[10, 30], [11, 31, 32], [20], [21]]
    assert s.completed[0] == 7 and s.in_flight()[0] == 0 and (s.eq_user == 0).all()


def test_continuous_differs_on_the_same_queues():
    p = _params("continuous")
    s = _tiny_state(p)
    out = serve(s, p)
    # spare capacity passes on: the second local task runs in slot 0 too; the server shares 2 GHz
    # among all three tasks (the two small ones finish together after 1.5e8 cycles: 0.075 s)
    assert _records(out) == ([0.06], [0.075, 0.075])
    assert s.lq_cyc[0, 0, 0] == pytest.approx(2e7)


def test_slotted_deadline_drops():
    p = _params("slotted", **{"task.deadline_slots": 2})
    s, _ = reset(p, 1, 0)
    _fill(s, "lq_cyc", (0, 0), [1.5e8, 6e7])
    s.lq_n[0, 0] = 2
    s.arrived[0] = 2
    assert _records(serve(s, p)) == ([], [])
    out = serve(s, p)  # slot 1: the head finishes (0.1 + 0.05); the second never started: dropped
    assert _records(out) == ([0.15], []) and s.dropped[0, LOCAL] == 1 and s.lq_n[0, 0] == 0


@pytest.mark.parametrize("service, latencies, mean_delay", [
    ("slotted", [0.15, 0.25, 0.35], 3.0),  # finish slots 1, 3, 5 for arrivals 0, 1, 2
    ("continuous", [0.15, 0.2, 0.25], 7 / 3),  # finish slots 1, 2, 4
])
def test_mean_delay_slots_by_hand(service, latencies, mean_delay):
    """One device, one task per slot (Bernoulli rate 1) of 1.5 slots of local work, 3 slots, τ = 4."""
    p = _params(service, **{"users.count": 1, "task.arrival": "bernoulli", "task.rate": 1.0,
                            "task.size_mbit": [1.5, 1.5], "task.deadline_slots": 4, "sim.horizon_slots": 3})
    run = run_closed_loop(p, make_policy("local", p), 1, 0)
    np.testing.assert_allclose(sorted(run.latencies), latencies, rtol=1e-12)
    assert run.metrics["mean_delay_slots"] == pytest.approx(mean_delay, rel=1e-12)


@pytest.mark.parametrize("service, policy, ov", [
    ("continuous", "random", {}),
    ("slotted", "random", {}),
    ("slotted", "oracle", {"cost.model": "queue", "cost.allow_reject": True, "task.rate": 0.8}),  # rejections
])
def test_mean_delay_slots_matches_the_records(service, policy, ov):
    """Σ ⌈latency/Δt⌉ over completed tasks + τ per drop or rejection (finishing exactly on a slot
    boundary has probability 0 here), on a loaded run."""
    p = Params.from_scenario(load_scenario("comllm-heavy", {"sim.service": service, "sim.horizon_slots": 30, **ov}))
    run = run_closed_loop(p, make_policy(policy, p), 3, 7)
    m = run.metrics
    drops = m["drops_local"] + m["drops_uplink"] + m["drops_edge"] + m["drops_rejected"]
    assert drops > 0 and (m["drops_rejected"] > 0) == bool(ov)
    expect = (np.ceil(run.latencies / p.slot_s).sum() + p.deadline_slots * drops) / m["tasks"]
    assert m["mean_delay_slots"] == pytest.approx(expect, rel=1e-12)


def test_slotted_is_slower_to_serve_on_comllm():
    """Same arrivals (common random numbers): slotted service loses capacity, so no task finishes
    sooner on average and at least as many are dropped."""
    runs = {}
    for service in ("continuous", "slotted"):
        p = Params.from_scenario(load_scenario("comllm", {"sim.service": service, "sim.horizon_slots": 50}))
        runs[service] = run_closed_loop(p, make_policy("nearest", p), 4, 0).metrics
    assert runs["slotted"]["tasks"] == runs["continuous"]["tasks"]
    assert runs["slotted"]["mean_delay_slots"] > runs["continuous"]["mean_delay_slots"]


SCHEDULES = [
    None,
    OnOffRate(on=1.0, off=0.0, mean_on_slots=2, mean_off_slots=3),
    OnOffRate(on=0.9, off=0.1, mean_on_slots=1, mean_off_slots=1, scope="user"),
    PiecewiseRate(rates=(0.0, 1.0, 0.4), slots=(1, 2, 1)),
]


@settings(max_examples=30, deadline=None)
@given(p=scenarios(), service=st.sampled_from(["continuous", "slotted"]), kind=st.integers(0, len(SCHEDULES) - 1),
       fixed=st.booleans(), batch=st.integers(1, 3), seed=st.integers(0, 2**31 - 1), horizon=st.integers(1, 8))
def test_every_task_ends_exactly_once(p, service, kind, fixed, batch, seed, horizon):
    """The invariants of tests/test_properties.py (accounting, queues, estimates, latencies, drained
    at the end) under both services, every schedule kind and the fixed-rate uplink."""
    sched = SCHEDULES[kind]
    p = dataclasses.replace(p, service=service, schedule=arrivals.schedule_of(sched) if sched else None,
                            rate=sched.mean_rate() if sched else p.rate,
                            fixed_rate_bps=5e6 if fixed else 0.0, rayleigh=p.rayleigh and not fixed)
    _run(p, batch, seed, horizon)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), tau=st.integers(1, 6))
def test_slotted_overloaded(seed, tau):
    """Heavy load under slotted service: drops everywhere, queues must grow."""
    p = Params.from_scenario(load_scenario("comllm", {"users.count": 4, "edge.count": 2, "edge.cpu_ghz": [1.0, 2.0],
                                                      "task.rate": 3.0, "task.deadline_slots": tau,
                                                      "sim.service": "slotted"}))
    _run(p, 2, seed, 8)
