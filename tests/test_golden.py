"""Golden outputs (tests/golden/*.json) stay identical: evaluate, sweep, tier-eval, run-ecs, experiment comllm (tiny).

Every value recorded in a golden file must come back identical: strings, integers and booleans
exactly, floats to 1e-12 relative (``FLOAT_TOL``). The float tolerance covers only the last bits of
a sum whose order NumPy's SIMD dispatch picks per CPU: on an AVX-512 AMD EPYC the files recorded on
the previous machine differed in 58 values, every one by at most 2e-15 relative (e.g. PR 99.91092677798117
-> 99.91092677798119); on one machine the numbers stay bit-identical for any thread count. An output may
hold *more* than was recorded (a new metric key, a new policy in ``-p all``): the reproduced
numbers are what the files guard, and a new column must not force re-recording them. A value
that changes or disappears fails the test.
"""

import importlib.util
import json
import math
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "golden"
_spec = importlib.util.spec_from_file_location("golden_cases", HERE / "cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)


FLOAT_TOL = 1e-12  # relative (and absolute near 0): the last bits of a SIMD-order sum, nothing a model changes


def differences(expected, got, path: str = "") -> list[str]:
    """Paths where ``got`` lacks or changes a value of ``expected`` (dicts may gain keys; lists must match)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for k, v in expected.items():
            if k not in got:
                out.append(f"{path}/{k}: missing")
            else:
                out += differences(v, got[k], f"{path}/{k}")
        return out
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        return [d for i, (a, b) in enumerate(zip(expected, got)) for d in differences(a, b, f"{path}[{i}]")]
    if isinstance(expected, float) and isinstance(got, float):
        same = math.isclose(expected, got, rel_tol=FLOAT_TOL, abs_tol=FLOAT_TOL) or (math.isnan(expected) and math.isnan(got))
    else:
        same = json.dumps(expected, sort_keys=True) == json.dumps(got, sort_keys=True)
    return [] if same else [f"{path}: {json.dumps(expected)[:60]} -> {json.dumps(got)[:60]}"]


def test_differences_can_fail():
    assert differences({"a": 1.0, "b": {"c": [1, 2]}}, {"a": 1.0, "b": {"c": [1, 2], "d": 3}, "e": 0}) == []
    assert differences({"a": 1.0}, {"a": 1.0000000000000002}) == []  # last-bit summation order
    assert differences({"a": 1.0}, {"a": 1.000000001}) == ["/a: 1.0 -> 1.000000001"]
    assert differences({"a": float("nan")}, {"a": float("nan")}) == [] and differences({"a": float("nan")}, {"a": 1.0}) != []
    assert differences({"a": 3}, {"a": 4}) != [] and differences({"a": "x"}, {"a": "y"}) != []
    assert differences({"a": {"b": 1}}, {"a": {}}) == ["/a/b: missing"]
    assert differences({"a": [1, 2]}, {"a": [1]}) != []


def recorded(name: str) -> list[Path]:
    """``name.json`` first, then ``name@CPU.json``: the same case recorded on another CPU kind, where a
    float32 torch policy (dl-tier's network) breaks a near-tie the other way (tier_eval at 40 devices on
    an AVX-512 AMD EPYC). The output must equal one of them; any other change still fails."""
    return [HERE / f"{name}.json", *sorted(HERE.glob(f"{name}@*.json"))]


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_golden(name):
    got = json.loads(cases.canonical(cases.CASES[name]()))
    diffs = [differences(json.loads(f.read_text()), got) for f in recorded(name)]
    diff = diffs[0] if all(diffs) else []
    assert not diff, f"{name} differs from tests/golden/{name}.json at {len(diff)} places: " + "; ".join(diff[:8])
