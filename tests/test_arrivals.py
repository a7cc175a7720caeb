"""Arrival-rate schedules (sim/arrivals.py): syntax and validation, per-slot rates, common random
numbers, a constant rate drawing exactly what it always drew, the bursty preset's mean."""

from __future__ import annotations

import numpy as np
import pytest

from mecoffload.core.errors import ScenarioError
from mecoffload.scenario import load_scenario, validate_scenario
from mecoffload.sim import arrivals
from mecoffload.sim.dynamics import decide, draw_slot, observe, reset
from mecoffload.sim.params import Params

ONOFF = {"kind": "onoff", "on": 0.75, "off": 0.15, "mean_on_slots": 10, "mean_off_slots": 30}


def _params(name: str = "comllm", **ov) -> Params:
    return Params.from_scenario(load_scenario(name, ov or None))


def _mean_counts(p: Params, batch: int, slots: int, seed: int = 3) -> np.ndarray:
    """(slots,) mean tasks per user in each slot over ``batch`` envs (the slot index advanced by hand)."""
    state, exo = reset(p, batch, seed)
    out = []
    for _ in range(slots):
        arr = draw_slot(state, p, exo)
        out.append(arr.valid.sum() / (batch * p.n_users))
        state.t += 1
    return np.array(out)


def test_constant_rate_draws_exactly_as_before():
    """No schedule: the same calls on the exogenous stream as before schedules existed."""
    for arrival, rate in (("poisson", 0.7), ("bernoulli", 0.4)):
        p = _params(**{"task.arrival": arrival, "task.rate": rate})
        assert p.schedule is None and p.rate == rate
        state, exo = reset(p, 5, 11)
        ref = np.random.Generator(np.random.PCG64(11))
        ref.uniform(size=(5, p.n_users, 2)), ref.uniform(size=(5, p.n_servers, 2)), ref.uniform(size=(5, p.n_servers))
        assert state.arr_on.shape == (5, 1) and not state.arr_on.any()
        for _ in range(3):
            arr = draw_slot(state, p, exo)
            counts = ref.poisson(rate, (5, p.n_users)) if arrival == "poisson" else (ref.random((5, p.n_users)) < rate)
            np.testing.assert_array_equal(arr.valid.sum(1), counts.sum(1))
            ref.random(dtype=np.float32, out=np.empty((5, p.n_users, p.n_servers), np.float32))
            ref.uniform(size=arr.valid.shape)


def test_piecewise_rates_follow_the_table_and_repeat():
    p = _params(**{"task.rate": {"kind": "piecewise", "rates": [0.1, 1.5, 0.0], "slots": [2, 3, 1]}})
    assert p.schedule.table.tolist() == [0.1, 0.1, 1.5, 1.5, 1.5, 0.0]
    assert p.rate == pytest.approx((0.2 + 4.5) / 6)
    t = np.arange(12)
    np.testing.assert_array_equal(arrivals.slot_rates(p.schedule, p.rate, t, np.zeros((12, 1), np.int8), 2)[:, 0],
                                  np.tile(p.schedule.table, 2))
    got = _mean_counts(p, 4000, 12)
    np.testing.assert_allclose(got, np.tile(p.schedule.table, 2), atol=0.06)
    assert (got[[5, 11]] == 0).all()  # rate 0: no task at all


def test_diurnal_table():
    p = _params(**{"task.rate": {"kind": "diurnal", "mean": 0.5, "amplitude": 0.5, "period_slots": 4, "phase_slots": 1}})
    np.testing.assert_allclose(p.schedule.table, [1.0, 0.5, 0.0, 0.5], atol=1e-12)
    assert p.rate == 0.5
    got = _mean_counts(p, 4000, 8)
    np.testing.assert_allclose(got, np.tile(p.schedule.table, 2), atol=0.06)


def test_csv_rates(tmp_path):
    f = tmp_path / "rates.csv"
    f.write_text("slot,rate\n# a comment\n0,0.2\n1, 0.8  # busy\n\n2,0\n")
    p = _params(**{"task.rate": {"kind": "csv", "path": str(f)}})
    assert p.schedule.table.tolist() == [0.2, 0.8, 0.0]
    assert p.rate == pytest.approx(1.0 / 3)
    got = _mean_counts(p, 4000, 6)
    np.testing.assert_allclose(got, [0.2, 0.8, 0, 0.2, 0.8, 0], atol=0.06)


@pytest.mark.parametrize("text, needle", [
    ("0.2\nfast\n", "row 2: not a number"),
    ("0.2\n-1\n", "row 2: need 0 <= rate <= 20"),
    ("0.2\nnan\n", "row 2: need 0 <= rate <= 20"),
    ("rate\n0\n0\n", "at least one row with a rate > 0"),
    ("", "at least one row"),
])
def test_csv_errors_are_one_line(tmp_path, text, needle):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(ScenarioError) as exc:
        load_scenario("comllm", {"task.rate": {"kind": "csv", "path": str(f)}})
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg and "task.rate" in msg


@pytest.mark.parametrize("rate, needle", [
    (0, "0 < task.rate <= 20"),
    (25, "0 < task.rate <= 20"),
    ("fast", "0 < task.rate <= 20"),
    ({"on": 1}, "task.rate.kind"),
    ({"kind": "poisson"}, "task.rate.kind"),
    ({**ONOFF, "off": 0.9}, "off <= task.rate.on"),
    ({**ONOFF, "mean_on_slots": 0.5}, "1 <= mean_on_slots <= 1e+06"),
    ({**ONOFF, "scope": "cell"}, "scope"),
    ({**ONOFF, "burst": 2}, "burst"),
    ({"kind": "piecewise", "rates": [0.1, 0.2], "slots": [3]}, "same length"),
    ({"kind": "piecewise", "rates": [0.1, 21], "slots": [3, 3]}, "0 <= task.rate.rates <= 20"),
    ({"kind": "piecewise", "rates": [0, 0], "slots": [3, 3]}, "not all 0"),
    ({"kind": "piecewise", "rates": [0.1], "slots": [0]}, "task.rate.slots >= 1"),
    ({"kind": "diurnal", "mean": 0.3, "amplitude": 0.4, "period_slots": 10}, "amplitude <= task.rate.mean"),
    ({"kind": "diurnal", "mean": 0.3, "amplitude": 0.1, "period_slots": 1}, "period_slots"),
    ({"kind": "csv", "path": "/no/such/rates.csv"}, "no such file"),
])
def test_bad_schedules_are_one_line(rate, needle):
    with pytest.raises(ScenarioError) as exc:
        load_scenario("comllm", {"task.rate": rate})
    msg = str(exc.value)
    assert "task.rate" in msg and needle in msg and "\n" not in msg, msg


def test_bernoulli_needs_every_rate_a_probability():
    with pytest.raises(ScenarioError, match="probability"):
        load_scenario("comllm", {"task.arrival": "bernoulli",
                                 "task.rate": {"kind": "piecewise", "rates": [0.5, 1.2], "slots": [1, 1]}})
    p = _params(**{"task.arrival": "bernoulli", "task.rate": {**ONOFF, "on": 1.0}})
    assert _mean_counts(p, 200, 5).max() <= 1.0


def test_onoff_stationary_mean_and_scopes():
    for scope, width in (("env", 1), ("user", 4)):
        p = _params(**{"task.rate": {**ONOFF, "scope": scope}})
        assert p.rate == pytest.approx(0.3) and p.schedule.on_fraction == 0.25
        state, _ = reset(p, 2000, 5)
        assert state.arr_on.shape == (2000, width)
        assert state.arr_on.mean() == pytest.approx(0.25, abs=0.03)  # starts stationary
        got = _mean_counts(p, 2000, 200)
        assert got.mean() == pytest.approx(0.3, abs=0.01)
        assert got[:20].mean() == pytest.approx(0.3, abs=0.03)  # from the first slot on


def test_onoff_sojourns_have_the_given_means():
    p = _params(**{"task.rate": {**ONOFF, "scope": "user"}})
    state, exo = reset(p, 500, 2)
    trace = []
    for _ in range(400):
        draw_slot(state, p, exo)
        trace.append(state.arr_on.copy())
    x = np.stack(trace, 2).reshape(-1, 400)  # one row per (env, user), one column per slot
    leave_on = ((x[:, :-1] == 1) & (x[:, 1:] == 0)).sum() / (x[:, :-1] == 1).sum()
    leave_off = ((x[:, :-1] == 0) & (x[:, 1:] == 1)).sum() / (x[:, :-1] == 0).sum()
    assert 1 / leave_on == pytest.approx(10, rel=0.05) and 1 / leave_off == pytest.approx(30, rel=0.05)


def test_bursty_preset_mean_and_bursts():
    p = _params("comllm-bursty")
    assert p.rate == pytest.approx(0.3) and p.schedule.on >= 0.6
    got = _mean_counts(p, 400, 500)
    assert got.mean() == pytest.approx(0.3, abs=0.01)
    heavy = _params("comllm-heavy")
    assert heavy.n_users == 20 and heavy.schedule is None and heavy.rate == 0.3


def test_policies_see_the_same_arrivals():
    """The arrivals do not depend on the decisions (common random numbers), for every kind."""
    for rate in (ONOFF, {**ONOFF, "scope": "user"}, {"kind": "piecewise", "rates": [0.2, 1.0], "slots": [3, 2]}):
        p = _params(**{"task.rate": rate})
        seen = []
        for policy in (0, 1):
            state, exo = reset(p, 6, 9)
            rng = np.random.default_rng(policy)
            got = []
            for _ in range(12):
                arr = draw_slot(state, p, exo)
                got.append((arr.user.copy(), arr.bits.copy()))
                for k in range(arr.width):
                    obs = observe(state, arr, k, p)
                    decide(state, obs, np.zeros(len(obs), np.int64) if policy == 0 else rng.integers(1, 7, len(obs)), p)
                state.t += 1
            seen.append(got)
        for (u0, b0), (u1, b1) in zip(*seen):
            np.testing.assert_array_equal(u0, u1)
            np.testing.assert_array_equal(b0, b1)


def test_same_seed_same_numbers():
    p = _params("comllm-bursty")
    a, b = _mean_counts(p, 50, 30, seed=4), _mean_counts(p, 50, 30, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _mean_counts(p, 50, 30, seed=5))


def test_overrides_reach_into_a_schedule_and_replace_it():
    sc = load_scenario("comllm-bursty", ["task.rate.on=0.9"])
    assert sc.task.rate.on == 0.9 and sc.task.mean_rate == pytest.approx(0.25 * 0.9 + 0.75 * 0.15)
    assert load_scenario("comllm-bursty", {"task.rate": 0.5}).task.rate == 0.5
    assert validate_scenario(sc.model_dump()) == sc  # a schedule survives the dump (runner cells, checkpoints)
