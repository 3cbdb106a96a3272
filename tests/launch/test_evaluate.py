"""launch.evaluate: a run needs only --model_dir (its config.json describes it), which checkpoint
it evaluates (best, else latest), and --crops=detector.

Runs the program in a subprocess (absl flags are process-global) on the synthetic_pose/tiny
validation split (8 images), at most a couple of batches.
"""

from __future__ import annotations

import json
import shutil

import pytest


def _json_line(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def run_dir(lite_offset_run):
    """A Lite run with an offset head (config.json): best checkpoint step 3, latest step 5."""
    return lite_offset_run


def test_checkpoint_auto_is_best_then_latest(launch, run_dir, tmp_path):
    """--model_dir alone: the run's network, keypoints and validation data come from its
    config.json (the default full network would not restore); flags override the data."""
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    result = launch("evaluate", f"--model_dir={run}", "--batch_size=8")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"evaluating the best checkpoint {run / 'best' / 'ckpt-3'} (step 3)" in result.stdout
    assert _json_line(result.stdout)["num_examples"] == 8  # the tiny validation split

    result = launch("evaluate", f"--model_dir={run}", "--checkpoint=latest", "--split=train",
                    "--batch_size=8")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f"evaluating the latest checkpoint {run / 'checkpoints' / 'ckpt-5'} (step 5)"
            in result.stdout)
    assert _json_line(result.stdout)["num_examples"] == 16  # --split overrides the run's

    shutil.rmtree(run / "best")
    result = launch("evaluate", f"--model_dir={run}", "--checkpoint=auto", "--batches=1",
                    "--batch_size=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f"evaluating the latest checkpoint {run / 'checkpoints' / 'ckpt-5'} (step 5)"
            in result.stdout)
    assert _json_line(result.stdout)["num_examples"] == 2

    result = launch("evaluate", f"--model_dir={run}", "--checkpoint=best", "--batches=1")
    assert result.returncode != 0 and "has no best checkpoint" in result.stderr, \
        result.stderr[-3000:]


def test_checkpoint_prefix_unknown_value_and_other_preset(launch, run_dir, tmp_path):
    prefix = run_dir / "best" / "ckpt-3"
    result = launch("evaluate", f"--model_dir={run_dir}", f"--checkpoint={prefix}",
                    "--batches=1", "--batch_size=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"evaluating the given checkpoint {prefix} (step 3)" in result.stdout
    result = launch("evaluate", f"--model_dir={run_dir}", "--checkpoint=newest", "--batches=1")
    assert result.returncode != 0
    assert "--checkpoint=newest: not a checkpoint prefix" in result.stderr, result.stderr[-3000:]
    # A preset named explicitly replaces the run's config, and must be the run's network.
    result = launch("evaluate", f"--model_dir={run_dir}", "--preset=default", "--batches=1")
    assert result.returncode != 0
    assert "another architecture" in result.stderr and "model.variant: run 'lite'" in \
        result.stderr, result.stderr[-3000:]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = launch("evaluate", f"--model_dir={empty}", "--batches=1")
    assert result.returncode != 0 and f"{empty} has no config.json" in result.stderr, \
        result.stderr[-3000:]


def test_detector_crops_of_googles_model(launch, tfds_dir, tmp_path):
    model_dir = tmp_path / "google"
    common = [f"--model_dir={model_dir}", "--checkpoint=none", "--init_from=mediapipe_full",
              "--dataset=synthetic_pose/tiny", f"--data_dir={tfds_dir}"]
    gt = launch("evaluate", *common)
    assert gt.returncode == 0, gt.stderr[-3000:]
    detector = launch("evaluate", *common, "--crops=detector")
    assert detector.returncode == 0, detector.stderr[-3000:]

    line = _json_line(detector.stdout)
    assert line["crops"] == "detector" and line["num_examples"] == 8
    assert 0 <= line["detected"] <= 8
    assert f"found {line['detected']} of 8 people" in detector.stdout
    assert "over the detected ones only" in detector.stdout
    assert "LEFT_HIP" in detector.stdout  # the per-keypoint table
    # Misses fail every labelled keypoint: PCK over all records <= PCK over detected ones.
    if line["detected"]:
        assert line["pck@0.2"] <= line["pck@0.2_detected"]
        assert line["pck@0.2"] == pytest.approx(
            line["pck@0.2_detected"] * line["detected"] / 8)  # every record: 33 labelled
    assert _json_line(gt.stdout)["crops"] == "gt"

    # Both modes' reports are kept, each in its own file.
    written = json.loads((model_dir / "evaluation" / "evaluation_detector.json").read_text())
    assert written["crops"] == "detector" and written["detected"] == line["detected"]
    assert written["pck@0.2"] == pytest.approx(line["pck@0.2"])
    kept = json.loads((model_dir / "evaluation" / "evaluation.json").read_text())
    assert kept["crops"] == "gt" and "detected" not in kept


def test_tflite_export_scores_as_the_keras_network(launch, run_dir, tmp_path):
    """--tflite: the run's float32 TFLite export, on the run's validation crops, gives the
    Keras network's metrics; each report says which model it scored and both are kept."""
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    export = tmp_path / "export"
    exported = launch("export", f"--model_dir={run}", "--format=tflite", f"--output={export}",
                      "--noverify")
    assert exported.returncode == 0, exported.stderr[-3000:]
    tflite = export / "model.tflite"
    keras = launch("evaluate", f"--model_dir={run}", "--batch_size=4")
    assert keras.returncode == 0, keras.stderr[-3000:]
    lite = launch("evaluate", f"--model_dir={run}", "--batch_size=4", f"--tflite={tflite}")
    assert lite.returncode == 0, lite.stderr[-3000:]
    assert f"evaluating {tflite} (float32 input)" in lite.stdout

    ours, theirs = _json_line(lite.stdout), _json_line(keras.stdout)
    assert ours["model"] == str(tflite) and theirs["model"] == str(run / "best" / "ckpt-3")
    assert ours["num_examples"] == theirs["num_examples"] == 8
    assert ours["num_labelled_keypoints"] == theirs["num_labelled_keypoints"] > 0
    # Float32 in another runtime: only summation order differs (the metrics of other crops or
    # another decoding would differ by pixels).
    assert ours["mean_pixel_error"] == pytest.approx(theirs["mean_pixel_error"], abs=0.01)
    assert ours["pck@0.2"] == pytest.approx(theirs["pck@0.2"], abs=1e-9)
    assert ours["visibility_accuracy"] == pytest.approx(theirs["visibility_accuracy"], abs=0.02)

    written = json.loads((run / "evaluation" / "evaluation_tflite-model.json").read_text())
    assert written["model"] == str(tflite)
    assert written["mean_pixel_error"] == pytest.approx(ours["mean_pixel_error"])
    kept = json.loads((run / "evaluation" / "evaluation.json").read_text())
    assert kept["model"] == theirs["model"]


def test_googles_file_scores_as_the_import_of_its_weights(launch, tfds_dir, tmp_path):
    """Google's pose_landmark_full.tflite (outputs Identity, ...; flat landmarks) against our
    import of its weights, on the same crops."""
    from blazepose.pretrained import files

    google = files.fetch_model_file("full")
    common = [f"--model_dir={tmp_path / 'google'}", "--checkpoint=none",
              "--init_from=mediapipe_full", "--dataset=synthetic_pose/tiny",
              f"--data_dir={tfds_dir}"]
    keras = launch("evaluate", *common)
    assert keras.returncode == 0, keras.stderr[-3000:]
    lite = launch("evaluate", *common, f"--tflite={google}")
    assert lite.returncode == 0, lite.stderr[-3000:]
    ours, theirs = _json_line(lite.stdout), _json_line(keras.stdout)
    assert theirs["model"] == "--init_from=mediapipe_full" and ours["model"] == str(google)
    assert ours["num_examples"] == theirs["num_examples"] == 8
    assert ours["mean_pixel_error"] == pytest.approx(theirs["mean_pixel_error"], abs=0.05)
    assert ours["pck@0.2"] == pytest.approx(theirs["pck@0.2"], abs=0.01)

    detector = launch("evaluate", *common, "--crops=detector", f"--tflite={google}")
    assert detector.returncode == 0, detector.stderr[-3000:]
    line = _json_line(detector.stdout)
    assert line["crops"] == "detector" and line["model"] == str(google)
    assert line["num_examples"] == 8


def test_tflite_of_another_network_is_refused(launch, run_dir, tmp_path):
    """Google's person detector is no landmark network of the run: refused in one line naming
    the file and what differs; a file that is no TFLite model likewise."""
    from blazepose.pretrained import files

    detector = files.fetch_model_file("detector")
    result = launch("evaluate", f"--model_dir={run_dir}", "--batches=1",
                    f"--tflite={detector}")
    assert result.returncode != 0
    message = next(line for line in result.stderr.splitlines() if str(detector) in line)
    assert "input [1, 224, 224, 3], the network takes [1, 256, 256, 3]" in message, message
    assert "no landmarks, heatmap output (it has boxes, scores)" in message, message

    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"not a model")
    result = launch("evaluate", f"--model_dir={run_dir}", "--batches=1", f"--tflite={garbage}")
    assert result.returncode != 0
    assert any(line.startswith(f"--tflite={garbage}: ") for line in result.stderr.splitlines()), \
        result.stderr[-3000:]
