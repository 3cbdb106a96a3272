"""Running an export in its own runtime, and comparing it with the Keras model.

A runner maps a batch of inputs (float32 crops ``[N, 256, 256, 3]`` in [0, 1], or uint8 images
``[N, H, W, 3]`` for ``serve_image`` exports) to a dict of numpy outputs named as the SavedModel
signature names them. Runtimes: TensorFlow (SavedModel), the TFLite interpreter (LiteRT's
``ai_edge_litert`` when installed, else TensorFlow's; also for the landmark network inside a
``pose_landmarker.task``), ONNX Runtime, and TF.js in Node (``web/run_model.js`` with
``@tensorflow/tfjs``'s CPU backend; see ``web_assets``). MediaPipe's own runtime runs a whole
``.task`` in :mod:`blazepose.export.task_export`.

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
    # int8 of a quantisation-aware network against that network in Keras (which simulates the
    # int8 arithmetic with FakeQuant ops): the converter's integer kernels round the
    # re-scalings and biases differently (TODO measured figure).
    "int8_qat": {"landmark_pixel_error_mean": 2.0, "landmark_pixel_error_max": 12.0,
                 "pose_flag": 0.1},
}


def saved_model_runner(directory: os.PathLike, signature: str) -> Runner:
    function = tf.saved_model.load(os.fspath(directory)).signatures[signature]

    def run(batch):
        return {k: v.numpy() for k, v in function(image=tf.constant(batch)).items()}

    return run


def tflite_runner(path: os.PathLike, num_threads: int = 2) -> Runner:
    """The file's only signature, one example at a time (the model has a batch of 1)."""
    interpreter = make_interpreter(path, num_threads)
    signature = interpreter.get_signature_runner()

    def run(batch):
        outputs = [signature(image=example[np.newaxis]) for example in batch]
        return {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}

    return run


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
    members = mediapipe_task.read_bundle(pathlib.Path(task_path).read_bytes())
    interpreter = _interpreter_from_bytes(members[mediapipe_task.LANDMARK_FILE], num_threads)
    signature = interpreter.get_signature_runner()
    shapes = mediapipe_task.KERAS_LANDMARK_OUTPUTS

    def run(batch):
        outputs = [signature(image=example[np.newaxis]) for example in batch]
        return {name: np.concatenate([o[name] for o in outputs]).reshape((len(batch),) + shape)
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
