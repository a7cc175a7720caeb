"""The two rankings of every evaluation report: by the estimate (AL) and by what users got
(realized drop %, then realized mean), every policy listed."""

from __future__ import annotations

from mecoffload.eval.report import ranking_lines, rankings


def metrics(n: int) -> dict[str, dict]:
    # AL rises with i; realized drops fall with i (ties on drops broken by the realized mean)
    return {f"p{i}": {"AL_slots": 1.0 + i, "realized_drop_pct": float(n - i) // 2, "realized_mean_s": 0.5 - 0.01 * i}
            for i in range(n)}


def test_rankings_order_by_estimate_and_by_realized_outcome():
    m = metrics(15)
    m["dead"] = {"AL_slots": 0.5, "realized_drop_pct": 100.0, "realized_mean_s": None}  # nothing completed
    by_al, by_real = rankings(m)
    assert by_al[:3] == ["dead", "p0", "p1"]
    assert by_real[0] == "p14" and by_real[1] == "p13" and by_real[-1] == "dead"
    assert sorted(by_al) == sorted(by_real) == sorted(m)


def test_ranking_lines_list_every_policy():
    m = metrics(15)
    lines = ranking_lines(m, "queue")
    assert "cost model 'queue'" in lines[0] and len(lines) == 2 + 15
    assert lines[2].startswith("| 1 | p0 (") and "| p14 (" in lines[2]
    assert lines[-1].startswith("| 15 | p14 (") and "| p0 (" in lines[-1]
