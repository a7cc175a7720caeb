"""DNN-split tasks in the MEC engine (issue 16 part 2): accounting, chained stages, policies, scenario errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mecoffload.core.errors import PolicyError, ScenarioError
from mecoffload.eval.evaluate import evaluate
from mecoffload.policies.base import expand_specs, make_policy
from mecoffload.sim.dnncost import queue_latency, queue_oracle
from mecoffload.sim.dynamics import decide, draw_slot, observe, reset, serve
from mecoffload.sim.params import Params
from mecoffload.sim.scenario import load_scenario


def _params(**sets) -> Params:
    return Params.from_scenario(load_scenario("dnn-wifi", {"sim.horizon_slots": 30, **sets}))


def _run_random(p: Params, seed: int, batch: int, slots: int, drain: int):
    """Random valid (k, e) actions; returns the state after ``slots`` with arrivals and ``drain`` without."""
    t = p.dnn
    state, exo = reset(p, batch, seed)
    rng = np.random.default_rng(seed)
    for s in range(slots + drain):
        arr = draw_slot(state, p, exo, arrivals=s < slots)
        for k in range(arr.width):
            obs = observe(state, arr, k, p)
            split = (rng.random(len(obs)) * (t.n_layers[obs.net] + 1)).astype(np.int64)
            decide(state, obs, split * p.n_servers + rng.integers(0, p.n_servers, len(obs)), p)
        serve(state, p)
        ended = state.completed + state.dropped.sum(1)
        assert (ended + state.in_flight() == state.arrived).all()  # every task is somewhere, exactly once
    return state


@settings(max_examples=16, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), users=st.integers(1, 12), rate=st.sampled_from([0.05, 0.3, 1.0]),
       link=st.sampled_from(["3g", "wifi"]), service=st.sampled_from(["continuous", "slotted"]))
def test_every_task_ends_exactly_once(seed, users, rate, link, service):
    p = Params.from_scenario(load_scenario(f"dnn-{link}", {"users.count": users, "task.rate": rate,
                                                           "sim.service": service}))
    state = _run_random(p, seed, batch=3, slots=12, drain=p.deadline_slots)
    assert state.in_flight().sum() == 0
    assert (state.completed + state.dropped.sum(1) == state.arrived).all()
    assert state.arrived.sum() > 0 or rate < 1


def test_chained_task_runs_its_three_stages():
    """One AlexNet inference split after pool5 (k = 13): device part, then the 36 kB upload, then the server."""
    p = _params(**{"users.count": 1, "dnn.networks": ["alexnet"], "task.rate": 20.0})
    t = p.dnn
    state, exo = reset(p, 1, 0)
    arr = draw_slot(state, p, exo)
    obs = observe(state, arr, 0, p)
    k, e = 13, 1
    decide(state, obs.take(np.arange(1)), np.array([k * p.n_servers + e]), p)
    assert state.lq_n[0, 0] == 1 and state.uq_n[0, 0] == 0
    assert state.lq_up[0, 0, 0] == t.up_bits[0, k] and state.lq_dest[0, 0, 0] == e
    dev_slots = int(np.ceil(t.dev_s[0, k] / p.slot_s))
    lat, energy = [], 0.0
    for s in range(40):
        out = serve(state, p)
        energy += out.energy_j.sum()
        lat += list(out.latency_s)
        if s == dev_slots - 1:  # local stage done within this slot: the upload waits in the uplink FIFO
            assert state.lq_n[0, 0] == 0 and state.uq_n[0, 0] == 1 and state.uq_dest[0, 0, 0] == e
        if state.completed[0]:
            break
    assert state.completed[0] == 1 and state.dropped.sum() == 0
    alone = t.latency_s[0, k, e]
    assert alone <= lat[0] <= alone + 3 * p.slot_s  # three stages; each hand-over waits for a slot boundary
    assert energy == pytest.approx(t.energy_j[0, k], rel=1e-9)  # compute power x device time + P_tx x air time


def test_chained_task_in_slotted_service():
    """The slotted discipline (each queue serves its head, capacity left mid-slot is lost): the device
    part and the upload end at slot boundaries, the edge part mid-slot; latency = (n₁ + n₂)·Δt + the
    edge time, n₁, n₂ the slots of the first two stages; the same energy as the continuous service."""
    p = _params(**{"users.count": 1, "dnn.networks": ["alexnet"], "task.rate": 20.0, "sim.service": "slotted"})
    t, dt = p.dnn, p.slot_s
    for k, e in ((13, 1), (0, 2), (int(t.n_layers[0]), 0)):
        state, exo = reset(p, 1, 0)
        obs = observe(state, draw_slot(state, p, exo), 0, p)
        decide(state, obs.take(np.arange(1)), np.array([k * p.n_servers + e]), p)
        lat, energy = [], 0.0
        for _ in range(60):
            out = serve(state, p)
            lat += list(out.latency_s)
            energy += out.energy_j.sum()
            if state.completed[0]:
                break
        assert state.completed[0] == 1 and state.dropped.sum() == 0 and state.in_flight().sum() == 0
        n1 = int(np.ceil(t.dev_s[0, k] / dt - 1e-9))
        n2 = int(np.ceil(t.up_bits[0, k] / state.rate[0, 0, e] / dt - 1e-9))
        edge = t.srv_s[0, k, e] if n2 else 0.0  # all-local (k = n): the device part ends mid-slot instead
        want = (n1 + n2) * dt + edge if n2 else (n1 - 1) * dt + (t.dev_s[0, k] - (n1 - 1) * dt)
        assert lat[0] == pytest.approx(want, rel=1e-9)
        assert energy == pytest.approx(t.energy_j[0, k], rel=1e-9)
    # two device parts of 4.9 ms in one FIFO: the continuous service runs both in slot 0, the slotted
    # one only the head (the rest of the slot is lost), so the second upload is handed on a slot later
    for service, handed in (("continuous", 2), ("slotted", 1)):
        q = _params(**{"users.count": 1, "dnn.networks": ["alexnet"], "task.rate": 20.0, "sim.service": service})
        state, exo = reset(q, 1, 0)
        obs = observe(state, draw_slot(state, q, exo), 0, q)
        one = obs.take(np.arange(1))
        decide(state, one, np.array([13 * q.n_servers + 1]), q)
        decide(state, observe(state, draw_slot(state, q, exo), 0, q).take(np.arange(1)), np.array([13 * q.n_servers + 1]), q)
        assert state.lq_n[0, 0] == 2
        serve(state, q)
        assert state.uq_n[0, 0] == handed and state.lq_n[0, 0] == 2 - handed


def test_full_offload_and_all_local_energy():
    p = _params(**{"users.count": 1, "dnn.networks": ["resnet18"], "task.rate": 20.0})
    t = p.dnn
    for k in (0, int(t.n_layers[0])):
        state, exo = reset(p, 1, 0)
        obs = observe(state, draw_slot(state, p, exo), 0, p)
        decide(state, obs, np.array([k * p.n_servers]), p)
        energy = sum(serve(state, p).energy_j.sum() for _ in range(30))
        assert state.completed[0] == 1
        assert energy == pytest.approx(t.energy_j[0, k], rel=1e-9)


def test_load_aware_oracle_beats_all_local_on_a_tiny_case():
    sc = load_scenario("dnn-wifi", {"users.count": 4, "sim.horizon_slots": 60, "dnn.networks": ["vgg16", "vit_b_16"]})
    runs = evaluate(sc, ["dnn-local", "dnn-oracle"], episodes=3, seed=0)
    local, oracle = runs["dnn-local"].metrics, runs["dnn-oracle"].metrics
    assert oracle["realized_mean_s"] < 0.8 * local["realized_mean_s"]
    assert oracle["realized_drop_pct"] <= local["realized_drop_pct"]
    assert oracle["energy_per_inference_j"] < local["energy_per_inference_j"]
    assert local["split_local_pct"] == 100.0 and oracle["split_local_pct"] < 100.0
    assert oracle["accuracy_top1_mean"] > 70


def test_oracle_plan_matches_the_queue_estimate():
    """Rows alone: the compiled plan's choice is the argmin of the queue-aware estimate."""
    p = _params(**{"users.count": 8, "task.rate": 0.5})
    state = _run_random(p, 3, batch=4, slots=6, drain=0)
    exo = np.random.default_rng(0)
    arr = draw_slot(state, p, np.random.Generator(np.random.PCG64(5)))
    obs = observe(state, arr, 0, p)
    a, best = queue_oracle(obs, p)
    lat = queue_latency(obs, p).reshape(len(obs), -1)
    assert np.allclose(lat[np.arange(len(obs)), a], lat.min(1))
    assert np.allclose(best, lat.min(1))
    del exo


def test_policies_listed_and_guarded():
    sc = load_scenario("dnn-lte")
    assert expand_specs(["all"], sc) == ["dnn-local", "dnn-edge-nearest", "dnn-edge-least-loaded", "neurosurgeon",
                                         "dnn-oracle"]
    learned = [s for s in expand_specs(["all"], load_scenario("dnn-wifi")) if s.startswith("setnet-dnn:")]
    assert learned == ["setnet-dnn:checkpoints/setnet-dnn-wifi", "setnet-dnn:checkpoints/setnet-dnn-realized-wifi"]
    with pytest.raises(PolicyError):
        make_policy("neurosurgeon", Params.from_scenario(load_scenario("comllm")))
    with pytest.raises(PolicyError):
        evaluate(sc.with_overrides({"sim.horizon_slots": 2}), ["random"], episodes=1)


@pytest.mark.parametrize("sets", [{"dnn.networks": ["resnet"]}, {"dnn.servers": ["titanx", "t4"]},
                                  {"dnn.uplink": "5g"}, {"dnn.device": "phone"}])
def test_bad_dnn_fields_are_one_line_errors(sets):
    with pytest.raises(ScenarioError) as exc:
        load_scenario("dnn-wifi", sets)
    assert "\n" not in str(exc.value)


def test_ga_never_worse_than_its_greedy_seed_on_its_own_fitness():
    """The GA keeps its best individual, seeded with the oracle's plan: its slot cost is at most the plan's."""
    from mecoffload.policies.dnn import slot_state
    from mecoffload.policies.dnn_ga import _fitness, evolve
    from mecoffload.sim.dnncost import plan_rows

    p = _params(**{"users.count": 12, "task.rate": 0.6, "edge.count": 2, "dnn.servers": ["xeon"]})
    t = p.dnn
    state = _run_random(p, 7, batch=2, slots=5, drain=0)
    arr = draw_slot(state, p, np.random.Generator(np.random.PCG64(9)))
    b, j = np.nonzero(arr.valid)
    g = slot_state(state, p)
    args = (b, arr.user[b, j], arr.net[b, j])
    greedy, _ = plan_rows(*args, *(a.copy() for a in g), t.dev_s, t.up_bits, t.srv_s, t.n_layers, t.allowed, p.slot_s,
                          True)
    ga = evolve(*args, greedy, *g, t.dev_s, t.up_bits, t.srv_s, t.n_layers, t.allowed, p.slot_s, p.deadline_s, p.rho_s,
                12, 8, 0.2, 3)
    again = evolve(*args, greedy, *g, t.dev_s, t.up_bits, t.srv_s, t.n_layers, t.allowed, p.slot_s, p.deadline_s,
                   p.rho_s, 12, 8, 0.2, 3)
    assert (ga == again).all()  # deterministic for a seed
    for env in np.unique(b):
        rows = np.flatnonzero(b == env)
        fit = [_fitness(rows, a[rows], *args, *g, t.dev_s, t.up_bits, t.srv_s, t.n_layers, t.n_splits, p.slot_s,
                        p.deadline_s, p.rho_s) for a in (greedy, ga)]
        assert fit[1] <= fit[0] + 1e-12
    k = ga // p.n_servers
    assert (k <= t.n_layers[arr.net[b, j]]).all()
    runs = evaluate(load_scenario("dnn-wifi", {"users.count": 3, "sim.horizon_slots": 20}), ["dnn-ga:pop=6,gens=3"],
                    episodes=2)
    assert runs["dnn-ga:pop=6,gens=3"].metrics["tasks"] > 0
    with pytest.raises(PolicyError):
        make_policy("dnn-ga:pop=1", p)


def test_envbatch_carries_the_network_of_each_pending_task():
    """EnvBatch (the engine under the Gymnasium envs) keeps each arrival's network: its Obs.net equals a
    closed-loop draw of the same seed, and deciding all-local advances every env without error."""
    from mecoffload.sim.envbatch import EnvBatch

    p = _params(**{"users.count": 6, "task.rate": 0.6})
    eb = EnvBatch(p, batch=3, seed=4)
    state, exo = reset(p, 3, 4)
    first = draw_slot(state, p, exo)
    obs = eb.observe()
    rows = np.arange(3)
    assert (obs.net == first.net[rows, 0]).all()
    for _ in range(20):
        obs = eb.observe()
        assert obs.net is not None and (obs.net >= 0).all() and (obs.net < len(p.dnn.networks)).all()
        eb.decide(obs, p.dnn.n_layers[obs.net] * p.n_servers)  # k = last: all-local
    with pytest.raises(ValueError, match="DNN-split"):
        from mecoffload.sim.env import OffloadEnv

        OffloadEnv("dnn-wifi")


@pytest.mark.parametrize("argv", [["train", "dqn", "-s", "dnn-wifi", "-o", "{tmp}/x"],
                                  ["llm", "data", "-s", "dnn-lte", "-o", "{tmp}/y"],
                                  ["serve", "-p", "dnn-oracle", "-s", "dnn-wifi"]])
def test_commands_over_generic_tasks_refuse_dnn_scenarios_in_one_line(argv, tmp_path, capsys):
    from mecoffload.cli import main

    rc = main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error:") and "DNN-split" in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())
