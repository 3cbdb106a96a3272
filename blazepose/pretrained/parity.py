"""Numeric parity of our networks with Google's files run in the TFLite interpreter.

:func:`compare` runs the same inputs through two runners (our Keras model, the TFLite
interpreter, or our network evaluated in float64) and reports, per output, the maximum and mean
absolute difference and the largest reference magnitude (so a difference can be read relative to
the values it is on).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from blazepose.inference import postprocess
from blazepose.model.detector import build_detector_model
from blazepose.model.landmark import LandmarkModelConfig, build_landmark_model
from blazepose.pretrained.interpreter import (
    DETECTOR_OUTPUTS,
    LANDMARK_OUTPUTS,
    run_tflite,
)


def split_outputs(outputs: dict) -> dict:
    """Outputs as compared: landmarks split into coordinates (crop pixels) and logits, which have
    other tolerances, and the segmentation also as a probability (what users threshold)."""
    outputs = {k: np.asarray(v, dtype=np.float64) for k, v in outputs.items()}
    if "landmarks" in outputs:
        landmarks = outputs.pop("landmarks").reshape(-1, 5)
        outputs["landmarks_xyz"] = landmarks[:, :3]
        outputs["landmarks_logits"] = landmarks[:, 3:]
    if "segmentation" in outputs:
        outputs["segmentation_probability"] = 0.5 * (1 + np.tanh(outputs["segmentation"] / 2))
    if "boxes" in outputs:
        decoded = postprocess.decode_detections(outputs["boxes"], outputs["scores"])
        outputs["decoded_boxes"] = np.asarray(decoded["boxes"], np.float64)
        outputs["decoded_keypoints"] = np.asarray(decoded["keypoints"], np.float64)
        outputs["detection_probability"] = np.asarray(decoded["scores"], np.float64)
    return outputs


def keras_runner(model):
    """A function image batch -> outputs dict of numpy arrays, for :func:`compare`."""
    dtype = model.inputs[0].dtype

    def run(batch):
        return {k: np.asarray(v) for k, v in model(batch.astype(dtype), training=False).items()}

    return run


def tflite_runner(interpreter, output_map):
    return lambda batch: run_tflite(interpreter, batch, output_map)


def compare(candidate, reference, images: np.ndarray) -> dict[str, dict[str, float]]:
    """Per output: ``max_abs``, ``mean_abs`` differences and ``max_ref`` over all ``images``.

    ``candidate`` and ``reference`` are runners (:func:`keras_runner`, :func:`tflite_runner`).
    """
    diffs: dict[str, list] = {}
    refs: dict[str, list] = {}
    for image in images:
        batch = image[np.newaxis]
        theirs = split_outputs(reference(batch))
        ours = split_outputs(candidate(batch))
        for key, expected in theirs.items():
            value = ours[key].reshape(expected.shape)
            diffs.setdefault(key, []).append(np.abs(value - expected).ravel())
            refs.setdefault(key, []).append(np.abs(expected).ravel())
    return {key: {"max_abs": float(np.concatenate(diffs[key]).max()),
                  "mean_abs": float(np.concatenate(diffs[key]).mean()),
                  "max_ref": float(np.concatenate(refs[key]).max())}
            for key in sorted(diffs)}


def float64_twin(model, build):
    """The same network evaluated in float64: the yardstick for float32 rounding.

    ``build`` is a no-argument function building the architecture (it is called under a float64
    dtype policy); the weights are copied from ``model``.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        twin = build()
    finally:
        keras.config.set_dtype_policy(previous)
    for target, source in zip(twin.weights, model.weights):
        target.assign(source.numpy().astype(np.float64))
    return twin


def landmark_inputs(photo: np.ndarray | None, count: int = 2, seed: int = 0) -> np.ndarray:
    """Random crops in [0, 1] plus, when given, a photo (uint8 RGB) resized to 256x256."""
    rng = np.random.default_rng(seed)
    images = [rng.random((256, 256, 3), dtype=np.float32) for _ in range(count)]
    if photo is not None:
        images.append(tf.image.resize(photo.astype(np.float32) / 255.0, (256, 256)).numpy())
    return np.stack(images)


def detector_inputs(photo: np.ndarray | None, count: int = 2, seed: int = 0) -> np.ndarray:
    """Random images in [-1, 1] plus, when given, a photo letterboxed to 224x224."""
    rng = np.random.default_rng(seed)
    images = [rng.uniform(-1, 1, (224, 224, 3)).astype(np.float32) for _ in range(count)]
    if photo is not None:
        resized = tf.image.resize_with_pad(photo.astype(np.float32) / 127.5 - 1.0, 224, 224)
        images.append(resized.numpy())
    return np.stack(images)


OUTPUT_MAPS = {"full": LANDMARK_OUTPUTS, "detector": DETECTOR_OUTPUTS}


BUILDERS = {"full": lambda: build_landmark_model(LandmarkModelConfig("full")),
            "detector": build_detector_model}

# Largest acceptable max-abs difference from Google's file on a real photograph, per output.
# Landmark coordinates in crop pixels, logits raw, pose flag a probability, world landmarks in
# metres; the segmentation is compared as a probability because its logits reach +-1500, where
# float32 itself cannot resolve 1e-3. Detector: raw boxes in 224-px units, scores as logits, and
# after decoding (normalised image units, probabilities).
PARITY_GOALS = {
    "full": {"landmarks_xyz": 0.01, "landmarks_logits": 1e-3, "heatmap": 1e-3,
             "pose_flag": 1e-4, "world_landmarks": 1e-4, "segmentation_probability": 1e-3},
    "detector": {"boxes": 0.01, "scores": 1e-3, "decoded_boxes": 0.01 / 224,
                 "decoded_keypoints": 0.01 / 224, "detection_probability": 1e-4},
}
