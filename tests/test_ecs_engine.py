"""The vectorised EdgeCloudSim engine: accounting, exact processor sharing, orchestrator
semantics, M/M/1 network, determinism, batch independence, published trends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mecoffload.ecs.engine import DONE, FAILED, REASONS, EcsSim, Mode, mm1_parameters
from mecoffload.ecs.metrics import check_accounting, env_figures
from mecoffload.ecs.model import validate_ecs_scenario
from mecoffload.ecs.parser import import_folder
from mecoffload.ecs.runner import run_ecs
from mecoffload.ecs.samples import sample_app1
from mecoffload.tiers.workload import Layout, Workload, generate

FIX = Path(__file__).parent / "fixtures"
ALL = [f"{s}/{p}" for s in ("SINGLE_TIER", "TWO_TIER", "TWO_TIER_WITH_EO")
       for p in ("NEXT_FIT", "RANDOM_FIT", "FIRST_FIT", "BEST_FIT", "WORST_FIT")]
ALL += [f"TWO_TIER_WITH_EO/{p}" for p in ("NETWORK_BASED", "UTILIZATION_BASED", "HYBRID")]


def _small(**updates):
    sc = import_folder(FIX / "ecs_small")[0]
    data = sc.model_dump()
    for path, value in updates.items():
        node = data
        *head, last = path.split(".")
        for k in head:
            node = node[k]
        node[last] = value
    return validate_ecs_scenario(data)


def _same(a, b) -> bool:
    """Equal, NaN included (figures of a tier without tasks are NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _sim(sc, modes, envs, seed=0):
    tsc = sc.to_tier_scenario(max(n for n, _ in envs))
    wl = generate(tsc, Layout.from_scenario(tsc), envs)
    return EcsSim(sc, wl, modes, seed=seed, tier_sc=tsc).run()


def test_accounting_every_orchestrator_and_every_reason():
    # a slow WAN (bandwidth failures) and short stays (mobility failures) on a busy scenario
    sc = _small(**{"network.wan_mbps": 1.5, "mobility.mean_dwell_s": [20.0, 10.0, 5.0]})
    from mecoffload.tiers.policies import make_tier_policy

    modes = [Mode.ecs(o) for o in ALL] + [Mode("least-utilized", policy=make_tier_policy("least-utilized", sc.to_tier_scenario()))]
    sim = _sim(sc, modes, [(80, 0)])
    acc = check_accounting(sim)
    assert acc["completed"] + sum(acc[r] for r in REASONS) == acc["generated"] == sim.n_tasks
    assert acc["vm_capacity"] > 0 and acc["bandwidth"] > 0 and acc["mobility"] > 0 and acc["unfinished"] == 0
    figs = env_figures(sim)
    for f in figs:
        assert f["completed"] + f["failed"] == f["tasks"]
        assert f["fail_vm_capacity"] + f["fail_bandwidth"] + f["fail_mobility"] + f["fail_unfinished"] == f["failed"]
        assert f["completed_pct"] + f["failed_pct"] == pytest.approx(100.0)
    # every task ended once, with its times in order
    done = sim.status == DONE
    assert np.all(sim.t_ready[done] >= sim.t_arr[done]) and np.all(sim.t_pe[done] >= sim.t_ready[done])
    assert np.all(sim.t_end[done] >= sim.t_pe[done])
    assert set(np.unique(sim.status)) <= {DONE, FAILED}


def _tiny(vms, n_servers=1, apps=None, cloud_vms=0):
    """A hand-made scenario without network delay (zero-size transfers), static devices."""
    app = dict(name="a", usage_pct=100, prob_cloud_pct=0, interarrival_s=1.0, active_s=100, idle_s=0, upload_kb=0,
               download_kb=0, length_mi=1000, required_cores=1, vm_util_edge_pct=30, vm_util_cloud_pct=30)
    data = {
        "name": "tiny", "sim": {"simulation_time_s": 30.0, "warmup_s": 0.0, "load_check_interval_s": 1.0},
        "devices": {"min": 2, "max": 2, "step": 1}, "apps": apps or [app],
        "edge": [{"name": f"e{i}", "wlan_id": i, "attractiveness": 0,
                  "hosts": [{"vms": [{"cores": c, "mips": m} for c, m in vms]}]} for i in range(n_servers)],
        "cloud": {"hosts": 1 if cloud_vms else 0, "vms_per_host": cloud_vms, "cores": 1, "mips": 1000.0},
        "network": {"wlan_mbps": 100.0, "wan_mbps": 10.0}, "mobility": {"mean_dwell_s": [1e9]},
        "orchestrator_policies": ["NEXT_FIT"], "simulation_scenarios": ["SINGLE_TIER"],
    }
    return validate_ecs_scenario(data)


def _workload(t, length, dev=None, ap=None, n_dev=2):
    t = np.asarray(t, float)
    n = t.size
    dev = np.zeros(n, np.int64) if dev is None else np.asarray(dev, np.int64)
    z = np.zeros(0)
    return Workload(env=np.zeros(n, np.int64), device=dev, app=np.zeros(n, np.int64), t_arr=t,
                    length_mi=np.asarray(length, float), up_kb=np.zeros(n), down_kb=np.zeros(n), due_s=np.full(n, np.inf),
                    dev_app=np.zeros((1, n_dev), np.int64), init_ap=np.asarray(ap if ap is not None else [[0] * n_dev]),
                    envs=((n_dev, 0),), move_t=z, move_env=z.astype(np.int64), move_dev=z.astype(np.int64),
                    move_ap=z.astype(np.int64))


def test_processor_sharing_is_exact():
    # one VM, 1 core of 1000 MIPS: A (1000 MI) and B (2000 MI) at 0, C (500 MI) at 1 s
    sc = _tiny([(1, 1000.0)])
    sim = EcsSim(sc, _workload([0.0, 0.0, 1.0], [1000, 2000, 500], dev=[0, 1, 0]), [Mode.ecs("SINGLE_TIER/NEXT_FIT")]).run()
    # [0,1): A and B at 500 MIPS; then 3 tasks at 333 MIPS: A and C end at 2.5 s; B alone ends at 3.5 s
    np.testing.assert_allclose(sim.t_pe, [2.5, 3.5, 2.5])
    np.testing.assert_allclose(sim.t_end, [2.5, 3.5, 2.5])
    assert (sim.status == DONE).all()


def test_two_cores_per_core_cap():
    # 2 cores of 1000 MIPS: one task alone gets one core (1000 MIPS), not the whole VM
    sc = _tiny([(2, 1000.0)])
    sim = EcsSim(sc, _workload([0.0, 0.0, 0.0], [1000, 1000, 1000], dev=[0, 1, 0]), [Mode.ecs("SINGLE_TIER/NEXT_FIT")]).run()
    np.testing.assert_allclose(sim.t_pe, [1.5, 1.5, 1.5])  # 3 tasks share 2 cores: 666.7 MIPS each


@pytest.mark.parametrize("orch, expected", [
    ("SINGLE_TIER/NEXT_FIT", [0, 1, 2, 0, 1, 2, 0, 1, 2, -1]),
    ("SINGLE_TIER/FIRST_FIT", [0, 0, 0, 1, 1, 1, 2, 2, 2, -1]),
    ("SINGLE_TIER/WORST_FIT", [0, 1, 2, 0, 1, 2, 0, 1, 2, -1]),
    ("SINGLE_TIER/BEST_FIT", [0, 0, 0, 1, 1, 1, 2, 2, 2, -1]),
])
def test_vm_policies_one_task_at_a_time(orch, expected):
    # 3 VMs, tasks every second that never end within the test, 30 % each: 3 per VM, then full
    sc = _tiny([(1, 1000.0)] * 3)
    sim = EcsSim(sc, _workload(np.arange(10.0), [1e7] * 10), [Mode.ecs(orch)])
    sim.horizon = 11.0
    for _ in range(int(11 / sim.dt)):
        sim.step()
    got = np.where(sim.status == FAILED, -1, sim.vm)
    assert got.tolist() == expected
    assert sim.reason[9] == 0  # vm_capacity


def test_edge_orchestrator_next_fit_round_robins_servers():
    sc = _tiny([(1, 1000.0)] * 2, n_servers=3)
    sim = EcsSim(sc, _workload(np.arange(7.0), [1e7] * 7, ap=[[0, 0]]), [Mode.ecs("TWO_TIER_WITH_EO/NEXT_FIT")])
    for _ in range(int(8 / sim.dt)):
        sim.step()
    # servers 0,1,2 (VMs 0,2,4) then their second VMs, then the first again
    assert sim.vm.tolist() == [0, 2, 4, 1, 3, 5, 0]
    sim2 = EcsSim(sc, _workload(np.arange(7.0), [1e7] * 7, ap=[[0, 0]]), [Mode.ecs("TWO_TIER/NEXT_FIT")])
    for _ in range(int(8 / sim2.dt)):
        sim2.step()
    assert sim2.vm.tolist() == [0, 1, 0, 1, 0, 1, -1]  # without the orchestrator: the local server only


def test_mm1_parameters_and_delays_follow_edgecloudsim():
    p = mm1_parameters(sample_app1())
    assert p["wlan_mean_s"] == pytest.approx(5.4)
    assert p["wan_mean_s"] == pytest.approx(62.7)  # EdgeCloudSim's running-sum arithmetic
    assert p["avg_in_kb"] == pytest.approx(301.875) and p["avg_out_kb"] == pytest.approx(165.375)
    sc = sample_app1(minutes=4)
    sim = _sim(sc, [Mode.ecs("TWO_TIER/NEXT_FIT")], [(100, 0)])
    n = np.array([0, 50, 100])
    mu = 200e6 / 8 / 301875.0
    np.testing.assert_allclose(sim._lut[0, n], 1.0 / (mu - n / 5.4))
    mu_wan = 15e6 / 8 / 301875.0
    np.testing.assert_allclose(sim._lut[2, n], 1.0 / (mu_wan - n / 62.7) + 0.1)
    # beyond the 5 s threshold, or unstable, a transfer fails (inf)
    n_fail = int(np.ceil((mu_wan - 1.0 / 4.9) * 62.7))
    assert np.isinf(_sim(sample_app1(minutes=4), [Mode.ecs("TWO_TIER/NEXT_FIT")], [(n_fail + 5, 0)])._lut[2, n_fail + 1])


def test_deterministic_and_independent_of_the_batch():
    sc = _small()
    modes = [Mode.ecs(o) for o in ("SINGLE_TIER/NEXT_FIT", "TWO_TIER/RANDOM_FIT", "TWO_TIER_WITH_EO/NEXT_FIT")]
    a = env_figures(_sim(sc, modes, [(80, 0), (20, 0), (50, 1)]))
    b = env_figures(_sim(sc, modes, [(80, 0), (20, 0), (50, 1)]))
    assert _same(a, b)
    alone = env_figures(_sim(sc, modes[1:2], [(50, 1)]))
    assert _same(alone[0], a[1 * 3 + 2])  # mode 1, env 2 of the batch
    c = env_figures(_sim(sc, modes, [(80, 0), (20, 0), (50, 1)], seed=7))
    assert not _same(c, a)


def test_runner_jobs_give_the_same_results():
    sc = _small()
    one = run_ecs(sc, devices=[30, 60], jobs=1)
    two = run_ecs(sc, devices=[30, 60], jobs=2)
    assert _same(one.to_json()["figures"], two.to_json()["figures"])
    assert one.columns == sc.orchestrators()


def test_runner_with_mecoffload_policies():
    sc = import_folder(FIX / "ecs_eo")[0]
    res = run_ecs(sc, ["least-utilized", "ecs:TWO_TIER/BEST_FIT"], devices=[30])
    assert res.columns[-2:] == ["least-utilized", "ecs:TWO_TIER/BEST_FIT"]
    for col in res.columns:
        f = res.figures[col][30]
        assert f["tasks"] > 0 and 0 <= f["failed_pct"] <= 100
    with pytest.raises(Exception, match="unknown tier policy"):
        run_ecs(sc, ["no-such-policy"], devices=[30])


def test_ecs_orchestrator_as_a_tier_policy():
    from mecoffload.ecs.orchestrators import register_tier_policies
    from mecoffload.tiers.evaluate import run_tier_policy

    register_tier_policies()
    tsc = _small().to_tier_scenario(20).with_overrides({"sim.horizon_s": 60.0, "sim.warmup_s": 10.0})
    m, _ = run_tier_policy(tsc, "ecs:TWO_TIER_WITH_EO/NEXT_FIT", seeds=1)  # checks the accounting too
    assert m["tasks"] > 0 and 0 <= m["failure_pct"] <= 100


def test_sample_app1_trends_match_edgecloudsim():
    """EdgeCloudSim's published sample_app1 behaviour: failures and service time grow with the
    device count; SINGLE_TIER fails most, the edge orchestrator least (scaled-down run)."""
    sc = sample_app1(devices=(200, 1000, 400), minutes=6)
    res = run_ecs(sc)
    fail = {c.split("/")[0]: [res.figures[c][n]["failed_pct"] for n in res.devices] for c in res.columns}
    svc = {c.split("/")[0]: [res.figures[c][n]["service_time_s"] for n in res.devices] for c in res.columns}
    for s in fail:
        assert fail[s][0] < fail[s][1] < fail[s][2], (s, fail[s])
    assert svc["SINGLE_TIER"][0] < svc["SINGLE_TIER"][1] < svc["SINGLE_TIER"][2]
    assert fail["SINGLE_TIER"][-1] > fail["TWO_TIER"][-1] > fail["TWO_TIER_WITH_EO"][-1]
    assert fail["SINGLE_TIER"][-1] == pytest.approx(48.6, abs=6)  # EdgeCloudSim: 48.6 % at 1000 devices
