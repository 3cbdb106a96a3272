"""launch.evaluate_people on a tiny generated set: the table, the JSON line, flag checks."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args):
    return subprocess.run([sys.executable, "-m", "launch.evaluate_people", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_prints_a_table_and_the_figures_as_json():
    result = _run("--clips=1", "--frames=6", "--people=2", "--max_people=2")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["setting", "clips", "cross"]
    report = json.loads(lines[-1])
    assert report["max_people"] == 2
    apart, crossing = report["clips"]["2 people apart"], report["clips"]["2 people crossing"]
    assert apart["crossings"] == 0 and apart["switches_per_crossing"] is None
    assert crossing["crossings"] == 1
    for figures in (apart, crossing):
        assert figures["present"] > 0
        assert figures["misses"] <= figures["present"]
        assert 0.0 < figures["median_error_single"] < 0.2  # of the person's height
        assert 0 <= figures["people_within_error_ratio"] <= figures["people_compared"] <= 2


def test_bad_people_counts_are_refused():
    result = _run("--people=5")
    assert result.returncode != 0 and "--people" in result.stderr
