"""Policies: valid actions for every registered policy, hand-checked heuristics, LACS."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mecoffload.policies.base import PolicyError, allowed_mask, available, expand_specs, make_policy, runs_on
from mecoffload.policies.oracle import oracle_costs
from mecoffload.policies.specs import parse_policy_specs
from mecoffload.scenario import load_scenario
from mecoffload.sim.cost import estimated_costs, generalized_cost
from mecoffload.sim.dynamics import Obs, decide, draw_slot, observe, reset, serve
from mecoffload.sim.lacs import lacs_reward, lacs_terms
from mecoffload.sim.params import Params


def _params(name="comllm", **overrides) -> Params:
    return Params.from_scenario(load_scenario(name, overrides or None))


def _obs(n=3, E=4, **fields) -> Obs:
    """A hand-made observation; every field can be overridden."""
    base = dict(
        env=np.arange(n),
        bits=np.full(n, 3e6),
        user=np.zeros(n, np.int64),
        local_wait_s=np.zeros(n),
        rate=np.full((n, E), 10e6),
        f_edge=np.full((n, E), 30e9),
        n_active=np.zeros((n, E)),
        backlog_bits=np.zeros((n, E)),
        hist=np.zeros((n, E, 5)),
        dist=np.full((n, E), 100.0),
    )
    base.update(fields)
    return Obs(**base)


def _real_observations(p: Params, seed: int, slots: int = 6, batch: int = 4):
    """Observations from a running system (random actions), so queues are non-trivial."""
    state, exo = reset(p, batch, seed)
    rng = np.random.default_rng(seed)
    lo = 0 if p.allow_local else 1
    out = []
    for _ in range(slots):
        arr = draw_slot(state, p, exo)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            out.append(obs)
            decide(state, obs, rng.integers(lo, p.n_servers + 1, len(obs)), p)
        serve(state, p)
    return out


# learned policies need a checkpoint argument; they are covered in their own test files
NEEDS_CHECKPOINT = {"dqn", "setnet", "llm-zeroshot", "llm-sft", "llm-grpo", "comllm", "onnx"}
NAMES = sorted(n for n in available() if n not in NEEDS_CHECKPOINT)


@pytest.mark.parametrize("name", sorted(NEEDS_CHECKPOINT & set(available())))
def test_learned_policies_require_a_checkpoint_argument(name):
    with pytest.raises(PolicyError, match=f"{name}:"):
        make_policy(name, _params())


def test_registry_has_the_baselines():
    for name in ("random", "local", "nearest", "least-loaded", "round-robin", "oracle", "lacs", "min-max-delay"):
        assert name in NAMES
    assert all(isinstance(v, str) and v for v in available().values())


@pytest.mark.parametrize("scenario", ["comllm", "loadbalance"])
@pytest.mark.parametrize("name", NAMES)
def test_every_policy_returns_valid_actions(name, scenario):
    p = _params(scenario, **{"edge.count": 5})
    if not runs_on(name, p):  # local where local execution is forbidden: refused, not silently remapped
        with pytest.raises(PolicyError, match="cannot run on this scenario"):
            make_policy(name, p)
        return
    try:
        pol = make_policy(name, p)
    except PolicyError:
        pytest.fail(f"registered policy {name!r} cannot be built without an argument")
    pol.reset(4)
    rng = np.random.default_rng(0)
    obs_list = _real_observations(p, 1)
    assert obs_list
    lo = 0 if p.allow_local else 1
    for obs in obs_list:
        a = np.asarray(pol.act(obs, rng))
        assert a.shape == (len(obs),)
        assert np.issubdtype(a.dtype, np.integer)
        assert ((a >= lo) & (a <= p.n_servers)).all(), (name, a)
    # a subset of envs (as when only some envs have a k-th arrival)
    sub = obs_list[0].take(np.array([0]))
    a = np.asarray(pol.act(sub, rng))
    assert a.shape == (1,) and lo <= a[0] <= p.n_servers


@pytest.mark.parametrize("name", NAMES)
def test_policies_never_choose_local_when_forbidden_hand_obs(name):
    # local would be by far the best if allowed: zero wait, tiny task, terrible links
    p = _params("loadbalance", **{"edge.count": 4})
    if not runs_on(name, p):
        return  # refused at build (test_local_policy)
    pol = make_policy(name, p)
    pol.reset(3)
    obs = _obs(3, 4, bits=np.full(3, 1e3), rate=np.full((3, 4), 2.0))
    a = np.asarray(pol.act(obs, np.random.default_rng(0)))
    assert (a >= 1).all() and (a <= 4).all()


def test_make_policy_unknown_raises():
    p = _params()
    with pytest.raises(PolicyError) as exc:
        make_policy("nope", p)
    msg = str(exc.value)
    assert "nope" in msg and "oracle" in msg and "\n" not in msg
    assert issubclass(PolicyError, ValueError)


def test_make_policy_sets_name_from_spec():
    p = _params()
    assert make_policy("oracle", p).name == "oracle"
    assert make_policy("lacs:2,0.5", p).name == "lacs:2,0.5"


def test_allowed_mask():
    obs = _obs(2, 3)
    assert allowed_mask(obs, _params()).all()
    m = allowed_mask(obs, _params("loadbalance"))
    assert m.shape == (2, 4) and not m[:, 0].any() and m[:, 1:].all()


def test_nearest_picks_min_distance_server():
    p = _params(**{"edge.count": 4})
    dist = np.array([[50.0, 10.0, 30.0, 99.0], [5.0, 6.0, 7.0, 8.0], [40.0, 30.0, 20.0, 1.0]])
    obs = _obs(3, 4, dist=dist)
    a = make_policy("nearest", p).act(obs, np.random.default_rng(0))
    np.testing.assert_array_equal(a, [2, 1, 4])
    for o in _real_observations(p, 3):
        np.testing.assert_array_equal(make_policy("nearest", p).act(o, None), np.argmin(o.dist, 1) + 1)


def test_round_robin_cycles_per_env():
    p = _params(**{"edge.count": 3})
    pol = make_policy("round-robin", p)
    pol.reset(2)
    seq = [pol.act(_obs(2, 3), None) for _ in range(7)]
    np.testing.assert_array_equal(np.stack(seq), [[1, 1], [2, 2], [3, 3], [1, 1], [2, 2], [3, 3], [1, 1]])
    # only env 1 acts: env 0's counter does not move
    pol.reset(2)
    pol.act(_obs(2, 3), None)
    one = _obs(1, 3, env=np.array([1]))
    np.testing.assert_array_equal(pol.act(one, None), [2])
    np.testing.assert_array_equal(pol.act(one, None), [3])
    np.testing.assert_array_equal(pol.act(_obs(2, 3), None), [2, 1])


def test_least_loaded_picks_min_clearing_time_ties_fastest():
    p = _params(**{"edge.count": 3})
    obs = _obs(
        2,
        3,
        f_edge=np.array([[20e9, 40e9, 30e9], [20e9, 40e9, 30e9]]),
        backlog_bits=np.array([[1e6, 3e6, 1e6], [0.0, 0.0, 0.0]]),
    )
    # row 0: L·γ/F = 1e6γ/20e9, 3e6γ/40e9, 1e6γ/30e9 -> server 3; row 1: all 0 -> fastest (2)
    np.testing.assert_array_equal(make_policy("least-loaded", p).act(obs, None), [3, 2])


def test_local_policy():
    obs = _obs(3, 2)
    np.testing.assert_array_equal(make_policy("local", _params()).act(obs, None), [0, 0, 0])
    with pytest.raises(PolicyError, match=r"cannot run on this scenario.*cost.allow_local = false"):
        make_policy("local", _params("loadbalance"))  # forbidden local execution: an error, not a silent offload
    assert runs_on("local", _params()) and not runs_on("local", _params("loadbalance"))
    assert runs_on("random", _params("loadbalance"))


def test_all_skips_policies_that_cannot_run_on_the_scenario(tmp_path):
    lb, cl = load_scenario("loadbalance"), load_scenario("comllm")
    assert "local" not in expand_specs(["all"], lb, str(tmp_path))
    assert "local" in expand_specs(["all"], cl, str(tmp_path))
    assert "random" in expand_specs(["all"], lb, str(tmp_path))
    # named explicitly it stays (and building it is the error); 'all' adds no duplicates
    assert expand_specs(["local", "all"], lb, str(tmp_path)).count("local") == 1
    off = load_scenario("comllm", {"cost.allow_local": False})
    assert "local" not in expand_specs(["all"], off, str(tmp_path))


def test_random_policy_covers_allowed_actions_uniformly():
    p = _params(**{"edge.count": 3})
    obs = _obs(4000, 3)
    a = make_policy("random", p).act(obs, np.random.default_rng(0))
    counts = np.bincount(a, minlength=4)
    assert counts.sum() == 4000 and (np.abs(counts - 1000) < 150).all()
    p2 = _params("loadbalance", **{"edge.count": 3})
    a2 = make_policy("random", p2).act(obs, np.random.default_rng(0))
    c2 = np.bincount(a2, minlength=4)
    assert c2[0] == 0 and (np.abs(c2[1:] - 4000 / 3) < 150).all()


def test_oracle_is_argmin_of_generalized_cost():
    p = _params(**{"edge.count": 4})
    for o in _real_observations(p, 5):
        j = generalized_cost(
            estimated_costs(o.bits, o.rate, o.local_wait_s, o.f_edge, o.n_active, o.backlog_bits, p), p
        )
        np.testing.assert_array_equal(oracle_costs(o, p), j)
        a = make_policy("oracle", p).act(o, None)
        np.testing.assert_array_equal(j[np.arange(len(o)), a], j.min(1))


def test_oracle_hand_case():
    # local 3e6·297/2e9 = 0.4455 s; server 1 via 1 Mbps = 3 s; server 2: 0.3 + 0.0297 s
    p = _params(**{"edge.count": 2})
    obs = _obs(1, 2, rate=np.array([[1e6, 10e6]]))
    np.testing.assert_array_equal(make_policy("oracle", p).act(obs, None), [2])
    obs = _obs(1, 2, rate=np.array([[1e6, 1e6]]))
    np.testing.assert_array_equal(make_policy("oracle", p).act(obs, None), [0])


def test_min_max_delay_hand_case():
    # γ = 297, F = 30 GHz: server delays L·γ/F = [4e6·297/30e9, 0] = [0.0396, 0]; the 3 Mbit task
    # adds 0.0297 s. Resulting max: local max(0.0396, 0.4455) = 0.4455, server 1 0.0693, server 2 0.0396
    p = _params(**{"edge.count": 2})
    obs = _obs(1, 2, backlog_bits=np.array([[4e6, 0.0]]))
    np.testing.assert_array_equal(make_policy("min-max-delay", p).act(obs, None), [2])
    # delays [0.0396, 0.0198], adds [0.0297, 0.01485]: max 0.4455 / 0.0693 / 0.0396 -> server 2
    obs = _obs(1, 2, backlog_bits=np.array([[4e6, 4e6]]), f_edge=np.array([[30e9, 60e9]]))
    np.testing.assert_array_equal(make_policy("min-max-delay", p).act(obs, None), [2])


def test_lacs_zero_weight_equals_oracle():
    p = _params(**{"edge.count": 4})
    lacs0 = make_policy("lacs:3,0", p)
    oracle = make_policy("oracle", p)
    for o in _real_observations(p, 7):
        np.testing.assert_array_equal(lacs0.act(o, np.random.default_rng(0)), oracle.act(o, None))


def test_lacs_bad_arguments():
    p = _params()
    for arg in ("lacs:x", "lacs:0,0.3", "lacs:3,-1", "lacs:1,2,3", "lacs:65,0.3", "lacs:3,nan", "lacs:3,inf",
                "lacs:3,101", "lacs:k=3,w=1", "lacs:k=3,k=4", "lacs:3,lambda=1", "lacs:k=2.5", "lacs:k="):
        with pytest.raises(PolicyError, match="^lacs argument") as exc:
            make_policy(arg, p)
        assert "\n" not in str(exc.value)
    assert "1 <= k <= 64" in _error("lacs:0,0.3") and "0.0 <= lambda <= 100.0" in _error("lacs:3,-1")
    pol = make_policy("lacs:5,0.7", p)
    assert pol.k == 5 and pol.weight == 0.7
    pol = make_policy("lacs:k=4,lambda=0.5", p)
    assert (pol.k, pol.weight) == (4, 0.5)
    assert (make_policy("lacs:3", p).k, make_policy("lacs:3", p).weight) == (3, p.lacs_weight)
    assert make_policy("lacs:lambda=0", p).k == p.lacs_k


def test_lacs_terms_hand_case():
    # one server, deterministic future size (lo = hi = 1 -> every future task has size D)
    p = dataclasses.replace(_params(**{"edge.count": 1}), lacs_lo=1.0, lacs_hi=1.0)
    D, R, w, F, N, L = 3e6, 14e6, 0.05, 30e9, 2.0, 4e6
    obs = _obs(
        1, 1, bits=np.array([D]), rate=np.array([[R]]), local_wait_s=np.array([w]),
        f_edge=np.array([[F]]), n_active=np.array([[N]]), backlog_bits=np.array([[L]]),
    )
    j, impact = lacs_terms(obs, p, np.random.default_rng(0), k=4)
    g, dt, fl = 297.0, 0.1, 2e9
    local_now = w + D * g / fl
    edge_now = D / R + (L + D) * g * (N + 1) / F
    np.testing.assert_allclose(j[0], [local_now, edge_now], rtol=1e-12)  # both < τ = 1 s
    served = max(L - F / (N + 1) * dt / g, 0.0)  # eq 22: one slot at the effective rate
    # action 0: the task waits locally; servers only serve
    v_wait0 = max(w + D * g / fl - dt, 0.0)
    fut0 = min(v_wait0 + D * g / fl, D / R + (served + D) * g * (N + 1) / F)
    # action 1: the task joins the server (L' = served + D, N' = N + 1)
    v_wait1 = max(w - dt, 0.0)
    fut1 = min(v_wait1 + D * g / fl, D / R + (served + D + D) * g * (N + 2) / F)
    np.testing.assert_allclose(impact[0], [fut0, fut1], rtol=1e-12)
    # eq 26 in slots
    r = lacs_reward(obs, np.array([1]), p, np.random.default_rng(0))
    np.testing.assert_allclose(r, [-(edge_now + p.lacs_weight * fut1) / dt], rtol=1e-12)


def test_lacs_terms_shapes_and_forbidden_local():
    p = _params("loadbalance", **{"edge.count": 3})
    for o in _real_observations(p, 2, slots=3):
        j, impact = lacs_terms(o, p, np.random.default_rng(0))
        assert j.shape == impact.shape == (len(o), 4)
        assert np.isinf(j[:, 0]).all() and np.isfinite(j[:, 1:]).all()
        assert np.isfinite(impact).all() and (impact > 0).all()


def _error(spec: str, p: Params | None = None) -> str:
    with pytest.raises(PolicyError) as exc:
        make_policy(spec, p or _params())
    return str(exc.value)


# ---------------------------------------------------------------------- spec grammar (issue 13 item 5)


@pytest.mark.parametrize("values, specs", [
    (["random,oracle,lacs"], ["random", "oracle", "lacs"]),
    (["lacs:k=3,lambda=0.3", "ga:pop=8,gens=2"], ["lacs:k=3,lambda=0.3", "ga:pop=8,gens=2"]),
    (["lacs:3,0.3"], ["lacs:3,0.3"]),
    (["lacs:3,0.3;ga:pop=8,gens=2;random"], ["lacs:3,0.3", "ga:pop=8,gens=2", "random"]),
    (["random,lacs:3,0.3,oracle"], ["random", "lacs:3,0.3", "oracle"]),
    (["comllm:runs/ck,random"], ["comllm:runs/ck", "random"]),
    (["utilization-based,mec:lacs:3,0.3"], ["utilization-based", "mec:lacs:3,0.3"]),
    ([" random , oracle ;; ", "lacs:"], ["random", "oracle", "lacs"]),
    (["dqn:/a:b/c"], ["dqn:/a:b/c"]),
    ("all", ["all"]),
])
def test_parse_policy_specs(values, specs):
    assert parse_policy_specs(values) == specs


@pytest.mark.parametrize("values, needle", [
    ([","], "at least one policy"),
    ([";", " "], "at least one policy"),
    ([], "at least one policy"),
    (["3,random"], "'3' is not a policy name"),
    (["random,0.3"], "takes no argument here"),
    ([":3"], "not a policy name"),
])
def test_parse_policy_specs_errors(values, needle):
    with pytest.raises(PolicyError, match=needle):
        parse_policy_specs(values)


def test_specs_from_the_grammar_build_policies():
    p = _params()
    for spec in parse_policy_specs(["lacs:k=3,lambda=0.3", "ga:pop=8,gens=2", "lacs:3,0.3;random"]):
        assert make_policy(spec, p).name == spec


@pytest.mark.parametrize("name", ["random", "local", "nearest", "round-robin"])
def test_a_policy_without_arguments_refuses_one(name):
    assert "takes no argument" in _error(f"{name}:xyz")
    assert make_policy(f"{name}:", _params()).name == f"{name}:"  # an empty argument is no argument


@pytest.mark.parametrize("name", ["least-loaded", "oracle", "min-max-delay", "lacs", "ga"])
def test_cost_model_policies_take_only_a_model(name):
    assert f"{name} argument" in _error(f"{name}:xyz")
    assert "model must be one of paper, queue" in _error(f"{name}:model=fast")
    assert make_policy(f"{name}:", _params()).name == f"{name}:"
    assert make_policy(f"{name}:model=queue", _params()).p.cost_model == "queue"


@pytest.mark.parametrize("spec, needle", [
    ("ga:pop=100000000", "2 <= pop <= 10000"),
    ("ga:gens=10001", "0 <= gens <= 10000"),
    ("ga:pop=10000,gens=10000", "pop × gens × (E+1)"),
    ("ga:mut=1.5", "0.0 <= mut <= 1.0"),
    ("ga:pc=nan", "0.0 <= pc <= 1.0"),
    ("ga:elite=20000", "1 <= elite <= 10000"),
    ("ga:pop=4,tour=5", "tour must be in [1, pop=4]"),
    ("ga:objective=fast", "one of max-delay, cost, auto"),
    ("ga:8", "expected key=value"),
])
def test_ga_arguments_have_ranges(spec, needle):
    assert needle in _error(spec)


def test_ga_huge_population_is_refused_at_once():
    import time

    t = time.perf_counter()
    _error("ga:pop=100000000")
    assert time.perf_counter() - t < 1.0


# ---------------------------------------------------------------------- checkpoints validated before use (issue 13 item 2)


@pytest.mark.parametrize("kind", ["dqn", "setnet"])
def test_shipped_checkpoints_pass_validation_and_load_bit_identically(kind):
    torch = pytest.importorskip("torch")
    from pathlib import Path

    from safetensors.torch import load_file

    folder = Path(__file__).resolve().parent.parent / "checkpoints" / f"{kind}-comllm"
    raw = load_file(str(folder / "model.safetensors"))
    pol = make_policy(f"{kind}:{folder}", _params())
    state = pol.net.state_dict()
    assert set(state) == set(raw)
    for name, t in raw.items():
        assert state[name].dtype == t.dtype and torch.equal(state[name], t), name


# ---------------------------------------------------------------------- resource bounds (issue 13 item 3)


def test_memory_estimates_refuse_what_cannot_fit(monkeypatch):
    from mecoffload.core import resources
    from mecoffload.core.errors import UserError
    from mecoffload.policies.base import check_evaluation_memory, policy_memory_bytes
    from mecoffload.sim.scenario import evaluation_memory_bytes

    sc = load_scenario("comllm")
    small = evaluation_memory_bytes(sc, 20, 3)
    assert 10_000 < small < 50 * 2**20
    big = load_scenario("comllm", {"users.count": 10_000, "sim.horizon_slots": 1_000_000})
    assert evaluation_memory_bytes(big, 100_000) > 2**50
    ga = make_policy("ga:pop=64,gens=2", _params())
    assert policy_memory_bytes(ga, 1) > 0 and abs(policy_memory_bytes(ga, 20) - 20 * policy_memory_bytes(ga, 1)) <= 20
    assert policy_memory_bytes(make_policy("oracle", _params()), 20) == 0
    monkeypatch.setattr(resources, "free_memory_bytes", lambda: 2**30)
    check_evaluation_memory(sc, 20, [ga, make_policy("oracle", _params())])
    with pytest.raises(UserError, match=r"evaluate -n 100000 needs about .* PiB of memory but only 1.0 GiB is free"):
        check_evaluation_memory(big, 100_000, [ga], "evaluate -n 100000")
    with pytest.raises(UserError, match="policy 'ga' with pop=10000 on 1 environment"):
        make_policy("ga:pop=10000,gens=1", _params(**{"users.count": 10_000, "task.rate": 20}))
    ga_ok = make_policy("ga:pop=2000,gens=1", _params())
    with pytest.raises(UserError, match="on 100000 environment"):
        ga_ok.reset(100_000)  # the real batch is checked when a run starts
