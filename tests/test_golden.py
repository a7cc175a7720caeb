"""Golden outputs (tests/golden/*.json) stay bit-identical: evaluate, sweep, tier-eval, run-ecs, experiment comllm (tiny).

Every value recorded in a golden file must come back identical (same JSON text). An output may
hold *more* than was recorded (a new metric key, a new policy in ``-p all``): the reproduced
numbers are what the files guard, and a new column must not force re-recording them. A value
that changes or disappears fails the test.
"""

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "golden"
_spec = importlib.util.spec_from_file_location("golden_cases", HERE / "cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)


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
    same = json.dumps(expected, sort_keys=True) == json.dumps(got, sort_keys=True)
    return [] if same else [f"{path}: {json.dumps(expected)[:60]} -> {json.dumps(got)[:60]}"]


def test_differences_can_fail():
    assert differences({"a": 1.0, "b": {"c": [1, 2]}}, {"a": 1.0, "b": {"c": [1, 2], "d": 3}, "e": 0}) == []
    assert differences({"a": 1.0}, {"a": 1.0000000000000002}) == ["/a: 1.0 -> 1.0000000000000002"]
    assert differences({"a": {"b": 1}}, {"a": {}}) == ["/a/b: missing"]
    assert differences({"a": [1, 2]}, {"a": [1]}) != []


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_golden(name):
    expected = json.loads((HERE / f"{name}.json").read_text())
    got = json.loads(cases.canonical(cases.CASES[name]()))
    diff = differences(expected, got)
    assert not diff, f"{name} differs from tests/golden/{name}.json at {len(diff)} places: " + "; ".join(diff[:8])
