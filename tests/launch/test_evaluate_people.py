"""launch.evaluate_people on a tiny generated set: the table, the JSON line, a video's tracks,
flag checks."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np

from blazepose.synthesis import crowd

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


def test_lists_the_tracks_of_a_video(tmp_path):
    clip = crowd.generate_clip(np.random.default_rng([0, 2, 0, 1]), 2, num_frames=8, seed=0)
    path = str(tmp_path / "two.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), clip.fps,
                             (clip.width, clip.height))
    for index in range(clip.num_frames):
        writer.write(cv2.cvtColor(crowd.render_frame(clip, index), cv2.COLOR_RGB2BGR))
    writer.release()
    result = _run("--clips=0", f"--video={path}", "--max_people=2")
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])["video"]
    assert figures["frames"] == 8
    assert sum(figures["people_per_frame"].values()) == 8
    tracks = figures["tracks"]
    assert 1 <= len(tracks) <= 2 and sorted(tracks) == [str(k) for k in range(len(tracks))]
    for track in tracks.values():
        assert 0 <= track["first"] <= track["last"] <= 7
        assert 1 <= track["frames"] <= track["last"] - track["first"] + 1
        assert 0 <= track["start_xy"][0] <= clip.width


def test_a_missing_video_is_named():
    result = _run("--clips=0", "--video=/nonexistent/clip.mp4")
    assert result.returncode != 0 and "--video" in result.stderr
    assert "/nonexistent/clip.mp4" in result.stderr
