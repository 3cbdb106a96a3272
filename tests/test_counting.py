"""Tests of blazepose.analysis.counting: rule counters, the k-NN counter, tracks and samples.

Recordings come from the synthetic exercise motion model through
``launch.evaluate_counting.synthetic_recording`` (known count and intervals); each test changes
one thing (jitter, a pause, a mirror, dropped frames) and checks the count.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from blazepose.analysis.counting import (
    EXERCISES,
    KnnRepCounter,
    LabelledSamples,
    NoPoseError,
    PoseTrack,
    RuleCounter,
    hysteresis_cycles,
    load_samples,
    load_track,
    track_from_json,
    track_to_json,
)
from blazepose.keypoints import flip_keypoints
from blazepose.synthesis.tracks import (
    NO_DEGRADATIONS,
    Degradations,
    evaluate,
    interval_iou,
    synthetic_recording,
)
from blazepose.topology import BLAZEPOSE_33


def clean_recording(exercise: str, num_reps: int, seed: int = 0, depth: str = "world"):
    rng = np.random.default_rng([seed, EXERCISES.index(exercise), num_reps])
    return synthetic_recording(rng, exercise, num_reps, NO_DEGRADATIONS, depth=depth, clean=True)


def replace_frames(track: PoseTrack, landmarks: np.ndarray, world: np.ndarray | None,
                   fps: float | None = None) -> PoseTrack:
    fps = fps or track.fps
    return PoseTrack(fps=fps, times=np.arange(len(landmarks)) / fps, landmarks=landmarks,
                     world_landmarks=world, width=track.width, height=track.height)


@pytest.mark.parametrize("exercise", EXERCISES)
@pytest.mark.parametrize("num_reps", [1, 4])
def test_each_exercise_counts_a_clean_recording(exercise, num_reps):
    recording = clean_recording(exercise, num_reps)
    result = RuleCounter(exercise).count(recording.track)
    assert result.count == num_reps
    assert interval_iou(recording.intervals, result.intervals) > 0.6


@pytest.mark.parametrize("exercise", ["squat", "pushup"])
def test_counts_without_depth(exercise):
    recording = clean_recording(exercise, 3, seed=4, depth="2d")
    assert recording.track.world_landmarks is None
    assert RuleCounter(exercise).count(recording.track).count == 3


def test_hysteresis_ignores_jitter_below_its_band():
    rng = np.random.default_rng(0)
    time = np.arange(400) / 30.0
    jitter = 0.18 * np.sin(2 * np.pi * 3.0 * time) + rng.uniform(-0.1, 0.1, time.shape)
    assert hysteresis_cycles(0.1 + jitter, 0.55, 0.25, 0.45) == []
    # Two real cycles with the same jitter on top still count two.
    cycles = np.clip(np.sin(np.pi * time / 3.0), 0, None) ** 2
    assert len(hysteresis_cycles(cycles + jitter, 0.55, 0.25, 0.45)) == 2


def test_standing_still_with_jitter_counts_nothing():
    recording = clean_recording("squat", 2)
    track = recording.track
    rng = np.random.default_rng(1)
    frames = track.num_frames
    rest = np.repeat(track.landmarks[:1], frames, axis=0)
    rest[..., :2] += rng.normal(0.0, 4.0, rest[..., :2].shape)  # pixels
    world = np.repeat(track.world_landmarks[:1], frames, axis=0)
    world += rng.normal(0.0, 0.01, world.shape)  # metres
    assert RuleCounter("squat").count(replace_frames(track, rest, world)).count == 0


@pytest.mark.parametrize("where", ["bottom", "rest"])
def test_pauses_do_not_count_twice(where):
    recording = clean_recording("pushup", 3, seed=2)
    track = recording.track
    depth = recording.clean_depth
    index = int(np.argmax(depth)) if where == "bottom" else int(np.argmin(
        np.abs(recording.track.times - recording.intervals[1, 0])))
    pause = int(3.0 * track.fps)  # three seconds held still, with jitter
    rng = np.random.default_rng(3)
    held = np.repeat(track.landmarks[index:index + 1], pause, axis=0)
    held[..., :2] += rng.normal(0.0, 3.0, held[..., :2].shape)
    held_world = np.repeat(track.world_landmarks[index:index + 1], pause, axis=0)
    held_world += rng.normal(0.0, 0.008, held_world.shape)
    landmarks = np.concatenate([track.landmarks[:index], held, track.landmarks[index:]])
    world = np.concatenate([track.world_landmarks[:index], held_world,
                            track.world_landmarks[index:]])
    assert RuleCounter("pushup").count(replace_frames(track, landmarks, world)).count == 3


@pytest.mark.parametrize("exercise", ["pushup", "lunge", "situp"])
def test_mirrored_view_counts_the_same(exercise):
    recording = clean_recording(exercise, 5, seed=5)
    track = recording.track
    mirrored = replace_frames(track, flip_keypoints(track.landmarks, track.width, BLAZEPOSE_33),
                              flip_keypoints(track.world_landmarks, 0.0, BLAZEPOSE_33))
    counter = RuleCounter(exercise)
    original, flipped = counter.count(track), counter.count(mirrored)
    assert original.count == flipped.count == 5
    np.testing.assert_allclose(np.array(original.intervals), np.array(flipped.intervals),
                               atol=0.15)


def test_dropped_frames_are_bridged_and_survive_json(tmp_path):
    recording = clean_recording("squat", 4, seed=6)
    track = recording.track
    rng = np.random.default_rng(7)
    landmarks, world = track.landmarks.copy(), track.world_landmarks.copy()
    for start in rng.choice(track.num_frames, track.num_frames // 12, replace=False):
        landmarks[start:start + 3] = np.nan  # runs of up to 0.1 s lost
        world[start:start + 3] = np.nan
    assert (~np.isfinite(landmarks[:, 0, 0])).mean() > 0.15
    degraded = replace_frames(track, landmarks, world)
    path = tmp_path / "track.json"
    path.write_text(json.dumps(track_to_json(degraded)))
    document = json.loads(path.read_text())
    assert sum(frame["landmarks"] is None for frame in document["frames"]) == int(
        (~np.isfinite(landmarks[:, 0, 0])).sum())
    loaded = load_track(path)
    assert RuleCounter("squat").count(loaded).count == 4


def test_json_result_schema():
    recording = clean_recording("jumping_jack", 3, seed=8)
    result = RuleCounter("jumping_jack").count(recording.track).to_json()
    assert set(result) == {"exercise", "count", "reps"}
    assert result["exercise"] == "jumping_jack" and result["count"] == 3
    assert len(result["reps"]) == 3
    previous_end = 0.0
    for rep in result["reps"]:
        assert set(rep) == {"start_s", "end_s"}
        assert previous_end <= rep["start_s"] < rep["end_s"] <= recording.track.times[-1]
        previous_end = rep["end_s"]
    json.dumps(result)  # plain JSON types only


@pytest.mark.parametrize("document, fragment", [
    ({"frames": []}, "'fps'"),
    ({"fps": 30, "frames": []}, "'frames'"),
    ({"fps": 30, "frames": [{"index": 0, "time_s": 0.0, "landmarks": [[0, 0, 0, 1, 1]] * 32}]},
     "frame 0: 'landmarks'"),
    ({"fps": 30, "frames": [{"time_s": 0.5, "landmarks": None},
                            {"time_s": 0.1, "landmarks": None}]}, "frame 1: 'time_s'"),
])
def test_malformed_tracks_name_the_problem(document, fragment):
    with pytest.raises(ValueError) as error:
        track_from_json(document, source="clip.json")
    assert "clip.json" in str(error.value) and fragment in str(error.value)


def _write_frame(path, landmarks: np.ndarray) -> None:
    path.write_text(json.dumps({"landmarks": np.round(landmarks, 2).tolist()}))


def front_view_recordings(exercise: str, count: int, first_seed: int, num_reps: int):
    """Clean recordings (image landmarks only) of people filmed from the front (+-25 deg)."""
    found, seed = [], first_seed
    while len(found) < count:
        recording = clean_recording(exercise, num_reps, seed=seed, depth="image")
        if abs(recording.facts["azimuth"]) <= 25.0:
            found.append(recording)
        seed += 1
    return found


def test_knn_counter_learns_from_a_folder_of_labelled_frames(tmp_path):
    """As MediaPipe's example is used: a few labelled frames of people doing the exercise in
    the same setup (filmed from the front), as single-frame JSON files (down/) and a CSV file
    (up.csv); then other people are counted."""
    folder = tmp_path / "samples"
    (folder / "down").mkdir(parents=True)
    rows = []
    for person, recording in enumerate(front_view_recordings("jumping_jack", 6, 100, 2)):
        points = recording.track.landmarks[..., :3]
        for number, frame in enumerate(np.nonzero(recording.clean_depth >= 0.8)[0][::3][:6]):
            _write_frame(folder / "down" / f"{person}_{number}.json", points[frame])
        for frame in np.nonzero(recording.clean_depth <= 0.05)[0][::6][:6]:
            rows.append([f"{person}_{frame}", *np.round(points[frame], 2).ravel()])
    with open(folder / "up.csv", "w", newline="") as file:
        csv.writer(file).writerows(rows)

    samples = load_samples(folder)
    assert samples.class_names == ("down", "up")
    assert samples.landmarks.shape[1:] == (33, 3)
    assert len(samples.labels) >= 48
    counter = KnnRepCounter(samples, "down")
    for reps in (3, 5):
        for recording in front_view_recordings("jumping_jack", 2, 300 + 10 * reps, reps):
            result = counter.count(recording.track, "jumping_jack")
            assert result.count == reps, recording.facts
            assert interval_iou(recording.intervals, result.intervals) > 0.4


def test_samples_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_samples(tmp_path / "nowhere")
    (tmp_path / "up").mkdir()
    _write_frame(tmp_path / "up" / "a.json", np.zeros((33, 3)))
    with pytest.raises(ValueError, match="at least two classes"):
        load_samples(tmp_path)
    (tmp_path / "down.csv").write_text("a,1,2,3\n")
    with pytest.raises(ValueError, match="down.csv: line 1"):
        load_samples(tmp_path)
    with pytest.raises(ValueError, match="counted class 'bottom'"):
        KnnRepCounter(load_samples_two_classes(tmp_path), "bottom")


def load_samples_two_classes(folder):
    (folder / "down.csv").write_text("a," + ",".join(["1"] * 99) + "\n")
    return load_samples(folder)


def test_unknown_exercise_for_the_rule_counter():
    with pytest.raises(ValueError, match="k-NN"):
        RuleCounter("burpee")


def test_small_accuracy_run_on_degraded_recordings():
    """10 degraded recordings per exercise (noise, drops, low visibility, legs out of view,
    speed changes, mirrors); the full figure is launch.evaluate_counting's job."""
    results = evaluate(EXERCISES, 10, seed=123, counters=("rule",),
                       degradations=Degradations())["rule"]
    for exercise, figures in results.items():
        assert figures["exact_rate"] >= 0.9, (exercise, figures)


# --- gaps, NaN frames, no pose (issue 21) -------------------------------------------------------


def test_a_long_stretch_without_a_pose_is_reported_and_never_bridged():
    recording = clean_recording("squat", 4, seed=6)
    track = recording.track
    landmarks, world = track.landmarks.copy(), track.world_landmarks.copy()
    # 2.8 s without a pose from the middle of the second repetition to the third one.
    first = int(np.searchsorted(track.times, recording.intervals[1].mean()))
    last = first + int(round(2.8 * track.fps))
    landmarks[first:last] = np.nan
    world[first:last] = np.nan
    result = RuleCounter("squat").count(replace_frames(track, landmarks, world))
    ((gap_start, gap_end),) = result.gaps
    assert gap_start == pytest.approx(track.times[first - 1])
    assert gap_end == pytest.approx(track.times[last])
    assert all(end <= gap_start or start >= gap_end for start, end in result.intervals), (
        result.intervals)
    assert "no pose from" in result.to_text() and result.to_json()["gaps"]
    # Gaps up to the limit are still bridged: nothing reported.
    short = landmarks.copy()
    short[first:last] = track.landmarks[first:last]
    short[first:first + int(0.3 * track.fps)] = np.nan
    assert RuleCounter("squat").count(replace_frames(track, short, None)).gaps == ()


def test_frames_holding_nan_are_frames_without_a_pose(tmp_path):
    recording = clean_recording("squat", 4, seed=6)
    document = track_to_json(recording.track)
    document["frames"][10]["landmarks"][5][0] = float("nan")  # json writes NaN, json reads it
    path = tmp_path / "track.json"
    path.write_text(json.dumps(document))
    loaded = load_track(path)
    assert not loaded.has_pose[10] and loaded.has_pose[11]
    (warning,) = loaded.warnings
    assert "1 frame(s) hold NaN" in warning and "frame 10" in warning
    result = RuleCounter("squat").count(loaded)
    assert result.count == 4 and result.warnings == (warning,)


@pytest.mark.parametrize("counter", ["rule", "knn"])
def test_no_pose_in_any_frame_is_an_error_not_a_count_of_zero(counter):
    recording = clean_recording("squat", 2)
    track = recording.track
    empty = replace_frames(track, np.full_like(track.landmarks, np.nan), None)
    with pytest.raises(NoPoseError, match=r"no pose in any of its \d+ frames"):
        if counter == "rule":
            RuleCounter("squat").count(empty)
        else:
            samples = LabelledSamples(track.landmarks[:4, :, :3], np.array([0, 0, 1, 1]),
                                      ("down", "up"))
            KnnRepCounter(samples).count(empty)
