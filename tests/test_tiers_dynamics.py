"""Three-tier engine: hand-checked processor sharing, network delays, admission, failures,
determinism and common random numbers."""

from __future__ import annotations

import numpy as np
import pytest

from mecoffload.tiers.dynamics import DONE, FAILED, R_BW, R_DEADLINE, R_MOBILITY, R_VM, TierSim
from mecoffload.tiers.config import load_tier_scenario
from mecoffload.tiers.evaluate import run_tier_policy
from mecoffload.tiers.metrics import check_accounting, env_metrics
from mecoffload.tiers.workload import Layout, generate, make_envs

from tiers_helpers import Fixed, scenario, workload

RNG = np.random.default_rng(0)


def run(sc, wl, policy):
    sim = TierSim(sc, workload=wl)
    sim.run(policy, np.random.default_rng(0))
    check_accounting(sim)
    return sim


def test_single_task_network_and_processing_exact():
    # 1000 KB up = 8 Mbit at 80 Mbps = 0.1 s; 500 KB down = 0.05 s; 10,000 MI at 10,000 MIPS = 1 s
    sc = scenario(edge_vms=(dict(count=1, cores=2, mips=10_000.0),))
    sim = run(sc, workload(sc, [(0.03, 0, 0, 10_000.0, 1000.0, 500.0)]), Fixed(0))
    assert sim.status[0] == DONE
    assert sim.t_disp[0] == pytest.approx(0.03)
    assert sim.t_ready[0] == pytest.approx(0.13)
    assert sim.t_pe[0] == pytest.approx(1.13)
    assert sim.t_end[0] == pytest.approx(1.18)
    m = env_metrics(sim, 0)
    assert m["network_delay_s"] == pytest.approx(0.15)
    assert m["processing_time_s"] == pytest.approx(1.0)
    assert m["service_time_s"] == pytest.approx(1.15)
    assert m["tier_local_edge_pct"] == 100.0


def test_processor_sharing_with_arrival_inside_a_slot():
    # 1-core VM at 1000 MIPS; A (1000 MI) alone on [0, 0.55) does 550 MI, then A and B share 500 MIPS each:
    # A needs 0.9 s more (ends at 1.45), B has 550 MI left then and ends at 2.0
    sc = scenario()
    sim = run(sc, workload(sc, [(0.0, 0, 0, 1000.0, 0, 0), (0.55, 1, 0, 1000.0, 0, 0)]), Fixed(0))
    assert sim.t_pe[0] == pytest.approx(1.45)
    assert sim.t_pe[1] == pytest.approx(2.0)


@pytest.mark.parametrize("n, finish", [(1, 1.0), (2, 1.0), (3, 1.5), (4, 2.0)])
def test_time_shared_scheduler_caps_a_task_at_one_core(n, finish):
    # CloudSim time-shared: each 1-core task gets min(one core, 2 cores / n)
    sc = scenario(edge_vms=(dict(count=1, cores=2, mips=1000.0),))
    sim = run(sc, workload(sc, [(0.0, i % 2, 0, 1000.0, 0, 0) for i in range(n)]), Fixed(0))
    np.testing.assert_allclose(sim.t_pe, finish)


def test_admission_by_utilisation_c3():
    # each task needs 60 % of a VM: the second concurrent one is refused by VM 0 ...
    apps = [dict(name="a", usage_pct=100, interarrival_s=1, delay_sensitivity=0.5, upload_kb=0, download_kb=0,
                 length_mi=1000, vm_util_edge_pct=60, vm_util_cloud_pct=60, size_dist="fixed")]
    sc = scenario(edge_vms=(dict(count=2, cores=1, mips=1000.0),), apps=apps)
    tasks = [(0.0, 0, 0, 1000.0, 0, 0), (0.01, 1, 0, 1000.0, 0, 0)]
    sim = run(sc, workload(sc, tasks), Fixed(0))
    assert sim.status[0] == DONE and sim.status[1] == FAILED and sim.reason[1] == R_VM
    # ... a policy that looks at feasibility puts it on VM 1
    sim = run(sc, workload(sc, tasks), Fixed([0, 1]))
    assert (sim.status == DONE).all() and sim.vm[1] == 1
    assert sim.util_res == pytest.approx(0.0, abs=1e-9)


def test_c3_derived_requirement():
    # no explicit utilisation: 100·L / (T_max · core MIPS) = 100·1000 / (2 · 1000) = 50 %
    apps = [dict(name="a", usage_pct=100, interarrival_s=1, delay_sensitivity=0.5, upload_kb=0, download_kb=0,
                 length_mi=1000, deadline_s=2.0, size_dist="fixed")]
    sc = scenario(apps=apps)
    lay = Layout.from_scenario(sc)
    assert lay.required_util(np.array([0]), np.array([1000.0]), np.array([2.0]))[0, 0] == pytest.approx(50.0)


def test_deadline_abort_frees_the_vm():
    apps = [dict(name="a", usage_pct=100, interarrival_s=1, delay_sensitivity=0.5, upload_kb=0, download_kb=0,
                 length_mi=2000, deadline_s=1.0, vm_util_edge_pct=10, vm_util_cloud_pct=10, size_dist="fixed")]
    sc = scenario(apps=apps)
    sim = run(sc, workload(sc, [(0.0, 0, 0, 2000.0, 0, 0), (1.5, 1, 0, 500.0, 0, 0)]), Fixed(0))
    assert sim.status[0] == FAILED and sim.reason[0] == R_DEADLINE and sim.t_end[0] == pytest.approx(1.0)
    assert sim.status[1] == DONE and sim.t_pe[1] == pytest.approx(2.0)  # alone on the VM


def test_mobility_fails_edge_tasks_not_cloud_tasks():
    sc = scenario(n_servers=2, cloud_vms=(dict(count=1, cores=1, mips=1000.0),), mobility={"model": "nomadic"})
    # device 0 moves from access point 0 to 1 at t = 0.5, before either result is back
    wl = workload(sc, [(0.0, 0, 0, 1000.0, 10.0, 10.0), (0.01, 0, 0, 1000.0, 10.0, 10.0)], init_ap=[0, 0], moves=[(0.5, 0, 1)])
    lay = Layout.from_scenario(sc)
    cloud_vm = int(np.flatnonzero(lay.vm_cloud)[0])

    class Split(Fixed):
        def act(self, obs, rng):
            return np.where(obs.task == 0, 0, cloud_vm)

    sim = run(sc, wl, Split(0))
    assert sim.status[0] == FAILED and sim.reason[0] == R_MOBILITY
    assert sim.status[1] == DONE and sim.tier[1] == 2


def test_shared_wan_slows_and_fails_concurrent_transfers():
    # WAN 8 Mbps shared, fail above 1.5 s: 1000 KB = 8 Mbit -> 1 s alone, 2 s as the second transfer
    wan = {"model": "shared", "bandwidth_mbps": [8.0, 8.0], "fail_delay_s": 1.5, "propagation_s": 0.1}
    wlan = {"model": "per_task", "bandwidth_mbps": [1e5, 1e5]}
    sc = scenario(cloud_vms=(dict(count=1, cores=4, mips=1000.0),), wan=wan, wlan=wlan, network__cloud_via_wlan=False)
    sim = run(sc, workload(sc, [(0.0, 0, 0, 100.0, 1000.0, 0), (0.01, 1, 0, 100.0, 1000.0, 0)]), Fixed(1))
    assert sim.status[0] == DONE and sim.net_up[0] == pytest.approx(1.1)
    assert sim.status[1] == FAILED and sim.reason[1] == R_BW


def test_remote_edge_route_adds_man():
    man = {"model": "per_task", "bandwidth_mbps": [40.0, 40.0], "propagation_s": 0.005, "scope": "global"}
    sc = scenario(n_servers=2, man=man)
    sim = run(sc, workload(sc, [(0.0, 0, 0, 1000.0, 1000.0, 0)], init_ap=[0, 0]), Fixed(1))  # VM 1 is on edge 1
    assert sim.tier[0] == 1
    assert sim.net_up[0] == pytest.approx(8 / 80 + 8 / 40 + 0.005)


def test_overflow_defers_then_places():
    sc = scenario()

    class DeferFirst(Fixed):
        defers = True

        def act(self, obs, rng):
            return np.full(len(obs), -1 if obs.t_now < 0.3 else 0)

    sim = run(sc, workload(sc, [(0.05, 0, 0, 1000.0, 0, 0)]), DeferFirst(0))
    assert sim.status[0] == DONE
    assert sim.t_disp[0] == pytest.approx(0.3)
    assert env_metrics(sim, 0)["waiting_time_s"] == pytest.approx(0.25)


def test_deterministic_and_batch_reproduces_single_runs():
    sc = load_tier_scenario("iot3tier", {"sim.horizon_s": 12.0, "sim.warmup_s": 2.0})
    lay = Layout.from_scenario(sc)
    wl = generate(sc, lay, make_envs(sc, 2, 5, [60, 120]))
    _, a = run_tier_policy(sc, "sonmez", workload=wl)
    _, b = run_tier_policy(sc, "sonmez", workload=generate(sc, lay, make_envs(sc, 2, 5, [60, 120])))
    for f in ("status", "reason", "vm", "t_end", "net_up", "t_pe"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    # environment (120 devices, seed 6) of the batch == a run of that environment alone
    _, single = run_tier_policy(sc, "sonmez", seeds=1, seed=6, devices=[120])
    k = a.envs.index((120, 6))
    m = a.wl.env == k
    np.testing.assert_array_equal(a.wl.t_arr[m], single.wl.t_arr)
    np.testing.assert_allclose(a.t_end[m], single.t_end)
    np.testing.assert_array_equal(a.reason[m], single.reason)


def test_every_policy_sees_the_same_tasks():
    sc = load_tier_scenario("iot3tier", {"sim.horizon_s": 8.0, "sim.warmup_s": 1.0})
    lay = Layout.from_scenario(sc)
    wl = generate(sc, lay, make_envs(sc, 1, 0, [80]))
    sims = [run_tier_policy(sc, p, workload=wl)[1] for p in ("random", "utilization-based", "oracle")]
    for s in sims:
        assert s.wl is wl and s.wl.n_tasks == wl.n_tasks
