"""Conversions of the exported SavedModel into TFLite, ONNX and TF.js.

Each converter reads one signature of the SavedModel (``serving_default`` or ``serve_image``,
see :mod:`blazepose.export.saved_model`) and writes its files into an output folder.

* TFLite: the signature is traced once more with a batch of 1 (as Google's file), so the graph
  has no shape arithmetic left: the crop model's ops are exactly those of
  ``pose_landmark_full.tflite`` (58 CONV_2D, 38 DEPTHWISE_CONV_2D, 28 ADD, 5 PAD,
  5 RESIZE_BILINEAR, 3 RESHAPE, 2 MAX_POOL_2D, 1 LOGISTIC). ``float16`` stores float16 weights
  with DEQUANTIZE ops (Google's own format); ``int8`` is full-integer: of a quantisation-aware
  network (:mod:`blazepose.model.quantization`) with the ranges it learnt (every op int8,
  float32 or uint8 input, float32 outputs), else post-training quantisation calibrated on
  representative crops.
* MediaPipe (``mediapipe_task``): :func:`convert_for_mediapipe` traces ``serving_default`` for
  a batch of 1 as TFLite too, keeps only the outputs MediaPipe reads, reshaped to its shapes
  (landmarks ``[1, 39, 5]`` -> ``[1, 195]``, ...) and lists them in its order.
* ONNX: ``tf2onnx`` (``from_function`` on the loaded signature), dynamic batch dimension.
* TF.js: the ``tensorflowjs`` converter in its own package folder (see ``tfjs_env``).
"""

from __future__ import annotations

import collections
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

from blazepose.export import mediapipe_task, tfjs_env
from blazepose.export import saved_model as saved_model_lib
from blazepose.export.config import CROP_SIGNATURE, IMAGE_SIGNATURE, ExportError


class ConversionError(RuntimeError):
    """A converter failed; the message holds the end of its output."""


def _fixed_batch_function(saved_model_dir: os.PathLike, signature: str):
    """The SavedModel's ``signature`` re-traced for a batch of 1; returns (function, loaded)."""
    loaded = tf.saved_model.load(os.fspath(saved_model_dir))
    if signature not in loaded.signatures:
        raise ExportError(f"{saved_model_dir} has no signature {signature!r}; it has "
                          f"{sorted(loaded.signatures)}")
    serving = loaded.signatures[signature]
    spec = (saved_model_lib.image_spec(1) if signature == IMAGE_SIGNATURE
            else saved_model_lib.crop_spec(1))

    def serve(image):
        return serving(image=image)

    return tf.function(serve).get_concrete_function(spec), loaded


def convert_tflite(saved_model_dir: os.PathLike, path: os.PathLike, signature: str,
                   quantize: str = "none",
                   representative: Callable[[], Iterable[np.ndarray]] | None = None,
                   quantization_aware: bool = False, int8_input: str = "float32",
                   all_integer: bool = True) -> bytes:
    """Writes a ``.tflite`` file; returns its bytes.

    Args:
      representative: for post-training ``int8``, a function returning an iterable of single
        inputs ``[1, ...]`` in the signature's dtype (float32 crops or uint8 images).
      quantization_aware: ``int8`` of a SavedModel with FakeQuant ops (a quantisation-aware
        network): their ranges are used, no representative data.
      int8_input: with ``quantization_aware``: ``float32`` or ``uint8`` input tensor.
      all_integer: with ``quantization_aware``: refuse any float op (no layer kept in float).
    """
    function, loaded = _fixed_batch_function(saved_model_dir, signature)
    if quantization_aware:
        flatbuffer = _convert_quantization_aware(
            function, loaded, int8_input, all_integer, f"{saved_model_dir} ({signature}, int8)")
    else:
        flatbuffer = _convert(function, loaded, quantize, representative,
                              f"{saved_model_dir} ({signature}, {quantize})")
    pathlib.Path(path).write_bytes(flatbuffer)
    return flatbuffer


def _convert(function, trackable, quantize: str,
             representative: Callable[[], Iterable[np.ndarray]] | None, what: str) -> bytes:
    """TFLite flatbuffer of a concrete function (see :func:`convert_tflite` for ``quantize``)."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], trackable)
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if representative is None:
            raise ExportError("int8 quantisation needs a representative data set")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([item] for item in representative())
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    elif quantize != "none":
        raise ExportError(f"unknown TFLite quantisation {quantize!r}")
    try:
        return converter.convert()
    except Exception as error:  # the converter raises ConverterError and others
        raise ConversionError(f"TFLite conversion of {what} failed: {error}") from error


def _convert_quantization_aware(function, trackable, int8_input: str, all_integer: bool,
                                what: str) -> bytes:
    """Full-integer TFLite of a concrete function whose tensors carry FakeQuant ranges; the
    outputs stay float32 (DEQUANTIZE), the input is float32 (QUANTIZE) or uint8."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], trackable)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if int8_input == "uint8":
        converter.inference_input_type = tf.uint8
    try:
        flatbuffer = converter.convert()
    except Exception as error:  # the converter raises ConverterError and others
        raise ConversionError(f"TFLite conversion of {what} failed: {error}") from error
    # (TFLITE_BUILTINS_INT8 cannot say this: the converter looks for FakeQuant ops only at the
    # top of the graph, not inside the Keras model's function, and asks for calibration data.)
    floating = sorted({name for (name, kind), _ in op_types(flatbuffer).items()
                       if kind == "FLOAT32" and name != "DEQUANTIZE"})
    if all_integer and floating:
        raise ConversionError(f"TFLite conversion of {what}: not full-integer, float32 "
                              f"{', '.join(floating)} ops remain (a tensor without a range?)")
    return flatbuffer


def op_types(flatbuffer: bytes) -> collections.Counter:
    """``(operator name, output tensor type)`` -> count, over the first subgraph of a TFLite
    model, e.g. ``("CONV_2D", "INT8")``."""
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    graph = model.Subgraphs(0)
    names = {value: key for key, value in vars(schema.BuiltinOperator).items()
             if not key.startswith("_")}
    types = {value: key for key, value in vars(schema.TensorType).items()
             if not key.startswith("_")}
    counts: collections.Counter = collections.Counter()
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        counts[(name, types[graph.Tensors(op.Outputs(0)).Type()])] += 1
    return counts


def convert_for_mediapipe(saved_model_dir: os.PathLike, input_spec: tf.TensorSpec,
                          outputs: Mapping[str, tuple[int, ...]], quantize: str = "none"
                          ) -> bytes:
    """The SavedModel's ``serving_default`` as TFLite bytes laid out for MediaPipe.

    Args:
      input_spec: the input with a batch of 1, e.g. float32 ``[1, 256, 256, 3]`` named
        ``image``.
      outputs: output name -> shape MediaPipe reads (batch 1), in MediaPipe's order, e.g.
        ``{"landmarks": (1, 195), "pose_flag": (1, 1), ...}``; each signature output is
        reshaped to it (same element count) and the others (an offset head) are left out.
      quantize: ``none`` (float32), ``float16`` (float16 weights, as Google's files) or
        ``int8`` (a quantisation-aware SavedModel: int8 inside, float32 input and outputs).
    Returns:
      the flatbuffer, its one subgraph's outputs in the order of ``outputs``.
    """
    if quantize not in ("none", "float16", "int8"):
        raise ExportError(f"a MediaPipe network is converted to float32, float16 or int8, not "
                          f"{quantize!r}")
    loaded = tf.saved_model.load(os.fspath(saved_model_dir))
    serving = loaded.signatures[CROP_SIGNATURE]

    def serve(image):
        raw = serving(image=image)
        return {name: tf.reshape(raw[name], shape) for name, shape in outputs.items()}

    function = tf.function(serve).get_concrete_function(input_spec)
    what = f"{saved_model_dir} (MediaPipe layout, {quantize})"
    if quantize == "int8":
        flatbuffer = _convert_quantization_aware(function, loaded, "float32", False, what)
    else:
        flatbuffer = _convert(function, loaded, quantize, None, what)
    return mediapipe_task.order_outputs(flatbuffer, list(outputs))


def _run(command: list[str], what: str, env: dict | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise ConversionError(f"{what} failed (exit {result.returncode}): {' '.join(command)}\n"
                              f"{(result.stdout + result.stderr)[-4000:]}")
    return result.stdout + result.stderr


def convert_onnx(saved_model_dir: os.PathLike, path: os.PathLike, signature: str,
                 opset: int = 17) -> None:
    """Writes an ONNX file with ``tf2onnx`` from the SavedModel's ``signature`` (dynamic batch;
    input ``image`` and the outputs keep the signature's names)."""
    try:
        import tf2onnx
    except ImportError:
        raise ExportError("--format=onnx needs tf2onnx: pip install 'blazepose-tf2[export]' "
                          "(tf2onnx, onnxruntime)") from None
    loaded = tf.saved_model.load(os.fspath(saved_model_dir))
    serving = loaded.signatures[signature]
    spec = (saved_model_lib.image_spec() if signature == IMAGE_SIGNATURE
            else saved_model_lib.crop_spec())

    def serve(image):
        return serving(image=image)

    try:
        tf2onnx.convert.from_function(tf.function(serve), input_signature=[spec], opset=opset,
                                      output_path=os.fspath(path))
    except Exception as error:  # tf2onnx raises many kinds
        raise ConversionError(f"ONNX conversion of {saved_model_dir} ({signature}) failed: "
                              f"{error}") from error


def convert_tfjs(saved_model_dir: os.PathLike, output_dir: os.PathLike, signature: str,
                 quantize: str = "none", environment: os.PathLike | None = None) -> None:
    """Writes a TF.js graph model (``model.json`` + weight shards) into ``output_dir``.

    ``environment``: the converter's package folder (default: created by
    ``tfjs_env.ensure_environment``).
    """
    environment = environment or tfjs_env.ensure_environment()
    env = _quiet_env()
    env["PYTHONPATH"] = os.pathsep.join(
        [os.fspath(environment)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    runner = pathlib.Path(__file__).with_name("tfjs_runner.py")
    _run([sys.executable, os.fspath(runner), os.fspath(saved_model_dir), os.fspath(output_dir),
          signature, quantize], "the TF.js converter", env=env)


def _quiet_env() -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    return env
