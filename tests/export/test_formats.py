"""Every format, from Google's weights and from a training checkpoint, run in its own runtime
and compared with the Keras model on the same inputs (tolerances: runtimes.TOLERANCES)."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import tensorflow as tf

from blazepose import topology
from blazepose.export import CROP_SIGNATURE, IMAGE_SIGNATURE, exporter, metadata, runtimes
from blazepose.pretrained import files
from blazepose.pretrained.tflite_graph import read_tflite_graph

SOURCES = ("google", "default")


def _check(exports, source, runner, signature, precision, count=None):
    """Runs ``runner`` on the check inputs (the first ``count``) and compares it with the Keras
    model; returns the statistics after asserting the precision's tolerances."""
    inputs = exporter.verification_inputs(exports.crops["check"], signature)[:count]
    reference = {k: v[:count] for k, v in exports.reference(source, signature).items()}
    stats = runtimes.compare(runner(inputs), reference, signature,
                             exports.sources[source].topology.num_keypoints)
    assert runtimes.violations(stats, precision) == [], stats
    return stats


def test_the_sources_differ_and_the_checkpoint_is_restored(model_sources, default_run):
    google, default = model_sources["google"].model, model_sources["default"].model
    assert model_sources["default"].description["step"] == 5
    different = [a.path for a, b in zip(google.weights, default.weights)
                 if not np.array_equal(a.numpy(), b.numpy())]
    assert len(different) > 100, "the checkpoint's (fine-tuned) weights were restored"


@pytest.mark.parametrize("source", SOURCES)
def test_saved_model_has_both_serving_signatures(exports, source):
    result = exports.get(source, "saved_model")
    loaded = tf.saved_model.load(str(result.directory))
    assert set(loaded.signatures) == {CROP_SIGNATURE, IMAGE_SIGNATURE}
    crop_input = loaded.signatures[CROP_SIGNATURE].structured_input_signature[1]["image"]
    image_input = loaded.signatures[IMAGE_SIGNATURE].structured_input_signature[1]["image"]
    assert (crop_input.dtype, crop_input.shape.as_list()) == (tf.float32, [None, 256, 256, 3])
    assert (image_input.dtype, image_input.shape.as_list()) == (tf.uint8, [None, None, None, 3])
    for signature in (CROP_SIGNATURE, IMAGE_SIGNATURE):
        stats = _check(exports, source, runtimes.saved_model_runner(result.directory, signature),
                       signature, "float32")
        assert stats["landmark_pixel_error_max"] < 1e-3  # same kernels as the Keras model


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("quantize", ["none", "float16", "int8"])
def test_tflite_agrees_with_keras(exports, source, quantize):
    result = exports.get(source, "tflite", quantize)
    precision = result.config.precision
    stats = _check(exports, source, runtimes.tflite_runner(result.model_path), CROP_SIGNATURE,
                   precision)
    print(f"{source} tflite {quantize}: landmark error mean "
          f"{stats['landmark_pixel_error_mean']:.3f} px, max "
          f"{stats['landmark_pixel_error_max']:.3f} px (256-px crop)")
    if source == "google" and quantize == "float16":
        # Google's weights are float16 numbers (imported from its float16 file): exact.
        assert stats["landmark_pixel_error_max"] < 0.01
    if source == "default" and quantize == "float16":
        assert stats["landmark_pixel_error_max"] > 0, "fine-tuned weights are rounded"


def _op_counts(path):
    return collections.Counter(op.kind for op in read_tflite_graph(path).ops)


def test_tflite_float16_has_exactly_googles_ops(exports):
    """The converted crop graph is Google's: same ops, same counts (no shape arithmetic,
    transposes or extra outputs), float16 weights behind DEQUANTIZE like Google's file."""
    google_file = files.fetch_model_file("full")
    for quantize in ("none", "float16"):
        ours = exports.get("default", "tflite", quantize).model_path
        assert _op_counts(ours) == _op_counts(google_file)
    interpreter = tf.lite.Interpreter(model_path=str(exports.get("default", "tflite",
                                                                 "float16").model_path))
    dtypes = collections.Counter(d["dtype"] for d in interpreter.get_tensor_details())
    assert dtypes[np.float16] >= 96, dtypes  # every convolution kernel


def test_tflite_int8_is_full_integer(exports):
    interpreter = tf.lite.Interpreter(
        model_path=str(exports.get("google", "tflite", "int8").model_path),
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType
        .BUILTIN_WITHOUT_DEFAULT_DELEGATES)  # lists the model's ops, not XNNPACK's node
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()  # noqa: SLF001 (the interpreter's only op listing)
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    float_ops = [op["op_name"] for op in ops if op["op_name"] not in ("QUANTIZE", "DEQUANTIZE")
                 and any(tensors[i]["dtype"] == np.float32 for i in op["outputs"])]
    assert not float_ops, f"ops computing in float32: {float_ops}"
    assert sum(op["op_name"] == "CONV_2D" for op in ops) == 58


def test_tflite_runs_in_tensorflow_and_litert_interpreters_alike(exports, crops):
    from ai_edge_litert.interpreter import Interpreter as LiteRT

    path = str(exports.get("google", "tflite", "float16").model_path)
    example = crops["check"][:1]
    results = []
    for interpreter in (tf.lite.Interpreter(model_path=path), LiteRT(model_path=path)):
        runner = interpreter.get_signature_runner()
        results.append(runner(image=example)["landmarks"])
    np.testing.assert_allclose(results[0], results[1], atol=1e-3)


@pytest.mark.parametrize("source", SOURCES)
def test_onnx_agrees_with_keras_in_onnxruntime(exports, source):
    result = exports.get(source, "onnx")
    _check(exports, source, runtimes.onnx_runner(result.model_path), CROP_SIGNATURE, "float32")
    assert result.metadata["tensorrt"].startswith("trtexec --onnx=model.onnx ")


@pytest.mark.web
@pytest.mark.parametrize("source", SOURCES)
def test_tfjs_agrees_with_keras_in_node(exports, source):
    result = exports.get(source, "tfjs")
    assert (result.directory / "model.json").is_file()
    # Two crops (the photograph, mirrored): TF.js's pure-JS backend takes seconds per crop.
    _check(exports, source, runtimes.tfjs_runner(result.directory), CROP_SIGNATURE, "float32",
           count=2)


@pytest.mark.parametrize("format", ["tflite", "onnx"])
def test_with_preprocessing_takes_uint8_images_of_any_size(exports, format):  # noqa: A002
    result = exports.get("default", format, with_preprocessing=True)
    assert result.metadata["input"]["dtype"] == "uint8"
    runner = (runtimes.tflite_runner(result.model_path) if format == "tflite"
              else runtimes.onnx_runner(result.model_path))
    _check(exports, "default", runner, IMAGE_SIGNATURE, "float32")


@pytest.mark.parametrize("format, quantize", [("saved_model", "none"), ("tflite", "int8"),
                                              ("onnx", "none"), ("tfjs", "none")])
def test_metadata_describes_the_interface(exports, format, quantize):  # noqa: A002
    result = exports.get("google", format, quantize)
    written = metadata.read_metadata(result.directory)
    assert written == result.metadata
    assert written["format"] == format and written["quantization"] == quantize
    assert written["input"]["range"] == [0.0, 1.0] and written["input"]["shape"][1:] == [256,
                                                                                       256, 3]
    assert set(written["outputs"]) == {"landmarks", "world_landmarks", "pose_flag", "heatmap",
                                       "segmentation"}
    keypoints = written["keypoints"]
    assert keypoints["topology"] == "blazepose_33" and len(keypoints["names"]) == 39
    assert keypoints["names"][:33] == list(topology.BLAZEPOSE_33.keypoint_names)
    assert keypoints["extra_outputs"]["first_index"] == 33
    assert all(a < 33 and b < 33 for a, b in keypoints["edges"])
    listed = set(written["files"])
    on_disk = {str(p.relative_to(result.directory)) for p in result.directory.rglob("*")
               if p.is_file()}
    assert listed == on_disk
    if quantize == "int8":
        assert written["calibration"]["crops"] == 16
