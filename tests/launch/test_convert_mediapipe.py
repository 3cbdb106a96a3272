"""launch.convert_mediapipe: a loadable .keras file, or an error and nothing written."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import blazepose.model  # noqa: F401  (registers custom layers for load_model)
from blazepose.pretrained import files
from launch import convert_mediapipe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("name, keys", [
    ("full", {"landmarks", "world_landmarks", "pose_flag", "heatmap", "segmentation"}),
    ("detector", {"boxes", "scores"}),
])
def test_writes_a_safe_mode_loadable_file(tmp_path, name, keys):
    output = tmp_path / f"{name}.keras"
    summary = convert_mediapipe.convert(name, output, None, None, overwrite=False)
    assert set(summary["outputs"]) == keys
    model = keras.models.load_model(output, safe_mode=True)
    size = model.inputs[0].shape[1]
    outputs = model(np.zeros((1, size, size, 3), np.float32), training=False)
    assert set(outputs) == keys
    assert os.listdir(tmp_path) == [output.name], "no temporary files left behind"


def _run(*args):
    return subprocess.run([sys.executable, "-m", "launch.convert_mediapipe", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_another_models_file_is_refused_and_nothing_is_written(tmp_path):
    output = tmp_path / "out.keras"
    detector_file = files.fetch_model_file("detector")
    result = _run("--model=full", f"--output={output}", f"--tflite={detector_file}")
    assert result.returncode != 0
    assert "nothing written" in result.stderr and "sha256" in result.stderr
    assert not output.exists()


def test_existing_output_needs_overwrite_and_bad_flags_fail_early(tmp_path):
    output = tmp_path / "out.keras"
    output.write_bytes(b"keep me")
    result = _run("--model=full", f"--output={output}")
    assert result.returncode != 0 and "--overwrite" in result.stderr
    assert output.read_bytes() == b"keep me"
    result = _run("--model=heavy", f"--output={output}")
    assert result.returncode != 0 and "--model" in result.stderr
    result = _run("--model=full", f"--output={tmp_path / 'out.h5'}")
    assert result.returncode != 0 and ".keras" in result.stderr
