"""Fuzzy memberships, inference and defuzzification at hand-checked points."""

from __future__ import annotations

import numpy as np
import pytest

from mecoffload.tiers.fuzzy import (ALMUTAIRI, DELAY_SENS, FLORES, LOW_MED_HIGH_PCT, SONMEZ_CLOUD, SONMEZ_EDGE,
                                    TASK_LEN, WAN_BW, FuzzyInput, almutairi_table, membership)

UTIL = FuzzyInput("util", LOW_MED_HIGH_PCT)


@pytest.mark.parametrize("x, expect", [
    (0, [1, 0, 0]), (20, [1, 0, 0]), (30, [0.5, 0, 0]), (35, [0.25, 0.25, 0]), (40, [0, 0.5, 0]),
    (50, [0, 1, 0]), (65, [0, 0.25, 0.25]), (70, [0, 0, 0.5]), (100, [0, 0, 1]), (150, [0, 0, 1]),
])
def test_utilisation_terms(x, expect):
    np.testing.assert_allclose(UTIL.fuzzify(np.array([x]))[0], expect)


@pytest.mark.parametrize("inp, x, expect", [
    (WAN_BW, 3.0, [0.5, 0.0, 0.0]), (WAN_BW, 3.5, [0.25, 0.25, 0.0]), (WAN_BW, 7.0, [0.0, 0.0, 0.5]),
    (WAN_BW, 50.0, [0.0, 0.0, 1.0]), (TASK_LEN, 6000, [0.5, 0.0, 0.0]), (TASK_LEN, 9000, [0.0, 0.5, 0.0]),
    (TASK_LEN, 18000, [0.0, 0.0, 0.5]), (TASK_LEN, 45000, [0.0, 0.0, 1.0]), (DELAY_SENS, 0.9, [0.0, 0.0, 1.0]),
    (DELAY_SENS, 0.35, [0.25, 0.25, 0.0]),
])
def test_other_terms(inp, x, expect):
    np.testing.assert_allclose(inp.fuzzify(np.array([x]))[0], expect)


def test_membership_is_vectorised_and_flat_outside():
    x = np.array([-5.0, 0.0, 2.0, 3.0, 4.0, 9.0])
    np.testing.assert_allclose(membership(x, ((0, 1), (2, 1), (4, 0))), [1, 1, 1, 0.5, 0, 0])


def test_sonmez_stage2_rules_and_left_most_max():
    # rule 1: everything low -> edge only, left-most max of the edge triangle at full height = 30
    assert SONMEZ_CLOUD(np.array([10.0]), np.array([3000.0]), np.array([1.0]), np.array([0.1]))[0] == pytest.approx(30.0)
    # rule 79: utilisation/size/bandwidth high, sensitivity low -> cloud at 70
    assert SONMEZ_CLOUD(np.array([90.0]), np.array([30000.0]), np.array([15.0]), np.array([0.1]))[0] == pytest.approx(70.0)
    # util 30 (low 0.5), small task, high bandwidth, tolerant: rule 7 -> cloud at 0.5: 40 + 0.5*30 = 55 > 50
    assert SONMEZ_CLOUD(np.array([30.0]), np.array([3000.0]), np.array([10.0]), np.array([0.1]))[0] == pytest.approx(55.0)
    # util 34: low 0.3 and medium 0.2 both say cloud, max 0.3 -> 40 + 9 = 49 < 50: stays at the edge
    assert SONMEZ_CLOUD(np.array([34.0]), np.array([3000.0]), np.array([10.0]), np.array([0.1]))[0] == pytest.approx(49.0)


def test_sonmez_stage1():
    # nearest busy, remote idle, MAN slow (rule 19) -> remote edge
    assert SONMEZ_EDGE(np.array([90.0]), np.array([10.0]), np.array([0.05]))[0] == pytest.approx(70.0)
    # nearest idle -> nearest (rules 1, 2, 4-9)
    assert SONMEZ_EDGE(np.array([10.0]), np.array([10.0]), np.array([0.05]))[0] == pytest.approx(30.0)
    # both idle but the MAN is fast (rule 3) -> remote
    assert SONMEZ_EDGE(np.array([10.0]), np.array([10.0]), np.array([0.0005]))[0] == pytest.approx(70.0)


def test_flores_cog_and_missing_rules():
    # cpu high (100), small data, medium bandwidth (5), tolerant task: rule 58 -> remote only:
    # COG of the trapezoid (40,0)(60,1)(100,1) = (10*53.33 + 40*80) / 50 = 74.67
    v = FLORES(np.array([100.0]), np.array([0.0]), np.array([5.0]), np.array([0.0]))[0]
    assert v == pytest.approx(74.67, abs=0.1)
    # symmetric output terms: local only -> 100 - 74.67
    v = FLORES(np.array([100.0]), np.array([0.0]), np.array([1.0]), np.array([0.0]))[0]
    assert v == pytest.approx(25.33, abs=0.1)
    # low cpu, large data, low bandwidth: no rule fires -> DEFAULT 0 (local processing)
    assert FLORES(np.array([0.0]), np.array([1.0]), np.array([1.0]), np.array([0.9]))[0] == 0.0


def test_almutairi_rule_principle():
    t = almutairi_table()
    assert t.shape == (3, 3, 3, 3)
    assert t[0, 2, 0, 0] == 2  # idle edge, long tolerant task, little data -> cloud
    assert t[2, 0, 1, 2] == 1  # busy local edge, sensitive task -> remote edge
    assert t[0, 0, 2, 2] == 0  # idle edge, short sensitive data-heavy task -> local edge
    s = ALMUTAIRI.strengths(np.array([10.0]), np.array([3000.0]), np.array([1525.0]), np.array([0.9]))
    assert s.argmax(1)[0] == 0


def test_inference_is_vectorised_over_many_tasks():
    rng = np.random.default_rng(0)
    n = 5000
    x = [rng.uniform(0, 100, n), rng.uniform(0, 50000, n), rng.uniform(0, 20, n), rng.uniform(0, 1, n)]
    out = SONMEZ_CLOUD(*x)
    assert out.shape == (n,)
    one = np.array([SONMEZ_CLOUD(*[np.array([v[i]]) for v in x])[0] for i in range(20)])
    np.testing.assert_allclose(out[:20], one)
