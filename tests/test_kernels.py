"""Compiled kernels: NumPy-order row sums, cost kernel paths, and results that do not depend
on the number of threads."""

from __future__ import annotations

import numpy as np
import pytest

from mecoffload.scenario import load_scenario
from mecoffload.sim import dynamics, kernels
from mecoffload.sim.cost import estimated_costs, estimated_j, generalized_cost, mask_local
from mecoffload.sim.dynamics import decide, draw_slot, observe, reset, serve
from mecoffload.sim.params import Params


@pytest.mark.parametrize("width", [1, 3, 7, 8, 9, 16, 17, 31, 128, 129, 136, 300, 1000])
def test_row_sum_is_numpy_sum(width):
    rng = np.random.default_rng(width)
    for n in sorted({0, 1, 2, 4, 5, 8, 9, 17, width // 2, width}):
        if n > width:
            continue
        a = np.zeros((2, 3, width))
        a[1, 2, :n] = rng.random(n) * 10.0 ** rng.uniform(-3, 9, n)
        assert kernels._row_sum(a, 1, 2, n) == a.sum(-1)[1, 2]


@pytest.mark.parametrize("allow_local", [True, False])
def test_cost_kernel_paths_agree(allow_local):
    p = Params.from_scenario(load_scenario("comllm", {"cost.allow_local": allow_local}))
    rng = np.random.default_rng(0)
    n, E = 50, p.n_servers
    bits = rng.uniform(2e6, 5e6, n)
    rate = rng.uniform(1e5, 3e7, (n, E))
    wait = rng.uniform(0.0, 1.5, n)
    f_edge = rng.uniform(20e9, 48e9, (n, E))
    n_act = rng.integers(0, 6, (n, E)).astype(float)
    backlog = rng.uniform(0.0, 3e7, (n, E))
    args = (bits, rate, wait, f_edge, n_act, backlog, p)
    c = estimated_costs(*args)
    j = estimated_j(*args)
    np.testing.assert_array_equal(j, mask_local(generalized_cost(c, p), p))
    assert (j[:, 1:] > p.deadline_s + 1e-12).any() and (j[:, 1:] < p.deadline_s).any()  # both sides of eq 11
    # broadcasting path (a leading axis, f_edge shared by all rows) gives the same numbers
    c2 = estimated_costs(bits[None], rate[None], wait[None], f_edge[:1], n_act[None], backlog[None], p)
    np.testing.assert_array_equal(c2[0, :1], c[:1])
    np.testing.assert_array_equal(estimated_j(*(x[None] for x in args[:-1]), p)[0], j)


def _trajectory(p: Params, threads: int, monkeypatch) -> list[np.ndarray]:
    monkeypatch.setattr(dynamics, "THREADS", threads)
    monkeypatch.setattr(dynamics, "_ENVS_PER_RANGE", 3)  # several ranges even for a small batch
    monkeypatch.setattr(dynamics, "_ROWS_PER_RANGE", 2)
    state, exo = reset(p, 40, 7)
    rng = np.random.default_rng(1)
    out = []
    for s in range(25):
        arr = draw_slot(state, p, exo, arrivals=s < 20)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            out += [obs.rate.copy(), obs.backlog_bits.copy(), obs.hist.copy()]
            decide(state, obs, rng.integers(0, p.n_servers + 1, len(obs)), p)
        o = serve(state, p)
        out += [o.lat_env, o.lat_loc, o.latency_s, o.completed, o.dropped, o.work_edge, o.energy_j]
    out += [state.completed, state.dropped, state.eq_cyc, state.uq_bits, state.lq_cyc]
    return out


def test_results_do_not_depend_on_threads(monkeypatch):
    p = Params.from_scenario(load_scenario("comllm", {"task.rate": 1.5, "edge.cpu_ghz": [2.0, 6.0]}))
    one = _trajectory(p, 1, monkeypatch)
    three = _trajectory(p, 3, monkeypatch)
    assert len(one) == len(three)
    for a, b in zip(one, three):
        np.testing.assert_array_equal(a, b)
