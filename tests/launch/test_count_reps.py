"""launch.count_reps and launch.evaluate_counting as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from blazepose.analysis.counting import track_to_json
from blazepose.synthesis.tracks import NO_DEGRADATIONS, synthetic_recording

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def squat_track(tmp_path_factory):
    recording = synthetic_recording(np.random.default_rng(5), "squat", 4, NO_DEGRADATIONS,
                                    clean=True)
    path = tmp_path_factory.mktemp("track") / "squat.json"
    path.write_text(json.dumps(track_to_json(recording.track)))
    return path, recording


def test_json_and_text_output(squat_track):
    path, recording = squat_track
    result = _run("launch.count_reps", f"--input={path}", "--exercise=squat", "--format=json")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["exercise"] == "squat" and output["count"] == 4
    assert [set(rep) for rep in output["reps"]] == [{"start_s", "end_s"}] * 4
    starts = np.array([rep["start_s"] for rep in output["reps"]])
    np.testing.assert_allclose(starts, recording.intervals[:, 0], atol=0.5)
    result = _run("launch.count_reps", f"--input={path}", "--exercise=squat")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("squat: 4 reps (")


@pytest.mark.parametrize("args, fragment", [
    (["--exercise=squat"], "--input"),
    (["--input={missing}", "--exercise=squat"], "no such file"),
    (["--input={track}", "--exercise=burpee"], "--counter=knn"),
    (["--input={track}", "--exercise=squat", "--counter=knn"], "--samples"),
    (["--input={track}", "--exercise=squat", "--counter=knn", "--samples={missing}"],
     "not a directory"),
    (["--input={text}", "--exercise=squat"], ".json track or a video"),
    (["--input={track}", "--exercise=squat", "--format=xml"], "--format"),
])
def test_bad_flags_fail_before_any_work(tmp_path, squat_track, args, fragment):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    values = {"track": squat_track[0], "missing": tmp_path / "missing", "text": text}
    result = _run("launch.count_reps", *[a.format(**values) for a in args])
    assert result.returncode != 0
    assert fragment in result.stderr
    assert "tensorflow" not in result.stderr.lower()  # refused before the library loaded


def test_malformed_track_is_named(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"fps": 30, "frames": [{"time_s": 0, "landmarks": [[1, 2]]}]}))
    result = _run("launch.count_reps", f"--input={path}", "--exercise=squat")
    assert result.returncode != 0
    assert "broken.json: frame 0: 'landmarks'" in result.stderr


def test_a_track_without_any_pose_is_one_line_error_not_a_count_of_zero(tmp_path, squat_track):
    document = json.loads(squat_track[0].read_text())
    for frame in document["frames"]:
        frame["landmarks"] = frame["world_landmarks"] = None
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(document))
    result = _run("launch.count_reps", f"--input={path}", "--exercise=squat", "--format=json")
    assert result.returncode == 1 and result.stdout == ""
    assert f"launch.count_reps: error: {path}: no pose in any of its" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 3


def test_evaluate_counting_prints_a_table_and_a_json_line():
    result = _run("launch.evaluate_counting", "--sequences=2", "--exercises=squat,lunge",
                  "--counter=rule,knn", "--knn_train_sequences=2", "--seed=3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["counter", "exercise", "sequences"]
    summary = json.loads(lines[-1])
    for counter in ("rule", "knn"):
        for exercise in ("squat", "lunge"):
            figures = summary["results"][counter][exercise]
            assert figures["sequences"] == 2
            assert 0.0 <= figures["exact_rate"] <= 1.0 and figures["mae"] >= 0.0
    bad = _run("launch.evaluate_counting", "--exercises=burpee")
    assert bad.returncode != 0 and "--exercises" in bad.stderr


def test_frames_a_damaged_video_loses_are_warnings_of_its_track(tmp_path):
    """count_reps on a video reads it as run_video does: frames the container declares but
    that do not decode are reported, not silently left out."""
    cv2 = pytest.importorskip("cv2")
    from launch import count_reps

    path = tmp_path / "damaged.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for index in range(30):
        image = np.full((48, 64, 3), (index * 8) % 255, np.uint8)
        cv2.putText(image, str(index), (5, 40), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        writer.write(image)
    writer.release()
    intact = count_reps.track_from_video(str(path))
    assert len(intact.times) == 30 and not intact.warnings
    content = bytearray(path.read_bytes())
    start, length = len(content) // 3, len(content) // 4
    content[start:start + length] = (bytes(range(7, 256, 3)) * length)[:length]
    path.write_bytes(bytes(content))
    track = count_reps.track_from_video(str(path))
    assert len(track.times) < 30
    assert any("but the container declares 30" in warning for warning in track.warnings), \
        track.warnings
