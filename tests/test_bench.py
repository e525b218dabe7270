"""Smoke tests of the benchmark scripts (bench/run_bench.py, bench/stage_driver.py).

A 2-school generated cohort through ``run_bench --sizes 2 --quick`` (stages in one driver
process, then ``pipeline run``) with the rule coder, and the throughput driver in this
process on a handful of segments. Only the shape of what they write is checked, never a
timing.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import run_bench  # noqa: E402
import stage_driver  # noqa: E402


def _read(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_run_bench_quick_writes_stage_csv(tmp_path):
    out = tmp_path / "bench"
    rc = run_bench.main(["--sizes", "2", "--quick", "--rules", "--skip-throughput",
                         "--respondent-paragraphs", "8", "--out", str(out),
                         "--cohorts", str(tmp_path / "cohorts")])
    assert rc == 0
    assert (tmp_path / "cohorts" / "n2-s1-p8" / "cohort.yaml").is_file()
    columns, rows = _read(out / "stages.csv")
    assert columns == run_bench.STAGE_COLUMNS
    assert [r["stage"] for r in rows] == [*stage_driver.STAGES, "end_to_end"]
    for r in rows:
        assert r["size"] == "2" and r["rc"] == "0"
        assert float(r["wall_s"]) >= 0 and float(r["peak_tree_mb"]) > 0
        assert int(r["cpu_count"]) >= 1 and r["python"] and "spacy=" in r["versions"]
    assert int(rows[-1]["segments"]) > 0 and int(rows[-1]["staff"]) > 0
    columns, rows = _read(out / "throughput.csv")
    assert columns == run_bench.THROUGHPUT_COLUMNS and rows == []
    columns, rows = _read(out / "targets.csv")
    assert columns == run_bench.TARGET_COLUMNS and len(rows) == 6
    machine = json.loads((out / "machine.json").read_text())
    assert machine["cpu_count"] >= 1 and len(machine["loadavg"]) == 3
    assert machine["packages"]["spacy"] != "-"


@pytest.mark.parametrize("what", ["floor", "score"])
def test_throughput_driver(tmp_path, what):
    segs = tmp_path / "segments.csv"
    text = "De PLG heeft de toetsresultaten geanalyseerd en besproken met het team."
    with open(segs, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "context"])
        for i in range(40):
            w.writerow([f"s{i}", f"{text} Zin {i}.", "I: Wat deed de PLG?"])
    js = tmp_path / "r.json"
    extra = ["--rules"] if what == "score" else []
    assert stage_driver.main(["throughput", str(segs), "--what", what, "--jobs", "1",
                              "--json", str(js), *extra]) == 0
    result = json.loads(js.read_text())
    assert result["n"] == 40 and result["wall_s"] >= 0 and result["per_s"] > 0
    assert "cpu_s" in result


def test_targets_verdicts():
    stages = [{"size": n, "stage": s, "wall_s": w, "cpu_s": w, "load1": 0.1,
               "peak_tree_mb": 900.0, "maxrss_mb": 500.0}
              for n, s, w in [(100, "end_to_end", 20.0), (1000, "end_to_end", 250.0),
                              (1000, "network", 12.0)]]
    thr = [{"what": "floor", "backend": "token_batch", "segments_per_s": 20000.0,
            "n": 100000, "wall_s": 5.0, "load1": 0.1, "ratio_to_floor": 1.0},
           {"what": "score", "backend": "default", "segments_per_s": 8000.0, "n": 100000,
            "wall_s": 12.5, "load1": 0.1, "ratio_to_floor": 0.4},
           {"what": "cli", "backend": "default", "segments_per_s": 11000.0, "n": 100000,
            "wall_s": 9.1, "load1": 0.1, "ratio_to_floor": 0.55}]
    verdict = {t["target"]: t["holds"] for t in run_bench.targets(stages, thr)}
    assert list(verdict.values()) == [True, True, False, True, False, True]
    assert all(v is None for v in
               (t["holds"] for t in run_bench.targets([], [])))


def test_steady_state_writes_both_rates(tmp_path):
    import steady_state

    segments = tmp_path / "segments.csv"
    with open(segments, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "context"])
        for i in range(40):
            w.writerow([f"s{i}", f"We bespraken de toetsresultaten van klas {i}.",
                        "Wat deden jullie?"])
    out = tmp_path / "steady.csv"
    assert steady_state.main(["--segments", str(segments), "--jobs", "1", "--chunk", "16",
                              "--rounds", "2", "--out", str(out)]) == 0
    _, rows = _read(out)
    assert [(r["what"].split(":")[0], r["round"]) for r in rows] == [
        ("floor", "1"), ("score", "1"), ("floor", "2"), ("score", "2")]
    assert all(float(r["ratio_to_floor"]) == 1.0 for r in rows[::2])
    assert all(float(r["segments_per_s"]) > 0 for r in rows[1::2])
    assert steady_state.main(["--segments", str(tmp_path / "missing.csv")]) == 2
