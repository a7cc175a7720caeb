"""Property tests of bad input (issue 13): random ``--set`` values on random scenario fields and
random TOML documents, for every scenario family (MEC, three-tier, EdgeCloudSim TOML), either load
or fail with one :class:`ScenarioError` line; never another exception. A valid MEC scenario gives
finite SI constants. A few random overrides run through ``mecoffload.cli.main``: exit 0 with one
JSON document, or exit 2 with one ``error:`` line; never 1.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import astuple
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mecoffload.core.errors import ScenarioError
from mecoffload.core.scenario import load_preset, parse_assignment
from mecoffload.ecs.model import dump_toml, load_ecs_scenario
from mecoffload.ecs.parser import import_folder
from mecoffload.sim.params import Params
from mecoffload.sim.scenario import PRESETS, load_scenario
from mecoffload.tiers.config import PRESETS as TIER_PRESETS
from mecoffload.tiers.config import load_tier_scenario

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------- strategies

finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(), st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 5e-324]),
    st.text(max_size=12), st.just(""), st.sampled_from(["3", "true", "random", "poisson", "x" * 300]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)


def leaf_paths(data, prefix: str = "") -> list[str]:
    """Every dotted path of a nested dict/list, leaves and containers."""
    out = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for k, v in items:
        path = f"{prefix}{k}"
        out.append(path)
        out += leaf_paths(v, path + ".")
    return out


MEC_RAW = load_preset("comllm", *PRESETS)
TIER_RAW = load_preset("iot3tier", *TIER_PRESETS)
MEC_PATHS = leaf_paths(MEC_RAW) + ["edge.count.x", "nope", "sim.nope", "task.size_mbit.5", ""]
TIER_PATHS = leaf_paths(TIER_RAW) + ["apps.99.usage_pct", "devices.nope", "apps.x"]


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg and len(msg) < 600, msg
    return msg


def toml_value(v) -> str:
    """An inline TOML value (None is not representable: the caller drops it)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(type(v))


def toml_doc(data: dict) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in data.items() if v is not None)


def replace(data, path: str, value):
    """A deep copy of ``data`` with the item at ``path`` replaced (or added, in a dict)."""
    data = json.loads(json.dumps(data))
    keys = path.split(".")
    node = data
    for k in keys[:-1]:
        try:
            node = node[int(k)] if isinstance(node, list) else node[k]
        except (KeyError, IndexError, ValueError):
            return data
        if not isinstance(node, (dict, list)):
            return data
    last = keys[-1]
    if isinstance(node, list):
        if last.isdigit() and int(last) < len(node):
            node[int(last)] = value
    else:
        node[last] = value
    return data


def write_and_load(text: str | bytes, loader):
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "s.toml"
        f.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        return loader(str(f))


def loads_or_one_line(load):
    """Run ``load()``: a result, or a one-line ScenarioError (anything else fails the test)."""
    try:
        return load()
    except ScenarioError as exc:
        one_line(exc)
        return None


# ---------------------------------------------------------------------- MEC scenario


@SETTINGS
@given(path=st.sampled_from(MEC_PATHS), value=values)
def test_mec_set_any_value_on_any_field(path, value):
    sc = loads_or_one_line(lambda: load_scenario("comllm", {path: value}))
    if sc is not None:  # a valid scenario gives finite constants
        p = Params.from_scenario(sc)
        assert all(math.isfinite(x) for x in astuple(p) if isinstance(x, float)), p


@SETTINGS
@given(path=st.sampled_from(MEC_PATHS), value=values)
def test_mec_set_as_command_line_text(path, value):
    text = f"{path}={json.dumps(value)}"  # what --set receives (NaN, Infinity are JSON tokens here)
    loads_or_one_line(lambda: load_scenario("loadbalance", [text]))
    loads_or_one_line(lambda: parse_assignment(text))


@SETTINGS
@given(path=st.sampled_from(MEC_PATHS), value=values)
def test_mec_random_toml_documents(path, value):
    doc = toml_doc(replace({k: v for k, v in MEC_RAW.items()}, path, value))
    loads_or_one_line(lambda: write_and_load(doc, load_scenario))


@SETTINGS
@given(doc=st.dictionaries(st.sampled_from(list(MEC_RAW) + ["x", "edge.count"]), values, max_size=4))
def test_mec_arbitrary_toml_documents(doc):
    loads_or_one_line(lambda: write_and_load(toml_doc(doc), load_scenario))


@SETTINGS
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_mec_arbitrary_bytes(raw):
    loads_or_one_line(lambda: write_and_load(raw, load_scenario))


# ---------------------------------------------------------------------- three-tier scenario


@SETTINGS
@given(path=st.sampled_from(TIER_PATHS), value=values)
def test_tier_set_any_value_on_any_field(path, value):
    loads_or_one_line(lambda: load_tier_scenario("iot3tier", {path: value}))


@SETTINGS
@given(path=st.sampled_from(TIER_PATHS), value=values)
def test_tier_random_toml_documents(path, value):
    doc = toml_doc(replace(TIER_RAW, path, value))
    loads_or_one_line(lambda: write_and_load(doc, load_tier_scenario))


# ---------------------------------------------------------------------- EdgeCloudSim scenario (import-ecs TOML)


@pytest.fixture(scope="module")
def ecs_raw():
    import tomllib

    sc, _warnings = import_folder(FIX / "ecs_small")
    return tomllib.loads(dump_toml(sc))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), value=values)
def test_ecs_random_toml_documents(ecs_raw, data, value):
    path = data.draw(st.sampled_from(leaf_paths(ecs_raw) + ["nope", "sim.nope"]))
    doc = toml_doc(replace(ecs_raw, path, value))
    loads_or_one_line(lambda: write_and_load(doc, load_ecs_scenario))


@settings(max_examples=30, deadline=None)
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_ecs_arbitrary_bytes(raw):
    loads_or_one_line(lambda: write_and_load(raw, load_ecs_scenario))


# ---------------------------------------------------------------------- through the command line


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(["edge.count", "users.count", "task.rate", "task.size_mbit", "task.deadline_slots",
                             "cost.allow_local", "channel.snr_ref_db", "sim.slot_s", "lacs.k"]),
       value=st.one_of(st.integers(-3, 12), st.floats(), st.booleans(), st.text(max_size=4),
                       st.lists(st.floats(0, 8), max_size=3)))
def test_evaluate_exits_0_with_json_or_2_with_one_line(path, value):
    from mecoffload.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        argv = ["evaluate", "-p", "random,oracle", "-n", "1", "--set", "sim.horizon_slots=5", "--no-plots", "--json",
                "--set", f"{path}={json.dumps(value)}", "--out", str(Path(tmp) / "ev")]
        buf, err = io.StringIO(), io.StringIO()
        with redirect_stdout(buf), redirect_stderr(err):
            rc = main(argv)
        assert rc in (0, 2), err.getvalue()
        if rc == 2:
            lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()
        else:
            doc = json.loads(buf.getvalue().strip().splitlines()[-1])
            assert set(doc["policies"]) == {"random", "oracle"}


def test_evaluate_json_is_finite_when_no_task_completes(tmp_path, capsys):
    from mecoffload.cli import main

    rc = main(["evaluate", "-p", "local", "--set", "task.deadline_slots=1", "-n", "1", "--set", "sim.horizon_slots=5",
               "--no-plots", "--json", "--out", str(tmp_path / "ev")])
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    json.loads(line, parse_constant=refuse)
