"""Admission control under load (issue 14): the admission estimate (tasks still uploading to a server
compete for it, ``sim.cost.committed_view``), the doomed-task rule (``sim.cost.doomed_to_local``) and
the oracle arguments that select them."""

import dataclasses

import numpy as np
import pytest

from mecoffload.core.errors import PolicyError
from mecoffload.eval.evaluate import evaluate
from mecoffload.policies.base import make_policy
from mecoffload.sim.cost import committed_view, doomed_to_local, obs_latency, oracle_costs, queue_costs
from mecoffload.sim.dynamics import draw_slot, observe, reset
from mecoffload.sim.params import Params
from mecoffload.sim.rollout import decisions, drive
from mecoffload.sim.scenario import load_scenario


def params(*sets: str) -> Params:
    return Params.from_scenario(load_scenario("comllm", list(sets)))


def _busy_obs(p: Params, slots: int = 8):
    """An observation after ``slots`` slots of 12 users at λ = 0.8 decided by the plain queue oracle:
    many tasks uploading and in service."""
    q = dataclasses.replace(p, allow_reject=False)
    state, exo = reset(p, 6, 1)
    drive(decisions(state, exo, p, slots), lambda obs: np.argmin(oracle_costs(obs, q), axis=1))
    return state, observe(state, draw_slot(state, p, exo), 0, p)


def test_committed_view_counts_every_task_sent_to_the_server():
    p = params("cost.model=queue", "users.count=12", "task.rate=0.8")
    state, obs = _busy_obs(p)
    n_at, cycles = committed_view(obs, p)
    assert np.array_equal(n_at, obs.n_active)  # in service + uploading
    assert (obs.n_uploading > 0).any()
    # cycles of the uploading tasks: γ·D each, from the uplink queues of every device of the env
    b = obs.env[0]
    up = np.zeros(p.n_servers)
    for u in range(p.n_users):
        for i in range(state.uq_n[b, u]):
            up[state.uq_dest[b, u, i]] += p.gamma * state.uq_size[b, u, i]
    assert cycles[0] == pytest.approx(obs.backlog_cycles[0] + up, rel=1e-9)


def test_admission_estimate_is_the_queue_model_with_the_uploads_competing():
    p = params("cost.model=queue", "users.count=12", "task.rate=0.8", "cost.allow_reject=true")
    _, obs = _busy_obs(p)
    args = (obs.bits, obs.local_wait_s, obs.mean_rate, obs.uplink_wait_s, obs.f_edge)
    plain = queue_costs(*args, obs.n_in_service, obs.backlog_cycles, p)
    adm = queue_costs(*args, *committed_view(obs, p), p)
    assert np.array_equal(obs_latency(obs, p), adm)  # with allow_reject: the admission estimate
    assert np.array_equal(obs_latency(obs, p, uploads=False), plain)
    no_reject = dataclasses.replace(p, allow_reject=False)
    assert np.array_equal(obs_latency(obs, no_reject), plain)  # without: the queue model of before
    assert np.array_equal(obs_latency(obs, no_reject, uploads=True), adm)
    assert (adm >= plain - 1e-12).all() and (adm > plain + 1e-6).any()  # contention only adds
    assert np.array_equal(adm[:, 0], plain[:, 0])  # the local FIFO is exact either way
    j = oracle_costs(obs, p)
    late = (adm > p.deadline_s + 1e-12).all(1)
    assert np.array_equal(np.argmin(j, 1) == p.n_servers + 1, late)  # reject iff no location is in time


def test_paper_model_ignores_the_uploads_argument():
    p = params("users.count=12", "task.rate=0.8", "cost.allow_reject=true")
    _, obs = _busy_obs(p)
    assert np.array_equal(oracle_costs(obs, p, uploads=True), oracle_costs(obs, p, uploads=False))


def test_doomed_to_local():
    p = params("cost.model=queue", "cost.allow_reject=true")
    tau, E = p.deadline_s, p.n_servers
    j = np.full((4, E + 2), 0.5)
    j[1, :E + 1] = tau + 2.0  # doomed everywhere: argmin picks server 2
    j[1, 2] = tau + 1.0
    j[2, 3] = tau + 3.0  # the chosen one (3) is late, others are not: still moved (the caller chose it)
    a = np.array([4, 2, 3, E + 1])  # the last is a rejection
    out = doomed_to_local(j, a, p)
    assert out.tolist() == [4, 0, 0, E + 1]
    assert doomed_to_local(j, a, dataclasses.replace(p, allow_local=False)).tolist() == a.tolist()


def test_oracle_arguments():
    p = params("cost.model=queue")
    assert make_policy("oracle:uploads=compete,doomed=local", p).doomed_local
    with pytest.raises(PolicyError, match="uploads must be one of compete, ignore"):
        make_policy("oracle:uploads=always", p)
    with pytest.raises(PolicyError, match="doomed"):
        make_policy("oracle:doomed=cloud", p)


def test_admission_lowers_drops_under_overload():
    """20 users at λ = 0.6 (the per-device load is above the uplink's and CPU's capacity): rejecting by
    the admission estimate drops fewer tasks (rejections included) than the same estimate without it,
    and that one fewer than the plain queue oracle."""
    base = ["cost.model=queue", "users.count=20", "task.rate=0.6", "sim.horizon_slots=40"]
    plain = evaluate(load_scenario("comllm", base), ["oracle", "oracle:uploads=compete"], 3, 0, None)
    adm = evaluate(load_scenario("comllm", base + ["cost.allow_reject=true"]), ["oracle"], 3, 0, None)["oracle"].metrics
    same = plain["oracle:uploads=compete"].metrics
    assert adm["drops_rejected"] > 0
    assert adm["realized_drop_pct"] < 0.8 * same["realized_drop_pct"]
    assert same["realized_drop_pct"] < plain["oracle"].metrics["realized_drop_pct"]
    assert adm["drops_local"] + adm["drops_uplink"] < 0.1 * (same["drops_local"] + same["drops_uplink"])
