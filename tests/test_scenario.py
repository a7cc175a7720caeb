"""Scenario presets, overrides and one-line validation errors."""

from __future__ import annotations

import pytest

from mecoffload.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    parse_assignment,
    preset_names,
)
from mecoffload.sim.params import Params


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg.strip() == msg and msg
    return msg


def test_presets_listed():
    names = preset_names()
    assert "comllm" in names and "loadbalance" in names
    assert names == sorted(names)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_loads_and_converts(name):
    sc = load_scenario(name)
    assert isinstance(sc, Scenario)
    assert sc.name == name
    assert sc.description
    p = Params.from_scenario(sc)
    assert p.n_servers == sc.edge.count and p.n_users == sc.users.count
    assert p.deadline_s == pytest.approx(sc.task.deadline_slots * sc.sim.slot_s)


def test_comllm_matches_seed_table_i():
    sc = load_scenario("comllm")
    assert sc.edge.count == 6
    assert sc.edge.cpu_ghz == (20.0, 48.0)
    assert sc.users.cpu_ghz == 2.0
    assert sc.task.density_gcycles_per_mbit == 0.297
    assert sc.task.size_mbit == (2.0, 5.0)
    assert sc.cost.allow_local is True


def test_loadbalance_forbids_local():
    sc = load_scenario("loadbalance")
    assert sc.cost.allow_local is False
    assert sc.task.arrival == "bernoulli"


def test_overrides_dict_and_list():
    sc = load_scenario("comllm", {"edge.count": 11, "task.size_mbit": [6, 6]})
    assert sc.edge.count == 11
    assert sc.task.size_mbit == (6.0, 6.0)
    sc2 = load_scenario("comllm", ["edge.count=11", "task.size_mbit=[6,6]", "edge.placement=grid"])
    assert sc2.edge.count == 11 and sc2.task.size_mbit == (6.0, 6.0) and sc2.edge.placement == "grid"
    p = Params.from_scenario(sc2)
    assert p.n_servers == 11 and p.size_lo_bit == p.size_hi_bit == 6e6
    # the base preset is unchanged (frozen models, copies)
    assert load_scenario("comllm").edge.count == 6


def test_with_overrides_on_object():
    sc = load_scenario("comllm")
    sc2 = sc.with_overrides({"cost.allow_local": False, "lacs.k": 5})
    assert sc2.cost.allow_local is False and sc2.lacs.k == 5
    assert sc.cost.allow_local is True
    assert sc.with_overrides(None) is sc and sc.with_overrides({}) is sc


def test_negative_edge_count_one_line_error():
    with pytest.raises(ScenarioError) as exc:
        load_scenario("comllm", {"edge.count": -1})
    msg = _one_line(exc)
    assert "edge.count" in msg and "-1" in msg


def test_negative_edge_count_from_string_override():
    with pytest.raises(ScenarioError) as exc:
        load_scenario("comllm", ["edge.count=-1"])
    assert "edge.count" in _one_line(exc)


def test_unknown_field_names_it():
    with pytest.raises(ScenarioError) as exc:
        load_scenario("comllm", {"edge.cnt": 3})
    msg = _one_line(exc)
    assert "edge.cnt" in msg and "count" in msg  # lists the allowed fields
    with pytest.raises(ScenarioError) as exc:
        load_scenario("comllm", {"nosuchsection.x": 1})
    assert "nosuchsection" in _one_line(exc)
    with pytest.raises(ScenarioError) as exc:
        load_scenario("comllm", {"edge.count.deeper": 1})
    assert "edge.count.deeper" in _one_line(exc)


def test_unknown_scenario_lists_allowed_names():
    with pytest.raises(ScenarioError) as exc:
        load_scenario("does-not-exist")
    msg = _one_line(exc)
    assert "does-not-exist" in msg
    for name in preset_names():
        assert name in msg


@pytest.mark.parametrize(
    "override, field",
    [
        # range checks are section-level validators: the message names the section and the field
        ({"task.size_mbit": [5, 2]}, "size_mbit"),
        ({"task.size_mbit": [0, 2]}, "size_mbit"),
        ({"edge.cpu_ghz": [48, 20]}, "cpu_ghz"),
        ({"task.arrival": "bernoulli", "task.rate": 1.5}, "task"),
        ({"task.arrival": "uniform"}, "task.arrival"),
        ({"sim.slot_s": 0}, "sim.slot_s"),
        ({"task.deadline_slots": 0}, "task.deadline_slots"),
        ({"edge.count": 1000}, "edge.count"),
        ({"edge.count": "many"}, "edge.count"),
        ({"channel.fading": "rician"}, "channel.fading"),
    ],
)
def test_invalid_values_raise_one_line(override, field):
    with pytest.raises(ScenarioError) as exc:
        load_scenario("comllm", override)
    assert field in _one_line(exc)


def test_parse_assignment():
    assert parse_assignment("edge.count=11") == ("edge.count", 11)
    assert parse_assignment(" task.size_mbit = [6, 6] ") == ("task.size_mbit", [6, 6])
    assert parse_assignment("cost.allow_local=false") == ("cost.allow_local", False)
    assert parse_assignment("edge.placement=grid") == ("edge.placement", "grid")
    assert parse_assignment("a=b=c") == ("a", "b=c")
    with pytest.raises(ScenarioError) as exc:
        parse_assignment("edge.count")
    assert "edge.count" in _one_line(exc)


def test_load_from_toml_path(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('description = "test"\n[edge]\ncount = 3\n[task]\nrate = 0.7\n')
    sc = load_scenario(str(f))
    assert sc.name == "mine" and sc.edge.count == 3 and sc.task.rate == 0.7
    assert sc.users.count == Scenario().users.count  # defaults fill the rest
    sc2 = load_scenario(str(f), {"edge.count": 4})
    assert sc2.edge.count == 4


def test_bad_toml_and_unknown_section_in_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[edge\ncount = 3\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(str(bad))
    _one_line(exc)
    extra = tmp_path / "extra.toml"
    extra.write_text("[edge]\ncount = 3\nspeed = 9\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(str(extra))
    assert "edge.speed" in _one_line(exc)


def test_scenario_error_is_value_error():
    assert issubclass(ScenarioError, ValueError)


# ---------------------------------------------------------------------- strict types, finite numbers, empty files (issue 13)


@pytest.mark.parametrize("override, needle", [
    ({"edge.count": True}, "valid integer"),
    ({"edge.count": 3.0}, "valid integer"),
    ({"edge.count": "3"}, "valid integer"),
    ({"users.cpu_ghz": "2"}, "valid number"),
    ({"users.cpu_ghz": False}, "valid number"),
    ({"cost.allow_local": 1}, "valid boolean"),
    ({"cost.allow_local": "yes"}, "valid boolean"),
    ({"name": 3}, "valid string"),
    ({"task.size_mbit": [1, True]}, "valid number"),
    ({"task.size_mbit": ["1", "2"]}, "valid number"),
    ({"users.cpu_ghz": float("nan")}, "finite number"),
    ({"users.cpu_ghz": float("inf")}, "finite number"),
    ({"channel.snr_ref_db": float("-inf")}, "finite number"),
    ({"edge.cpu_ghz": [float("nan"), 40]}, "finite number"),
    ({"users.cpu_ghz": 1e300}, "0 < users.cpu_ghz <= 100"),
    ({"sim.horizon_slots": 10**30}, "1 <= sim.horizon_slots <= 1000000"),
    ({"lacs.future_size_lo": 5, "lacs.future_size_hi": 0.1}, "future_size_lo <= lacs.future_size_hi"),
    ({"name": "x" * 5000}, "at most 200 characters"),
])
def test_strict_types_and_finite_numbers(override, needle):
    with pytest.raises(ScenarioError) as exc:
        load_scenario("comllm", override)
    msg = _one_line(exc)
    assert needle in msg and len(msg) < 400


def test_lists_are_tuples_and_ints_are_floats():
    sc = load_scenario("comllm", ["task.size_mbit=[6,6]", "users.cpu_ghz=3", "edge.cpu_ghz=[20, 48.5]"])
    assert sc.task.size_mbit == (6.0, 6.0) and sc.users.cpu_ghz == 3.0 and sc.edge.cpu_ghz == (20.0, 48.5)
    assert isinstance(sc.users.cpu_ghz, float)


@pytest.mark.parametrize("text", ["", "# nothing\n", 'name = "x"\n', 'description = "only words"\n'])
def test_an_empty_file_is_not_the_defaults(tmp_path, text):
    f = tmp_path / "empty.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(str(f))
    assert "sets no scenario field" in _one_line(exc) and "[edge]" in _one_line(exc)


def test_error_echo_is_short():
    with pytest.raises(ScenarioError) as exc:
        load_scenario("comllm", {"edge.count": list(range(100_000))})
    assert len(_one_line(exc)) < 300
