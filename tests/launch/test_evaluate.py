"""launch.evaluate: which checkpoint it evaluates (best, else latest), and --crops=detector.

Runs the program in a subprocess (absl flags are process-global) on the synthetic_pose/tiny
validation split (8 images), at most a couple of batches.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _evaluate(*flags, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "launch.evaluate", *flags], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _json_line(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory) -> str:
    import tensorflow_datasets as tfds

    import datasets_tfds

    datasets_tfds.register_builders()
    directory = tmp_path_factory.mktemp("tfds")
    tfds.builder("synthetic_pose/tiny", data_dir=str(directory)).download_and_prepare()
    return str(directory)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tfds_dir) -> pathlib.Path:
    """A run of the default preset with a latest checkpoint (step 5) and a best one (step 3)."""
    from blazepose.train import config as config_lib
    from blazepose.train.trainer import Trainer

    config = config_lib.get_preset("default")
    config = dataclasses.replace(config, data=dataclasses.replace(
        config.data, datasets=("synthetic_pose/tiny",), data_dir=tfds_dir))
    directory = tmp_path_factory.mktemp("run")
    trainer = Trainer(config, directory, print_fn=lambda *_: None)
    trainer.step.assign(3)
    trainer.best_manager.save(checkpoint_number=3)
    (directory / "best.json").write_text(json.dumps({"step": 3, "pck": 0.5}))
    trainer.step.assign(5)
    trainer.manager.save(checkpoint_number=5)
    return directory


def _data_flags(tfds_dir):
    return ["--dataset=synthetic_pose/tiny", f"--data_dir={tfds_dir}", "--batches=1",
            "--batch_size=2"]


def test_checkpoint_auto_is_best_then_latest(run_dir, tfds_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    result = _evaluate(f"--model_dir={run}", *_data_flags(tfds_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"evaluating the best checkpoint {run / 'best' / 'ckpt-3'} (step 3)" in result.stdout
    assert _json_line(result.stdout)["num_examples"] == 2

    result = _evaluate(f"--model_dir={run}", "--checkpoint=latest", *_data_flags(tfds_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f"evaluating the latest checkpoint {run / 'checkpoints' / 'ckpt-5'} (step 5)"
            in result.stdout)

    shutil.rmtree(run / "best")
    result = _evaluate(f"--model_dir={run}", "--checkpoint=auto", *_data_flags(tfds_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f"evaluating the latest checkpoint {run / 'checkpoints' / 'ckpt-5'} (step 5)"
            in result.stdout)

    result = _evaluate(f"--model_dir={run}", "--checkpoint=best", *_data_flags(tfds_dir))
    assert result.returncode != 0 and "has no best checkpoint" in result.stderr, \
        result.stderr[-3000:]


def test_checkpoint_prefix_and_unknown_value(run_dir, tfds_dir):
    prefix = run_dir / "best" / "ckpt-3"
    result = _evaluate(f"--model_dir={run_dir}", f"--checkpoint={prefix}", *_data_flags(tfds_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"evaluating the given checkpoint {prefix} (step 3)" in result.stdout
    result = _evaluate(f"--model_dir={run_dir}", "--checkpoint=newest", *_data_flags(tfds_dir))
    assert result.returncode != 0
    assert "--checkpoint=newest: not a checkpoint prefix" in result.stderr, result.stderr[-3000:]


def test_detector_crops_of_googles_model(tfds_dir, tmp_path):
    model_dir = tmp_path / "google"
    common = [f"--model_dir={model_dir}", "--checkpoint=none", "--init_from=mediapipe_full",
              "--dataset=synthetic_pose/tiny", f"--data_dir={tfds_dir}"]
    gt = _evaluate(*common)
    assert gt.returncode == 0, gt.stderr[-3000:]
    detector = _evaluate(*common, "--crops=detector")
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
