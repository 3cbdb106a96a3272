"""launch.export: flags and sources are checked before any file is written; a checkpoint of the
default preset exports, is verified in its runtime and described by its metadata."""

from __future__ import annotations

import dataclasses
import json

import pytest

from blazepose.train import config as config_lib


@pytest.fixture(scope="module")
def runs(make_run):
    """Runs of the default preset (Google's initialisation) and of its lite variant, one
    checkpoint each (step 1)."""
    default = config_lib.get_preset("default")
    lite = dataclasses.replace(default, init_from=None,
                               model=dataclasses.replace(default.model, variant="lite"))
    return {"default": make_run(default, latest=1), "lite": make_run(lite, latest=1)}


@pytest.mark.parametrize("flags, message", [
    (["--model=mediapipe_full", "--format=keras"], "--format"),
    (["--model=mediapipe_full", "--format=onnx", "--quantize=int8"],
     "--quantize is not available for that --format"),
    (["--model=mediapipe_full", "--checkpoint=x", "--format=tflite"],
     "exactly one of --model_dir (or --checkpoint) and --model"),
    (["--model=mediapipe_full", "--model_dir=x", "--format=tflite"],
     "exactly one of --model_dir (or --checkpoint) and --model"),
    (["--format=tflite"], "exactly one of --model_dir (or --checkpoint) and --model"),
    (["--model=mediapipe_full", "--variant=lite", "--format=tflite"],
     "describe a --model_dir run"),
    (["--model_dir=x", "--topology=coco_17", "--format=tflite"], "--topology describes a --model"),
])
def test_bad_flags_fail_before_any_work(launch, tmp_path, flags, message):
    output = tmp_path / "out"
    result = launch("export", *flags, f"--output={output}", timeout=120)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-2000:]
    assert not output.exists()


def test_existing_output_is_not_overwritten(launch, tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "mine.txt").write_text("keep")
    result = launch("export", "--model=mediapipe_full", "--format=saved_model",
                    f"--output={output}")
    assert result.returncode != 0 and "pass --overwrite" in result.stderr, result.stderr[-2000:]
    assert [p.name for p in output.iterdir()] == ["mine.txt"]


def test_mismatched_checkpoint_is_refused_with_what_differs(launch, runs, tmp_path):
    """--variant (or --preset) replaces the run's config: another network is refused."""
    output = tmp_path / "out"
    result = launch("export", f"--model_dir={runs['lite']}", "--variant=full", "--format=tflite",
                    f"--output={output}")
    assert result.returncode != 0
    assert "another architecture" in result.stderr and "'lite'" in result.stderr, \
        result.stderr[-2000:]
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_checkpoint_exports_verified_tflite_float16(launch, runs, tmp_path):
    output = tmp_path / "tflite16"
    result = launch("export", f"--checkpoint={runs['default'] / 'checkpoints' / 'ckpt-1'}",
                    "--format=tflite", "--quantize=float16", f"--output={output}")
    assert result.returncode == 0, result.stderr[-3000:]
    metadata = json.loads((output / "metadata.json").read_text())
    assert sorted(metadata["files"]) == ["metadata.json", "model.tflite"]
    assert metadata["source"]["kind"] == "checkpoint" and metadata["source"]["step"] == 1
    assert metadata["input"]["shape"] == [1, 256, 256, 3]
    verification = metadata["verification"]
    assert verification["inputs"] == 3 and verification["precision"] == "float16"
    assert verification["landmark_pixel_error_max"] <= verification["tolerances"][
        "landmark_pixel_error_max"]
    assert "agreement with the Keras model" in result.stdout
