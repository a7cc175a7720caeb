"""Accounting property: on random small three-tier systems and policies, every generated task
ends exactly once (completed + failed by reason = generated) and every VM is empty at the end."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mecoffload.tiers.config import load_tier_scenario
from mecoffload.tiers.dynamics import DONE, FAILED, REASONS
from mecoffload.tiers.evaluate import run_tier_policy

POLICIES = ["random", "utilization-based", "flores", "flores:util", "sonmez", "almutairi", "least-utilized",
            "min-service", "mec:random", "oracle"]


@st.composite
def setups(draw):
    link = st.sampled_from(["per_task", "shared", "mm1"])
    lo = draw(st.floats(1.0, 50.0))
    ov = {
        "sim.horizon_s": draw(st.floats(2.0, 8.0)),
        "sim.warmup_s": 0.5,
        "sim.slot_s": draw(st.sampled_from([0.05, 0.1, 0.25])),
        "sim.max_drain_s": 120.0,
        "network.wlan.model": draw(link),
        "network.man.model": draw(link),
        "network.wan.model": draw(link),
        "network.wan.bandwidth_mbps": [lo, lo * draw(st.floats(1.0, 5.0))],
        "network.wan.fail_delay_s": draw(st.floats(0.2, 5.0)),
        "network.cloud_via_wlan": draw(st.booleans()),
        "admission.reserve_on_assign": draw(st.booleans()),
        "admission.abort_on_deadline": draw(st.booleans()),
        "overflow.max_wait_s": draw(st.floats(0.0, 2.0)),
        "overflow.max_tasks": draw(st.integers(0, 20)),
        "mobility.model": draw(st.sampled_from(["static", "nomadic"])),
        "mobility.mean_dwell_s": [draw(st.floats(0.5, 20.0))] * 3,
        "devices.arrival": draw(st.sampled_from(["app", "interval"])),
        "devices.interval_s": [0.5, 2.0],
    }
    if draw(st.booleans()):  # EdgeCloudSim-like apps: exponential sizes, no deadline, explicit VM utilisation
        for i, (ue, uc) in enumerate([(6, 0.6), (2, 0.2), (30, 3), (10, 1)]):
            ov[f"apps.{i}.deadline_s"] = None
            ov[f"apps.{i}.vm_util_edge_pct"] = ue
            ov[f"apps.{i}.vm_util_cloud_pct"] = uc
            ov[f"apps.{i}.size_dist"] = "exponential"
    sc = load_tier_scenario("iot3tier", ov)
    return sc, draw(st.integers(1, 60)), draw(st.sampled_from(POLICIES + ["dl-tier"])), draw(st.integers(0, 50))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups())
def test_every_task_accounted_for(setup):
    sc, devices, policy, seed = setup
    if policy == "dl-tier":
        from mecoffload.tiers.dlnet import DlTier

        policy = DlTier(sc, models=_tiny_models(sc))
    m, sim = run_tier_policy(sc, policy, seeds=2, seed=seed, devices=[devices])  # run_tier_policy checks accounting
    n = sim.wl.n_tasks
    done, failed = sim.status == DONE, sim.status == FAILED
    assert done.sum() + failed.sum() == n
    assert np.bincount(sim.reason[failed], minlength=len(REASONS)).sum() == failed.sum()
    assert (sim.reason[done] == -1).all()
    assert (sim.t_end >= sim.wl.t_arr - 1e-9).all()
    assert (sim.t_end[done] <= sim.wl.due_s[done] + 1e-9).all()
    assert np.all(sim.vms.jn == 0) and np.allclose(sim.util_res, 0, atol=1e-6) and np.allclose(sim.assigned, 0)
    assert np.allclose(sim.mem_res, 0, atol=1e-6) and np.allclose(sim.len_pending, 0, atol=1e-3)
    pct = m["failure_pct"]
    assert abs(pct - sum(m[f"fail_{r}_pct"] for r in REASONS)) < 1e-6


_MODELS = {}


def _tiny_models(sc):
    from mecoffload.tiers.dlnet import train_dl

    if "m" not in _MODELS:
        _MODELS["m"] = train_dl(sc, seed=0, samples=500, epochs=1, vm_samples=200, vm_epochs=1)
    return _MODELS["m"]
