"""Seed 001 cost model (eqs 1-11) against hand-computed values."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mecoffload.scenario import load_scenario
from mecoffload.sim.cost import estimated_costs, generalized_cost, mask_local, uplink_rate
from mecoffload.sim.dynamics import rates_of, reset
from mecoffload.sim.params import Params


def _params(**overrides) -> Params:
    return Params.from_scenario(load_scenario("comllm", overrides or None))


# γ = 0.297 Gcycles/Mbit = 297 cycles/bit, f_loc = 2 GHz (comllm defaults)
P = _params()


def test_comllm_params_are_in_si_units():
    assert P.gamma == pytest.approx(297.0)
    assert P.f_loc == pytest.approx(2e9)
    assert P.slot_s == 0.1
    assert P.deadline_slots == 10 and P.deadline_s == pytest.approx(1.0)
    assert P.rho_s == pytest.approx(1.0)  # 10 slots of 0.1 s
    assert P.f_edge_lo == pytest.approx(20e9) and P.f_edge_hi == pytest.approx(48e9)
    assert P.size_lo_bit == pytest.approx(2e6) and P.size_hi_bit == pytest.approx(5e6)
    assert P.bandwidth_hz == pytest.approx(1e6)
    assert P.snr_ref == pytest.approx(10 ** 5.202)
    assert P.allow_local is True


def test_estimated_costs_hand_values_single_task():
    # D = 3 Mbit, local wait 0.05 s, rate 14 Mbps, F = 30 GHz, N = 2, L = 4 Mbit
    c = estimated_costs(
        np.array(3e6),
        np.array([14e6]),
        np.array(0.05),
        np.array([30e9]),
        np.array([2.0]),
        np.array([4e6]),
        P,
    )
    assert c.shape == (2,)
    local = 0.05 + 3e6 * 297 / 2e9  # eq 3 = 0.4955
    upload = 3e6 / 14e6  # eq 2
    f_eff = 30e9 / (2 + 1)  # eq 4
    wait = 4e6 * 297 / f_eff  # eq 6 = 0.1188
    exec_ = 3e6 * 297 / f_eff  # eq 5 = 0.0891
    edge = upload + wait + exec_  # eq 7
    assert local == pytest.approx(0.4955, rel=1e-15)
    assert edge == pytest.approx(0.2142857142857143 + 0.1188 + 0.0891, rel=1e-12)
    assert c[0] == pytest.approx(local, rel=1e-12)
    assert c[1] == pytest.approx(edge, rel=1e-12)


def test_estimated_costs_batched_several_servers():
    bits = np.array([3e6, 1e6])
    rate = np.array([[14e6, 7e6, 1e6], [2e6, 4e6, 8e6]])
    wait = np.array([0.05, 0.0])
    f_edge = np.array([[30e9, 20e9, 48e9], [25e9, 25e9, 40e9]])
    n_act = np.array([[2.0, 0.0, 5.0], [0.0, 1.0, 3.0]])
    backlog = np.array([[4e6, 0.0, 1e6], [0.0, 2e6, 10e6]])
    c = estimated_costs(bits, rate, wait, f_edge, n_act, backlog, P)
    assert c.shape == (2, 4)
    expect = np.array(
        [
            [
                0.05 + 3e6 * 297 / 2e9,
                3e6 / 14e6 + (4e6 + 3e6) * 297 * 3 / 30e9,
                3e6 / 7e6 + (0.0 + 3e6) * 297 * 1 / 20e9,
                3e6 / 1e6 + (1e6 + 3e6) * 297 * 6 / 48e9,
            ],
            [
                0.0 + 1e6 * 297 / 2e9,
                1e6 / 2e6 + (0.0 + 1e6) * 297 * 1 / 25e9,
                1e6 / 4e6 + (2e6 + 1e6) * 297 * 2 / 25e9,
                1e6 / 8e6 + (10e6 + 1e6) * 297 * 4 / 40e9,
            ],
        ]
    )
    np.testing.assert_allclose(c, expect, rtol=1e-12)


def test_estimated_costs_monotone_in_load_and_size():
    base = dict(rate=np.array([10e6]), local_wait_s=np.array(0.0), f_edge=np.array([30e9]))
    c0 = estimated_costs(np.array(2e6), n_active=np.array([0.0]), backlog_bits=np.array([0.0]), p=P, **base)
    c1 = estimated_costs(np.array(2e6), n_active=np.array([1.0]), backlog_bits=np.array([0.0]), p=P, **base)
    c2 = estimated_costs(np.array(2e6), n_active=np.array([1.0]), backlog_bits=np.array([1e6]), p=P, **base)
    c3 = estimated_costs(np.array(3e6), n_active=np.array([1.0]), backlog_bits=np.array([1e6]), p=P, **base)
    assert c0[1] < c1[1] < c2[1] < c3[1]
    assert c0[0] == c1[0] == c2[0] < c3[0]


def test_generalized_cost_adds_rho_only_above_deadline():
    # τ = 1.0 s, ρ = 1.0 s in comllm
    c = np.array([0.0, 0.5, 1.0, 1.001, 2.5])
    j = generalized_cost(c, P)
    np.testing.assert_allclose(j, [0.0, 0.5, 1.0, 1.001 + 1.0, 2.5 + 1.0], rtol=1e-15)
    p2 = _params(**{"cost.deadline_penalty_slots": 3.0, "task.deadline_slots": 2})  # τ = 0.2 s, ρ = 0.3 s
    j2 = generalized_cost(np.array([0.19, 0.2, 0.21]), p2)
    np.testing.assert_allclose(j2, [0.19, 0.2, 0.21 + 0.3], rtol=1e-12)


def test_generalized_cost_zero_penalty():
    p = _params(**{"cost.deadline_penalty_slots": 0.0})
    c = np.array([0.3, 5.0])
    np.testing.assert_array_equal(generalized_cost(c, p), c)


def test_mask_local():
    j = np.array([[0.1, 0.2], [0.3, 0.05]])
    np.testing.assert_array_equal(mask_local(j, P), j)
    p = dataclasses.replace(P, allow_local=False)
    m = mask_local(j, p)
    assert np.isinf(m[:, 0]).all() and m[0, 0] > 0
    np.testing.assert_array_equal(m[:, 1], j[:, 1])
    assert j[0, 0] == 0.1  # input untouched


def test_uplink_rate_eq1():
    # R = B log2(1 + SNR |h|^2)
    r = uplink_rate(np.array([3.0, 1.0, 15.0, 10 ** 5.202]), np.array([1.0, 1.0, 1.0, 0.5]), 1e6)
    np.testing.assert_allclose(
        r, [1e6 * 2.0, 1e6 * 1.0, 1e6 * 4.0, 1e6 * np.log2(1 + 0.5 * 10 ** 5.202)], rtol=1e-12
    )
    # 20 MHz, SNR 7 -> 60 Mbit/s
    assert uplink_rate(np.array(7.0), np.array(1.0), 20e6) == pytest.approx(60e6, rel=1e-12)


def test_uplink_rate_floor_is_one_bit_per_second():
    r = uplink_rate(np.array([0.0, 1e-30]), np.array([1.0, 1.0]), 1e6)
    np.testing.assert_array_equal(r, [1.0, 1.0])


def test_rates_of_rayleigh_gain_transform():
    state, _ = reset(P, 1, 0)
    u = np.array([[[0.0, 1 - np.exp(-1.0), 1 - np.exp(-2.0)]]])
    snr = np.array([[[3.0, 3.0, 3.0]]])
    r = rates_of(state, u, snr)
    # |h|^2 = -ln(1-u): 0, 1, 2 (up to the float32 grid of the uniform draw, ~3e-8)
    np.testing.assert_allclose(r[0, 0], [1.0, 1e6 * np.log2(1 + 3.0), 1e6 * np.log2(1 + 6.0)], rtol=1e-6)


def test_state_rate_matches_eq1_with_mean_snr():
    p = _params(**{"channel.fading": "none", "edge.count": 3, "users.count": 2})
    state, _ = reset(p, 2, 5)
    gain = -np.log1p(-state.fade_u.astype(np.float64))
    np.testing.assert_allclose(gain, 1.0, rtol=1e-6)  # no fading: |h|^2 = 1 (float32 draw)
    np.testing.assert_allclose(state.rate, p.bandwidth_hz * np.log2(1 + state.snr_mean * gain), rtol=1e-6)
    # mean SNR path loss: snr_ref (max(d,1)/d0)^-α
    np.testing.assert_allclose(
        state.snr_mean, p.snr_ref * (np.maximum(state.dist, 1.0) / p.ref_distance_m) ** (-p.path_loss_exp), rtol=1e-12
    )
