"""launch.run_video end to end on a short generated clip, and its errors for bad inputs."""

import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from blazepose.train import config as config_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIFT_PX = 10
FRAMES = 6


def _run(*args):
    return subprocess.run([sys.executable, "-m", "launch.run_video", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """6 frames, 320x240 at 10 FPS: the sample photo (128 px) moving right 10 px a frame."""
    from blazepose import samples

    photo = cv2.imread(str(samples.fetch_sample("astronaut")), cv2.IMREAD_COLOR)
    small = cv2.resize(photo, (128, 128), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp("clip") / "moving.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (320, 240))
    for index in range(FRAMES):
        frame = np.full((240, 320, 3), 90, np.uint8)
        x = 20 + SHIFT_PX * index
        frame[112:240, x:x + 128] = small
        writer.write(frame)
    writer.release()
    return path


def test_writes_annotated_video_and_json_that_follow_the_person(clip, tmp_path):
    output, output_json = tmp_path / "out.mp4", tmp_path / "out.json"
    result = _run(f"--input={clip}", f"--output={output}", f"--output_json={output_json}",
                  "--mask_overlay", "--show")
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(rf"video: 100%.* {FRAMES}/{FRAMES} .*[\d.]+(frame/s|s/frame)",
                     result.stderr), result.stderr[-3000:]  # tqdm's line reached the end
    assert "--show ignored" in result.stderr  # no display here: a message, not a failure
    record = json.loads(output_json.read_text())
    assert set(record) == {"schema", "fps", "width", "height", "frames", "warnings"}
    assert record["warnings"] == [] and "WARNING" not in result.stderr  # an intact clip
    assert (record["fps"], record["width"], record["height"]) == (10.0, 320, 240)
    frames = record["frames"]
    assert [f["index"] for f in frames] == list(range(FRAMES))
    np.testing.assert_allclose([f["time_s"] for f in frames], np.arange(FRAMES) / 10.0)
    for frame in frames:
        assert set(frame) == {"index", "time_s", "landmarks", "world_landmarks"}
        assert np.array(frame["landmarks"]).shape == (33, 5)
        assert np.array(frame["world_landmarks"]).shape == (33, 3)
    nose = np.array([f["landmarks"][0][:2] for f in frames])
    assert np.all((nose[:, 1] > 112) & (nose[:, 1] < 112 + 64)), "nose in the photo's top half"
    # The nose follows the 10-pixel steps (smoothing lags a little behind a moving person).
    steps = np.diff(nose[:, 0])
    assert np.all(steps > 4) and abs(np.mean(steps) - SHIFT_PX) < 3, steps
    video = cv2.VideoCapture(str(output))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    ok, first = video.read()
    assert ok and first.shape == (240, 320, 3)
    # Annotation changed the picture (skeleton, mask tint, FPS text).
    original = cv2.VideoCapture(str(clip))
    _, source = original.read()
    assert np.abs(first.astype(int) - source.astype(int)).mean() > 1.0


def test_an_unreadable_input_is_named_before_any_work(tmp_path):
    """(Missing paths, bad images and folders: tests/inference/test_video.py, in-process.)"""
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video")
    result = _run(f"--input={broken}", f"--output={tmp_path / 'b.mp4'}",
                  f"--output_json={tmp_path / 'b.json'}")
    assert result.returncode != 0
    assert f"--input {broken}: not a readable video" in result.stderr
    assert "XNNPACK" not in result.stderr, "no model was loaded"
    assert not (tmp_path / "b.mp4").exists() and not (tmp_path / "b.json").exists()


@pytest.fixture(scope="module")
def google_run(make_run):
    """Google's weights saved as a run of the default preset (as a fine-tune starts)."""
    return make_run(config_lib.get_preset("default"), best=4)


def test_a_training_run_replaces_the_landmark_model(google_run, clip, tmp_path):
    """--model_dir: the run's network runs beside Google's detector."""
    run = google_run
    output_json = tmp_path / "run.json"
    result = _run(f"--input={clip}", f"--model_dir={run}", f"--output_json={output_json}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"landmark model: {run}'s best checkpoint {run / 'best' / 'ckpt-4'} (step 4)" in \
        result.stderr
    frames = json.loads(output_json.read_text())["frames"]
    assert len(frames) == FRAMES and all(f["landmarks"] is not None for f in frames)
    nose = np.array([f["landmarks"][0][:2] for f in frames])
    assert np.all((nose[:, 1] > 112) & (nose[:, 1] < 112 + 64)), "nose in the photo's top half"


def test_a_run_directory_is_checked_before_any_work(clip, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _run(f"--input={clip}", f"--model_dir={empty}")
    assert result.returncode != 0 and f"--model_dir {empty} has no config.json" in result.stderr
    result = _run(f"--input={clip}", f"--model_dir={empty}", "--landmark_model=x.tflite")
    assert result.returncode != 0
    assert "at most one of --model_dir and --landmark_model" in result.stderr


def test_count_reps_runs_a_training_run_on_a_video(launch, google_run, clip, tmp_path):
    result = launch("count_reps", f"--input={clip}", "--exercise=squat", "--format=json",
                    f"--model_dir={google_run}", "--checkpoint=latest")
    assert result.returncode != 0 and f"{google_run} has no checkpoint" in result.stderr
    result = launch("count_reps", f"--input={clip}", "--exercise=squat", "--format=json",
                    f"--model_dir={google_run}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["exercise"] == "squat"
    track = tmp_path / "track.json"
    track.write_text(json.dumps({"fps": 10.0, "width": 320, "height": 240, "frames": []}))
    result = launch("count_reps", f"--input={track}", "--exercise=squat",
                    f"--model_dir={google_run}")
    assert result.returncode != 0 and "--model_dir applies to video input" in result.stderr
