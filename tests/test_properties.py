"""Queue invariants as property tests over random small scenarios and random policies."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mecoffload.scenario import load_scenario
from mecoffload.sim.dynamics import LOCAL, SimState, decide, draw_slot, observe, reset, serve
from mecoffload.sim.params import Params


@st.composite
def scenarios(draw):
    lo = draw(st.floats(0.05, 5.0))
    ov = {
        "users.count": draw(st.integers(1, 4)),
        "edge.count": draw(st.integers(1, 5)),
        "edge.cpu_ghz": [draw(st.floats(1.0, 20.0)), draw(st.floats(20.0, 60.0))],
        "task.arrival": draw(st.sampled_from(["poisson", "bernoulli"])),
        "task.size_mbit": [lo, lo * draw(st.floats(1.0, 4.0))],
        "task.density_gcycles_per_mbit": draw(st.floats(0.05, 3.0)),
        "task.deadline_slots": draw(st.integers(1, 6)),
        "sim.slot_s": draw(st.sampled_from([0.01, 0.05, 0.1, 0.3, 1.0])),
        "channel.fading": draw(st.sampled_from(["rayleigh", "none"])),
        "channel.bandwidth_mhz": draw(st.floats(0.5, 20.0)),
        "cost.allow_local": draw(st.booleans()),
    }
    rate = draw(st.floats(0.05, 1.0)) if ov["task.arrival"] == "bernoulli" else draw(st.floats(0.05, 3.0))
    ov["task.rate"] = rate
    return Params.from_scenario(load_scenario("comllm", ov))


def _check_state(state: SimState, p: Params) -> None:
    B, U = state.lq_n.shape
    E = state.f_edge.shape[1]
    # accounting per env
    np.testing.assert_array_equal(state.arrived, state.completed + state.dropped.sum(1) + state.in_flight())
    # non-negativity
    for name in ("lq_cyc", "uq_bits", "uq_size", "eq_cyc", "n_active", "backlog_bits", "local_wait_cyc", "hist"):
        assert (getattr(state, name) >= 0).all(), name
    for name in ("lq_n", "uq_n", "eq_n", "completed", "dropped"):
        assert (getattr(state, name) >= 0).all(), name
    # tasks occupy [0, n) of each queue with positive remaining work, zeros beyond
    for cyc, n in ((state.lq_cyc, state.lq_n), (state.uq_bits, state.uq_n), (state.eq_cyc, state.eq_n)):
        occ = np.arange(cyc.shape[-1]) < n[..., None]
        assert (cyc[occ] > 0).all()
        assert (cyc[~occ] == 0).all()
    occ_u = np.arange(state.uq_bits.shape[-1]) < state.uq_n[..., None]
    assert (state.uq_bits[occ_u] <= state.uq_size[occ_u] * (1 + 1e-12)).all()
    assert ((state.uq_dest[occ_u] >= 0) & (state.uq_dest[occ_u] < E)).all()
    # decision-time estimates agree with the realized queues
    up_n = np.zeros((B, E))
    up_bits = np.zeros((B, E))
    for b in range(B):
        for u in range(U):
            for i in range(state.uq_n[b, u]):
                up_n[b, state.uq_dest[b, u, i]] += 1
                up_bits[b, state.uq_dest[b, u, i]] += state.uq_size[b, u, i]
    np.testing.assert_array_equal(state.n_active, state.eq_n + up_n)
    np.testing.assert_allclose(state.backlog_bits, state.eq_cyc.sum(-1) / p.gamma + up_bits, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(state.local_wait_cyc, state.lq_cyc.sum(-1), rtol=1e-9, atol=1e-3)


def _run(p: Params, batch: int, seed: int, horizon: int) -> None:
    state, exo = reset(p, batch, seed)
    rng = np.random.default_rng(seed + 1)
    lo = 0 if p.allow_local else 1
    dt, E = p.slot_s, p.n_servers
    cap = state.f_edge * dt
    n_slots = horizon + p.deadline_slots
    for s in range(n_slots):
        arr = draw_slot(state, p, exo, arrivals=s < horizon)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            a = rng.integers(lo, E + 1, len(obs))
            decide(state, obs, a, p)
            _check_state(state, p)
        before_completed = state.completed.copy()
        out = serve(state, p)
        _check_state(state, p)
        # per-slot outcome consistent with the totals
        np.testing.assert_array_equal(state.completed - before_completed, out.completed)
        np.testing.assert_array_equal(np.bincount(out.lat_env, minlength=batch), out.completed)
        assert out.latency_s.shape == out.lat_env.shape == out.lat_loc.shape
        # server capacity and energy
        assert (out.work_edge >= 0).all()
        assert (out.work_edge <= cap * (1 + 1e-9)).all()
        assert (out.energy_j >= 0).all()
        # realized latencies: positive, within the deadline, physically possible
        lat = out.latency_s
        assert (lat > 0).all()
        assert (lat <= p.deadline_slots * dt * (1 + 1e-9)).all()
        assert ((out.lat_loc >= 0) & (out.lat_loc <= E)).all()
        loc = out.lat_loc == 0
        if not p.allow_local:
            assert not loc.any()
        assert (lat[loc] >= p.size_lo_bit * p.gamma / p.f_loc * (1 - 1e-9)).all()
        # an offloaded task joins its server at a slot boundary after the upload, then computes
        assert (lat[~loc] >= dt + p.size_lo_bit * p.gamma / p.f_edge_hi * (1 - 1e-9)).all()
        assert (state.t == s + 1).all()
    # drained: every task ended exactly once
    assert (state.in_flight() == 0).all()
    np.testing.assert_array_equal(state.arrived, state.completed + state.dropped.sum(1))
    assert (state.n_active == 0).all() and (state.backlog_bits == 0).all()
    if not p.allow_local:
        assert (state.dropped[:, LOCAL] == 0).all()


@settings(max_examples=25, deadline=None)
@given(p=scenarios(), batch=st.integers(1, 3), seed=st.integers(0, 2**31 - 1), horizon=st.integers(1, 8))
def test_queue_invariants_random_policy(p, batch, seed, horizon):
    _run(p, batch, seed, horizon)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), tau=st.integers(1, 6))
def test_queue_invariants_overloaded(seed, tau):
    """Heavy load: many long tasks, slow servers -> drops everywhere, queues must grow."""
    ov = {
        "users.count": 4,
        "edge.count": 2,
        "edge.cpu_ghz": [1.0, 2.0],
        "task.rate": 3.0,
        "task.size_mbit": [2.0, 5.0],
        "task.deadline_slots": tau,
    }
    p = Params.from_scenario(load_scenario("comllm", ov))
    _run(p, 2, seed, 8)


@settings(max_examples=15, deadline=None)
@given(p=scenarios(), seed=st.integers(0, 2**31 - 1))
def test_serve_never_creates_work(p, seed):
    """Total remaining work in the system only decreases during ``serve`` (apart from uploads
    turning into cycles at the servers)."""
    state, exo = reset(p, 2, seed)
    rng = np.random.default_rng(seed)
    lo = 0 if p.allow_local else 1
    for s in range(6):
        arr = draw_slot(state, p, exo)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            decide(state, obs, rng.integers(lo, p.n_servers + 1, len(obs)), p)
        local0 = state.lq_cyc.sum((1, 2))
        # work counted in cycles: edge cycles + whole upload tasks as size·γ
        total0 = state.eq_cyc.sum((1, 2)) + (state.uq_size.sum((1, 2))) * p.gamma
        out = serve(state, p)
        local1 = state.lq_cyc.sum((1, 2))
        total1 = state.eq_cyc.sum((1, 2)) + (state.uq_size.sum((1, 2))) * p.gamma
        assert (local1 <= local0 * (1 + 1e-12) + 1e-6).all()
        assert (total1 <= total0 * (1 + 1e-12) + 1e-6).all()
        assert out.work_edge.sum() <= (total0.sum() + 1e-6) * (1 + 1e-12)
