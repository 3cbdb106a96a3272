"""launch.export: flags and sources are checked before any file is written; a checkpoint of the
default preset exports, is verified in its runtime and described by its metadata."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _export(*flags, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "launch.export", *flags], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Training runs of the default preset (Google's initialisation) and of its lite variant,
    one checkpoint each, written by the trainer."""
    from blazepose.train import config as config_lib
    from blazepose.train.trainer import Trainer

    root = tmp_path_factory.mktemp("runs")
    default = config_lib.get_preset("default")
    lite = dataclasses.replace(default, init_from=None,
                               model=dataclasses.replace(default.model, variant="lite"))
    for name, config in (("default", default), ("lite", lite)):
        trainer = Trainer(config, root / name, print_fn=lambda *_: None)
        trainer.restore()
        trainer.manager.save(checkpoint_number=1)
    return root


@pytest.mark.parametrize("flags, message", [
    (["--model=mediapipe_full", "--format=keras"], "--format"),
    (["--model=mediapipe_full", "--format=onnx", "--quantize=int8"],
     "--quantize is not available for that --format"),
    (["--model=mediapipe_full", "--checkpoint=x", "--format=tflite"],
     "exactly one of --checkpoint and --model"),
    (["--model=mediapipe_full", "--variant=lite", "--format=tflite"], "describe a --checkpoint"),
])
def test_bad_flags_fail_before_any_work(tmp_path, flags, message):
    output = tmp_path / "out"
    result = _export(*flags, f"--output={output}", timeout=120)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-2000:]
    assert not output.exists()


def test_existing_output_is_not_overwritten(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "mine.txt").write_text("keep")
    result = _export("--model=mediapipe_full", "--format=saved_model", f"--output={output}")
    assert result.returncode != 0 and "pass --overwrite" in result.stderr, result.stderr[-2000:]
    assert [p.name for p in output.iterdir()] == ["mine.txt"]


def test_mismatched_checkpoint_is_refused_with_what_differs(runs, tmp_path):
    output = tmp_path / "out"
    # The run's own config.json describes it: an explicit --preset of another variant is refused.
    result = _export(f"--checkpoint={runs / 'lite'}", "--preset=default", "--format=tflite",
                     f"--output={output}")
    assert result.returncode != 0
    assert "another architecture" in result.stderr and "'lite'" in result.stderr, \
        result.stderr[-2000:]
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_checkpoint_exports_verified_tflite_float16(runs, tmp_path):
    output = tmp_path / "tflite16"
    result = _export(f"--checkpoint={runs / 'default' / 'checkpoints' / 'ckpt-1'}",
                     "--format=tflite", "--quantize=float16", f"--output={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    metadata = json.loads((output / "metadata.json").read_text())
    assert sorted(metadata["files"]) == ["metadata.json", "model.tflite"]
    assert metadata["source"]["kind"] == "checkpoint" and metadata["source"]["step"] == 0
    assert metadata["input"]["shape"] == [1, 256, 256, 3]
    verification = metadata["verification"]
    assert verification["inputs"] == 3 and verification["precision"] == "float16"
    assert verification["landmark_pixel_error_max"] <= verification["tolerances"][
        "landmark_pixel_error_max"]
    assert "agreement with the Keras model" in result.stdout
