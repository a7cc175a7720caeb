"""`experiment realized` on a tiny budget: every output is written, both cost models appear, the
winners are what the table says, and the JSON has no NaN."""

import json

from mecoffload.experiments.realized import run, winners

TINY = {"episodes": 2, "users": [4, 10], "rates": [0.3, 0.6], "servers": [], "bursty": None, "ga": None,
        "set": ["sim.horizon_slots=20"]}


def test_realized_experiment_tiny(tmp_path):
    doc = run("small", tmp_path, 0, False, overrides=TINY)
    for name in ("table.md", "table.csv", "winners.md", "heatmaps.png", "scatter.png", "report.md", "results.json"):
        assert (tmp_path / name).exists(), name
    assert doc["points"] == ["U=4 λ=0.3", "U=4 λ=0.6", "U=10 λ=0.3", "U=10 λ=0.6"]
    per = doc["results"]["U=10 λ=0.6"]
    for row in ("oracle[paper]", "oracle[queue]", "oracle[queue+reject]", "lacs[paper]", "lacs[queue]", "nearest"):
        assert row in per
    assert per["oracle[queue+reject]"]["drops_rejected"] > 0
    assert per["oracle[paper]"]["AL_paper_slots"] == per["oracle[paper]"]["AL_slots"]
    for pt, w in doc["winners"].items():
        m = doc["results"][pt]
        assert (w["estimated"], w["realized"]) == winners(m)
        assert m[w["realized"]]["realized_drop_pct"] == min(r["realized_drop_pct"] for r in m.values())
        assert m[w["estimated"]]["AL_paper_slots"] == min(r["AL_paper_slots"] for r in m.values())
    text = (tmp_path / "results.json").read_text()
    assert "NaN" not in text and json.loads(text)["experiment"] == "realized"
