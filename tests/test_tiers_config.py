"""The three-tier world's scenario names, errors and policy registry: deadline_s (old name
max_delay_s still read), one-line errors that are core ScenarioError / PolicyError, one
Registry for the tier policies with dl-tier declared by name (no torch, no learner import)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mecoffload.core.errors import PolicyError, ScenarioError
from mecoffload.core.registry import Registry
from mecoffload.ecs.parser import EcsFormatError
from mecoffload.tiers.config import load_tier_scenario
from mecoffload.tiers.policies import TIER_POLICIES, make_tier_policy, tier_policies


def test_deadline_s_and_its_old_name():
    sc = load_tier_scenario("iot3tier")
    assert [a.deadline_s for a in sc.apps] == [2.0, 2.0, 20.0, 6.0]
    assert load_tier_scenario("iot3tier", ["apps.0.max_delay_s=3"]).apps[0].deadline_s == 3.0
    assert load_tier_scenario("iot3tier", {"apps.1.deadline_s": 4.0}).apps[1].deadline_s == 4.0
    data = sc.model_dump()
    data["apps"][0]["max_delay_s"] = data["apps"][0].pop("deadline_s")
    assert type(sc).model_validate(data).apps[0].deadline_s == 2.0


@pytest.mark.parametrize("call", [
    lambda: load_tier_scenario("nope"),
    lambda: load_tier_scenario("iot3tier", ["apps.0.deadline_s=-1"]),
    lambda: load_tier_scenario("iot3tier", ["no.such.field=1"]),
])
def test_tier_scenario_errors_are_core_scenario_errors(call):
    with pytest.raises(ScenarioError) as exc:
        call()
    assert "\n" not in str(exc.value)
    assert issubclass(EcsFormatError, ScenarioError)


def test_tier_policies_registry():
    assert isinstance(TIER_POLICIES, Registry)
    names = tier_policies()
    assert {"random", "sonmez", "dl-tier", "ecs", "min-service"} <= set(names)
    sc = load_tier_scenario("iot3tier")
    with pytest.raises(PolicyError, match="unknown tier policy 'nope'"):
        make_tier_policy("nope", sc)
    with pytest.raises(PolicyError, match="unknown EdgeCloudSim orchestrator"):
        make_tier_policy("ecs:TWO_TIER/SLOW_FIT", sc)
    assert make_tier_policy("mec:least-loaded", sc).name == "mec:least-loaded"


def test_listing_tier_policies_imports_no_learner():
    code = ("import sys; from mecoffload.tiers.policies import tier_policies; tier_policies(); "
            "print('mecoffload.tiers.dlnet' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
