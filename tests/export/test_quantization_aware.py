"""int8 exports of quantisation-aware runs: full-integer TFLite with the learnt ranges, the
float twin for float exports, the per-layer report, and the refusals."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

import blazepose
from blazepose.export import ExportConfig, ExportError, converters, export_model, sources
from blazepose.model import quantization
from blazepose.train import config as config_lib
from blazepose.train.trainer import Trainer


@pytest.fixture(scope="module")
def qat_run(tmp_path_factory, tfds_dir):
    """A 2-step quantisation-aware Lite run distilled from a float Lite network."""
    folder = tmp_path_factory.mktemp("qat")
    start = folder / "float.keras"
    blazepose.build_model("lite").save(start)
    base = config_lib.get_preset("qat")
    config = dataclasses.replace(
        base, model=config_lib.ModelSection(variant="lite", quantized=True),
        init_from=str(start), train_steps=2, batch_size=4, eval_every=1000, eval_batches=1,
        checkpoint_every=2, data=dataclasses.replace(
            base.data, datasets=("synthetic_pose/tiny",), data_dir=tfds_dir))
    Trainer(config, folder / "run", print_fn=lambda *_: None).train()
    return folder / "run"


def test_int8_of_a_qat_run_is_full_integer_with_a_layer_report(qat_run, crops, tmp_path):
    source = sources.from_checkpoint(qat_run)
    assert quantization.is_quantized(source.model)
    result = export_model(source, tmp_path / "int8", ExportConfig("tflite", "int8"),
                          verify_crops=crops["check"], print_fn=lambda *_: None)
    ops = converters.op_types(result.model_path.read_bytes())
    assert ops[("CONV_2D", "INT8")] > 0 and ops[("DEPTHWISE_CONV_2D", "INT8")] > 0
    assert not [op for op, kind in ops if kind == "FLOAT32" and op != "DEQUANTIZE"]
    metadata = json.loads((result.directory / "metadata.json").read_text())
    assert metadata["int8"]["kind"] == "quantisation-aware"
    assert metadata["verification"]["precision"] == "int8_qat"
    report = metadata["int8_accuracy"]
    assert {"landmark_pixel_error_mean", "pose_flag_decisions_differ",
            "world_landmark_cm_median"} <= set(report["vs_float"])
    layers = report["layers"]
    assert layers and all({"layer", "relative_error", "step", "range"} <= set(row)
                          for row in layers)
    # No calibration data was needed, and none was recorded.
    assert "calibration" not in metadata


def test_float_exports_of_a_qat_run_are_its_float_twin(qat_run, crops, tmp_path):
    source = sources.from_checkpoint(qat_run)
    printed = []
    result = export_model(source, tmp_path / "float", ExportConfig("tflite", "none"),
                          verify_crops=crops["check"][:2], print_fn=printed.append)
    assert any("float twin" in line for line in printed)
    ops = converters.op_types(result.model_path.read_bytes())
    assert ops[("CONV_2D", "FLOAT32")] > 0 and not ops[("CONV_2D", "INT8")]
    assert result.metadata["verification"]["landmark_pixel_error_max"] < 0.05


def test_uint8_input(qat_run, crops, tmp_path):
    source = sources.from_checkpoint(qat_run)
    result = export_model(source, tmp_path / "uint8",
                          ExportConfig("tflite", "int8", int8_input="uint8"),
                          verify_crops=crops["check"][:3], print_fn=lambda *_: None)
    from blazepose.pretrained.interpreter import make_interpreter

    detail = make_interpreter(result.model_path, 1).get_input_details()[0]
    assert detail["dtype"] == np.uint8
    assert detail["quantization"] == pytest.approx((1 / 255, 0))


def test_require_qat_refuses_a_float_network_and_tasks_refuse_ptq(tmp_path, crops):
    source = sources.from_mediapipe()
    with pytest.raises(ExportError, match="not a quantisation-aware network"):
        export_model(source, tmp_path / "a", ExportConfig("tflite", "int8", require_qat=True),
                     representative=crops["calibration"], print_fn=lambda *_: None)
    with pytest.raises(ExportError, match="quantisation-aware checkpoint"):
        export_model(source, tmp_path / "b", ExportConfig("mediapipe_task", "int8"),
                     print_fn=lambda *_: None)
    with pytest.raises(ExportError, match="--int8_input=uint8 applies"):
        ExportConfig("tflite", "float16", int8_input="uint8")
    with pytest.raises(ExportError, match="--require_qat applies"):
        ExportConfig("tflite", "none", require_qat=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_export_program_refuses_a_float_run_with_require_qat(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "launch.export", "--model=mediapipe_full", "--format=tflite",
         "--quantize=int8", "--require_qat", f"--output={tmp_path / 'out'}"],
        capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "not a quantisation-aware network" in result.stderr
    assert "Traceback" not in result.stderr

