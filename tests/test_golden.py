"""Golden outputs (tests/golden/*.json) stay bit-identical: evaluate, sweep, tier-eval, run-ecs, experiment comllm (tiny)."""

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "golden"
_spec = importlib.util.spec_from_file_location("golden_cases", HERE / "cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_golden(name):
    expected = (HERE / f"{name}.json").read_text().rstrip("\n")
    got = cases.canonical(cases.CASES[name]())
    assert got == expected, f"{name} differs from tests/golden/{name}.json"
