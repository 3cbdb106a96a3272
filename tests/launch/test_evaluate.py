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
