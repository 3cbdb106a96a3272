"""Running an export in its own runtime, and comparing it with the Keras model.

A runner maps a batch of inputs (float32 crops ``[N, 256, 256, 3]`` in [0, 1], or uint8 images
``[N, H, W, 3]`` for ``serve_image`` exports) to a dict of numpy outputs named as the SavedModel
signature names them. Runtimes: TensorFlow (SavedModel), the TFLite interpreter
(:class:`TFLiteRunner`: LiteRT's ``ai_edge_litert`` when installed, else TensorFlow's; also for
Google's files, for the landmark network inside a ``pose_landmarker.task``, and for
full-integer files, whose I/O it quantizes and dequantizes), ONNX Runtime, and TF.js in Node
(``web/run_model.js`` with ``@tensorflow/tfjs``'s CPU backend; see ``web_assets``).
MediaPipe's own runtime runs a whole ``.task`` in :mod:`blazepose.export.task_export`.

:func:`compare` reduces two output dicts to the quantities the tolerances in
:data:`TOLERANCES` are stated for.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tempfile
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from blazepose.export import mediapipe_task, web_assets
from blazepose.export import saved_model as saved_model_lib
from blazepose.export.config import IMAGE_SIGNATURE
from blazepose.inference import backends
from blazepose.pretrained.interpreter import make_interpreter

Runner = Callable[[np.ndarray], dict]

# Acceptable differences from the Keras model (TensorFlow, float32) per precision, on real
# photographs and pipeline crops. Keys name a quantity of :func:`compare`: a plain name bounds its
# largest absolute difference, ``*_mean`` its mean absolute difference, and
# ``landmark_pixel_error_*`` the x, y distance of the keypoints in 256-crop pixels.
#
# float32 (SavedModel, TFLite, ONNX, TF.js): only summation order differs; these are the goals
# Google's own file meets against our network (blazepose.pretrained.parity.PARITY_GOALS) with the
# segmentation probability relaxed to 5e-3 (its logits reach +-1500, where float32 resolves ~1e-4
# and one ulp of a logit near 0 moves the probability by more than 1e-3).
# float16: weights rounded to 11 significant bits (relative error <= 2^-11 = 4.9e-4 per weight).
# The network is that sensitive: Google's weights times (1 +- 4.9e-4) random factors move the
# keypoints of a real photograph by 0.26 px on average and 1.3 px at most (measured); a
# fine-tuned network's float16 export moves them by ~0.4 px on average, a few px at most, and
# flips segmentation pixels whose logit is near 0 (so the segmentation is bounded on average).
# The depth z of landmarks outside the crop (the astronaut's legs) is the most sensitive output:
# in a 20-step ``finetune`` run of Google's weights it moved by 9.4 px (step 10) and 14.0 px
# (step 20) on the zoomed photo crop while x, y stayed within 1.8 px, so ``landmarks_xyz`` (x, y
# and z) is bounded at 30 and x, y by the pixel errors.
# Google's weights are float16 numbers already (imported from its float16 file), so for them the
# float16 export is exact.
# int8: post-training full-integer quantisation (every activation on 256 levels, one scale per
# tensor). Measured on these checks: keypoints move by 8-14 px on average on a 256-px crop (the
# landmark tensor alone has a step of ~1.7 px; the early layers' and regression heads' rounding
# adds the rest), and the pose flag is not usable (its head's int8 error is the largest of the
# network: it flips between 0 and 1). The bound catches a broken export (wrong input scaling or
# calibration gives > 40 px), not a precise one: int8 needs quantisation-aware training to be
# accurate.
TOLERANCES = {
    "float32": {"landmarks_xyz": 0.02, "landmarks_scores": 2e-3, "world_landmarks": 1e-3,
                "pose_flag": 1e-3, "heatmap": 2e-3, "segmentation_probability": 5e-3,
                "landmark_pixel_error_max": 0.02},
    "float16": {"landmarks_xyz": 30.0, "landmarks_scores": 1.0, "world_landmarks": 0.05,
                "pose_flag": 0.05, "heatmap": 1.0, "segmentation_probability_mean": 0.01,
                "landmark_pixel_error_mean": 1.0, "landmark_pixel_error_max": 6.0},
    "int8": {"landmark_pixel_error_mean": 20.0},
    # int8 of a quantisation-aware network against that network in Keras, which simulates the
    # int8 arithmetic with FakeQuant ops: each layer agrees within one int8 step (0.3-3 % of the
    # values one step apart: TFLite's integer re-scaling rounds differently from float), but the
    # regression branch amplifies those flips. Measured on 64 LSP test crops: 4.1-4.4 px mean,
    # 50-58 px max (full int8), 1.2 px mean with the regression branch kept in float. The bound
    # catches a broken conversion (wrong ranges or input scaling: > 20 px); how far int8 is from
    # the float network is reported, not bounded (metadata "int8_accuracy").
    "int8_qat": {"landmark_pixel_error_mean": 8.0},
}


def saved_model_runner(directory: os.PathLike, signature: str) -> Runner:
    function = tf.saved_model.load(os.fspath(directory)).signatures[signature]

    def run(batch):
        return {k: v.numpy() for k, v in function(image=tf.constant(batch)).items()}

    return run


class TFLiteRunner:
    """A ``.tflite`` network in the TFLite interpreter, one example at a time (batch of 1).

    The one runner of TFLite files for exports, their checks and ``launch.evaluate``:
    our exports (outputs named by the SavedModel signature: ``landmarks``, ``pose_flag``, ...),
    Google's files (tensors ``Identity``, ``Identity_1``, ... mapped by
    :data:`blazepose.pretrained.interpreter.LANDMARK_OUTPUTS`), files naming their outputs
    otherwise (told apart by shape, :func:`blazepose.inference.backends.resolve_output_keys`),
    and the landmark network inside a ``.task`` bundle (``pose_landmarks_detector.tflite``).

    Quantized I/O: a float batch given to an int8 / uint8 / int16 input is quantized with the
    tensor's scale and zero point (``round(x / scale) + zero_point``, clipped to the type; for
    MediaPipe's uint8 image input, scale 1/255 and zero point 0, that is the uint8 image of a
    crop in [0, 1]); a batch already of the input's integer type is fed as is. Quantized outputs
    are dequantized (``(q - zero_point) * scale``), so every output is float32 (or the file's
    non-quantized type).

    Calls: ``runner(batch)`` with ``batch`` ``[N, H, W, 3]`` (float32 crops in [0, 1], or uint8
    images for ``serve_image`` exports), or one example ``[H, W, 3]``; returns a dict of numpy
    arrays ``[N, ...]``: by the file's output names when they are ours, else by our keys
    (:data:`blazepose.inference.backends.LANDMARK_KEYS`), with flat landmark outputs
    (``[N, 5L]``, ``[N, 3L]``, as in Google's file) reshaped to ``[N, L, 5]`` and ``[N, L, 3]``.
    ``keys`` picks outputs. It also satisfies :class:`blazepose.inference.backends.Backend`
    (``kind``, ``input_size``, ``source``, ``output_keys``), so the evaluation's
    :class:`blazepose.evaluation.LandmarkPredictor` runs it like any backend.

    Args:
      model: a ``.tflite`` path, a ``.task`` bundle path (its landmark network), or the bytes
        of a ``.tflite`` file (``source`` then names it in messages).
      num_threads: interpreter threads (XNNPACK).
    Attributes:
      source: the file, for messages.
      input_shape: the input's shape (batch first; -1 for a dimension of dynamic size, which
        is resized to each example's).
      input_dtype: its numpy type; input_quantization: ``(scale, zero_point)`` (scale 0: not
        quantized).
      output_shapes: our key -> shape of one example, after the reshape above.
      kind: ``"landmark"`` or ``"detector"``, or ``"unknown"`` for outputs neither network has.
      input_size: S of a square ``[1, S, S, 3]`` input (0 when the input is not square or of
        dynamic size).
    """

    def __init__(self, model: os.PathLike | str | bytes, num_threads: int = 2,
                 source: str | None = None):
        if isinstance(model, bytes):
            self.source = source or "TFLite model"
            interpreter = _interpreter_from_bytes(model, num_threads)
        elif str(model).endswith(".task"):
            self.source = source or f"{model}!{mediapipe_task.LANDMARK_FILE}"
            members = mediapipe_task.read_bundle(pathlib.Path(model).read_bytes())
            interpreter = _interpreter_from_bytes(members[mediapipe_task.LANDMARK_FILE],
                                                  num_threads)
        else:
            self.source = source or os.fspath(model)
            interpreter = make_interpreter(model, num_threads)
        self._interpreter = interpreter
        inputs, outputs = _io_details(interpreter)
        if len(inputs) != 1:
            raise ValueError(f"{self.source}: expected one input, the file has {len(inputs)} "
                             f"({', '.join(inputs)})")
        self._input = next(iter(inputs.values()))
        self._fed_shape = tuple(int(d) for d in self._input["shape"])
        self.input_shape = tuple(int(d) for d in self._input.get("shape_signature",
                                                                  self._fed_shape))
        self.input_dtype = np.dtype(self._input["dtype"])
        self.input_quantization = _quantization(self._input)
        shape = self.input_shape
        self.input_size = (shape[1] if len(shape) == 4 and shape[1] == shape[2] and shape[1] > 0
                           else 0)
        shapes = {name: tuple(int(d) for d in detail["shape"]) for name, detail in
                  outputs.items()}
        if set(outputs) <= set(backends.LANDMARK_KEYS + ("offsets",)) | set(backends.DETECTOR_KEYS):
            mapping = {name: name for name in outputs}  # our names (the signature's)
            self.kind = ("detector" if set(outputs) <= set(backends.DETECTOR_KEYS) else "landmark")
        else:
            try:
                self.kind, mapping = backends.resolve_output_keys(shapes, self.source)
            except backends.BackendError:
                self.kind, mapping = "unknown", {name: name for name in outputs}
        self._outputs = {key: outputs[name] for name, key in mapping.items()}
        self.output_shapes = {key: _layout_shape(key, shapes[name])[1:]
                              for name, key in mapping.items()}

    @property
    def output_keys(self) -> tuple[str, ...]:
        return tuple(self._outputs)

    def feed(self, example: np.ndarray) -> np.ndarray:
        """One example ``[H, W, 3]`` as the input tensor takes it (``[1, H, W, 3]`` of its type,
        quantized when the input is an integer type and the example is not)."""
        example = np.asarray(example)[np.newaxis]
        dtype = self.input_dtype
        if not np.issubdtype(dtype, np.integer):
            return example.astype(dtype)
        if example.dtype == dtype:
            return example
        scale, zero_point = self.input_quantization
        if scale == 0:
            raise ValueError(f"{self.source}: the {dtype.name} input has no quantization "
                             f"parameters to quantize a {example.dtype.name} input with")
        info = np.iinfo(dtype)
        quantized = np.round(example.astype(np.float64) / scale) + zero_point
        return np.clip(quantized, info.min, info.max).astype(dtype)

    def __call__(self, batch: np.ndarray, keys=None) -> dict[str, np.ndarray]:
        batch = np.asarray(batch)
        if batch.ndim == 3:
            batch = batch[np.newaxis]
        wanted = {key: detail for key, detail in self._outputs.items()
                  if keys is None or key in keys}
        results: dict[str, list] = {key: [] for key in wanted}
        index = self._input["index"]
        for example in batch:
            fed = self.feed(example)
            if fed.shape != self._fed_shape:  # an input of dynamic size (serve_image exports)
                self._interpreter.resize_tensor_input(index, fed.shape, strict=True)
                self._interpreter.allocate_tensors()
                self._fed_shape = fed.shape
            self._interpreter.set_tensor(index, fed)
            self._interpreter.invoke()
            for key, detail in wanted.items():
                results[key].append(_dequantize(self._interpreter.get_tensor(detail["index"]),
                                                detail))
        return {key: _crop_layout(key, np.concatenate(values))
                for key, values in results.items()}


def _io_details(interpreter) -> tuple[dict, dict]:
    """``({input name: detail}, {output name: detail})``: by the file's signature when it has
    one (our exports: ``image`` -> ``landmarks``, ...), else by tensor name (Google's files)."""
    signatures = interpreter.get_signature_list()
    if len(signatures) == 1:
        runner = interpreter.get_signature_runner(next(iter(signatures)))
        return runner.get_input_details(), runner.get_output_details()
    return ({d["name"]: d for d in interpreter.get_input_details()},
            {d["name"]: d for d in interpreter.get_output_details()})


def _quantization(detail: dict) -> tuple[float, int]:
    """``(scale, zero_point)`` of a per-tensor quantized tensor (scale 0: not quantized)."""
    parameters = detail.get("quantization_parameters") or {}
    scales = np.asarray(parameters.get("scales", ()), np.float64)
    if scales.size > 1:
        raise ValueError(f"tensor {detail['name']!r} is quantized per channel; inputs and "
                         "outputs must be per tensor")
    if scales.size == 1:
        return float(scales[0]), int(np.asarray(parameters["zero_points"]).reshape(-1)[0])
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero_point)


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    """An output tensor's values as float32 when the tensor is quantized, else a copy."""
    values = np.array(values)
    if not np.issubdtype(values.dtype, np.integer):
        return values
    scale, zero_point = _quantization(detail)
    if scale == 0:
        return values
    return ((values.astype(np.float64) - zero_point) * scale).astype(np.float32)


def _layout_shape(key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Flat landmark outputs ``[N, 5L]`` / ``[N, 3L]`` (Google's file, the ``.task`` network) as
    ``[N, L, 5]`` / ``[N, L, 3]``; any other shape unchanged."""
    width = {"landmarks": 5, "world_landmarks": 3}.get(key)
    if width and len(shape) == 2 and shape[1] % width == 0:
        return (shape[0], shape[1] // width, width)
    return tuple(shape)


def _crop_layout(key: str, values: np.ndarray) -> np.ndarray:
    """``values`` in the layout of :func:`_layout_shape`."""
    return values.reshape(_layout_shape(key, values.shape))


def tflite_runner(path: os.PathLike, num_threads: int = 2) -> Runner:
    """A :class:`TFLiteRunner` of ``path`` (a ``.tflite`` file or a ``.task`` bundle)."""
    return TFLiteRunner(path, num_threads)


def _interpreter_from_bytes(content: bytes, num_threads: int):
    """A TFLite interpreter of a model's bytes (LiteRT's when installed, else TensorFlow's)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_content=content, num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def task_landmark_runner(task_path: os.PathLike, num_threads: int = 2) -> Runner:
    """The landmark network inside a ``pose_landmarker.task``, one crop at a time.

    Its outputs (MediaPipe's flat ``landmarks [1, 195]`` and ``world_landmarks [1, 117]``) are
    reshaped back to the crop signature's ``[N, 39, 5]`` and ``[N, 39, 3]``; ``pose_flag``,
    ``segmentation`` and ``heatmap`` are as the crop signature has them.
    """
    runner = TFLiteRunner(task_path, num_threads)
    shapes = mediapipe_task.KERAS_LANDMARK_OUTPUTS

    def run(batch):
        outputs = runner(batch)
        return {name: outputs[name].reshape((len(batch),) + shape)
                for name, shape in shapes.items()}

    return run


def onnx_runner(path: os.PathLike) -> Runner:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    session = onnxruntime.InferenceSession(os.fspath(path), options,
                                           providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]

    def run(batch):
        return dict(zip(names, session.run(names, {input_name: batch})))

    return run


def tfjs_runner(model_dir: os.PathLike, node_modules: os.PathLike | None = None,
                timeout: float = 300) -> Runner:
    """Runs the TF.js graph model in Node (``@tensorflow/tfjs``, CPU backend), whole batch in
    one process."""
    node_modules = pathlib.Path(node_modules or web_assets.ensure_node_modules())
    script = web_assets.WEB_DIR / "run_model.js"

    def run(batch):
        batch = np.ascontiguousarray(batch)
        with tempfile.TemporaryDirectory() as scratch:
            inputs = pathlib.Path(scratch) / "input.bin"
            outputs = pathlib.Path(scratch) / "outputs.json"
            dtype = "float32" if batch.dtype == np.float32 else "int32"
            batch.astype(dtype).tofile(inputs)
            command = [web_assets.node_executable(), os.fspath(script), os.fspath(model_dir),
                       os.fspath(inputs), ",".join(str(d) for d in batch.shape), dtype,
                       os.fspath(outputs)]
            env = dict(os.environ, NODE_PATH=os.fspath(node_modules))
            result = subprocess.run(command, capture_output=True, text=True, env=env,
                                    timeout=timeout, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"node {script.name} failed: {result.stderr[-3000:]}")
            decoded = json.loads(outputs.read_text())
        return {k: np.asarray(v["data"], np.float32).reshape(v["shape"])
                for k, v in decoded["outputs"].items()}

    return run


def reference_runner(model, signature: str) -> Runner:
    """The Keras model, behind the same pre- and post-processing as ``signature``."""
    function = (saved_model_lib.image_function(model) if signature == IMAGE_SIGNATURE
                else saved_model_lib.crop_function(model))
    traced = tf.function(function, reduce_retracing=True)

    def run(batch):
        return {k: np.asarray(v) for k, v in traced(tf.constant(batch)).items()}

    return run


def comparable(outputs: dict, signature: str, input_size: int = 256) -> dict:
    """Outputs as compared: coordinates in crop pixels apart from the scores (logits for the
    crop signature, probabilities for ``serve_image``), the segmentation as a probability."""
    result = {}
    landmarks = np.asarray(outputs["landmarks"], np.float64)
    scale = float(input_size) if signature == IMAGE_SIGNATURE else 1.0
    result["landmarks_xyz"] = landmarks[..., :3] * scale
    result["landmarks_scores"] = landmarks[..., 3:]
    result["world_landmarks"] = np.asarray(outputs["world_landmarks"], np.float64)
    result["pose_flag"] = np.asarray(outputs["pose_flag"], np.float64).reshape(-1)
    segmentation = np.asarray(outputs["segmentation"], np.float64)
    result["segmentation_probability"] = (
        segmentation if signature == IMAGE_SIGNATURE else 0.5 * (1 + np.tanh(segmentation / 2)))
    for key in ("heatmap", "offsets"):
        if key in outputs:
            result[key] = np.asarray(outputs[key], np.float64)
    return result


def compare(candidate: dict, reference: dict, signature: str, num_keypoints: int) -> dict:
    """Per compared quantity the max and mean absolute difference, plus the landmark pixel
    error (x, y distance in 256-crop pixels over the first ``num_keypoints`` landmarks).

    Returns ``{name: {"max_abs": ..., "mean_abs": ...}, "landmark_pixel_error_mean": ...,
    "landmark_pixel_error_max": ...}``.
    """
    ours, theirs = comparable(candidate, signature), comparable(reference, signature)
    missing = sorted(set(theirs) - set(ours))
    if missing:
        raise KeyError(f"the export lacks outputs {missing}; it has {sorted(candidate)}")
    stats: dict = {}
    for key, expected in theirs.items():
        difference = np.abs(ours[key].reshape(expected.shape) - expected)
        stats[key] = {"max_abs": float(difference.max()), "mean_abs": float(difference.mean())}
    xy = ours["landmarks_xyz"][:, :num_keypoints, :2] - theirs["landmarks_xyz"][
        :, :num_keypoints, :2]
    distance = np.linalg.norm(xy, axis=-1)
    stats["landmark_pixel_error_mean"] = float(distance.mean())
    stats["landmark_pixel_error_max"] = float(distance.max())
    return stats


def violations(stats: dict, precision: str) -> list[str]:
    """The quantities of ``stats`` beyond :data:`TOLERANCES` (empty: the export agrees)."""
    problems = []
    for key, limit in TOLERANCES[precision].items():
        if isinstance(stats.get(key), dict):
            value = stats[key]["max_abs"]
        elif key.endswith("_mean") and isinstance(stats.get(key[:-5]), dict):
            value = stats[key[:-5]]["mean_abs"]
        else:
            value = stats.get(key)
        if value is None:  # an output the signature does not have (serve_image: no heatmap)
            continue
        if not value <= limit:
            problems.append(f"{key}: {value:.4g} > {limit:g}")
    return problems
