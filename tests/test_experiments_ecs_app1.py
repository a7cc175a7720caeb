"""`experiment ecs-sample-app1` on a shortened run: files, finite values, and our failure trend
grows with the devices as EdgeCloudSim's does, with its scenario order at the largest count."""

from __future__ import annotations

import json

import pytest

from mecoffload.experiments import ecs_sample_app1 as app1

SHORT = {"devices": [200, 1000, 400], "minutes": 6, "seeds": 1, "jobs": 1}


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    out = tmp_path_factory.mktemp("app1")
    return out, app1.run("small", out, 0, False, overrides=SHORT)


def test_files_and_finite_values(short):
    out, doc = short
    for f in ["app1_headline.md", "app1_headline.csv", "app1_compare.csv", "app1_summary.md", "app1_summary.csv",
              "app1_trends.md", "app1_vs_edgecloudsim.png", "report.md", "results.json"]:
        assert (out / f).stat().st_size > 0, f

    def bad(c):
        raise ValueError(c)

    assert json.loads((out / "results.json").read_text(), parse_constant=bad) == doc
    assert doc["devices"] == [200, 600, 1000] and not doc["comparable"]
    assert doc["published"]["SINGLE_TIER"]["failed_pct"] == [6.875, 24.749, 48.561]
    assert "(48.56)" in (out / "app1_headline.md").read_text()  # EdgeCloudSim's SINGLE_TIER at 1000 devices
    assert "not a comparison" in (out / "report.md").read_text()


def test_failures_grow_with_devices_as_in_edgecloudsim(short):
    _, doc = short
    for scn, figs in doc["ours"].items():
        f = figs["failed_pct"]
        assert f[0] < f[1] < f[2], (scn, f)
    assert all(t["agrees"] == "yes" for t in doc["trends"]), doc["trends"]
    assert doc["ours"]["SINGLE_TIER"]["failed_pct"][-1] == pytest.approx(48.6, abs=6)


def test_relative_difference():
    long, summary = app1.compare([100, 200], {"S": {f: [2.0, 4.0] for f in app1.REFERENCE_FIELDS}},
                                 {"S": {f: [1.0, 0.0] for f in app1.REFERENCE_FIELDS}})
    assert long[0][3:] == [2.0, 1.0, 1.0, 100.0] and long[1][-1] is None  # published 0: no relative difference
    assert summary[0][0] == "S" and summary[0][3] == pytest.approx(2.5) and summary[0][4] == pytest.approx(100.0)
