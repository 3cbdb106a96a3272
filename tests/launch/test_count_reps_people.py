"""launch.count_reps --track_id on a several-people track (run_video --max_people's JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from blazepose import track_file
from blazepose.synthesis.tracks import NO_DEGRADATIONS, synthetic_recording

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launch.count_reps", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


class _Pose:
    def __init__(self, track_id, landmarks, world):
        self.track_id, self.landmarks, self.world_landmarks = track_id, landmarks, world


@pytest.fixture(scope="module")
def class_track(tmp_path_factory):
    """Two people squatting side by side: track 4 does 4 squats, track 9 does 2."""
    tracks = {}
    for track_id, reps, seed in ((4, 4, 5), (9, 2, 6)):
        tracks[track_id] = synthetic_recording(np.random.default_rng(seed), "squat", reps,
                                               NO_DEGRADATIONS, clean=True).track
    longest = max(tracks.values(), key=lambda t: t.num_frames)
    records = []
    for index in range(longest.num_frames):  # a person absent after their set ends
        people = [_Pose(k, t.landmarks[index], t.world_landmarks[index])
                  for k, t in tracks.items() if index < t.num_frames and t.has_pose[index]]
        records.append(track_file.people_record(index, longest.times[index], people))
    path = tmp_path_factory.mktemp("track") / "class.json"
    track_file.write_track(path, track_file.track_document(longest.fps, 640, 480, records))
    return path, {4: 4, 9: 2}


def test_one_person_and_all_people_are_counted(class_track):
    path, counts = class_track
    result = _run(f"--input={path}", "--exercise=squat", "--track_id=9", "--format=json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["count"] == counts[9]
    result = _run(f"--input={path}", "--exercise=squat", "--track_id=all", "--format=json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert {line["track_id"]: line["count"] for line in lines} == counts
    result = _run(f"--input={path}", "--exercise=squat", "--track_id=all")
    assert result.stdout.strip().splitlines()[0].startswith(f"track 4: squat: {counts[4]} reps")


@pytest.mark.parametrize("value, fragment", [
    ("7", "no person with track_id 7; the file holds track ids [4, 9]"),
    ("first", "--track_id 'first': expected a track id"),
])
def test_bad_track_ids_are_named(class_track, value, fragment):
    result = _run(f"--input={class_track[0]}", "--exercise=squat", f"--track_id={value}")
    assert result.returncode != 0 and fragment in result.stderr, result.stderr


def test_track_id_needs_a_json_track(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not really a video")
    result = _run(f"--input={video}", "--exercise=squat", "--track_id=1")
    assert result.returncode != 0 and "--track_id applies to a JSON track" in result.stderr
