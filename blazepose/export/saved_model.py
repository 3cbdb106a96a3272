"""The SavedModel: the landmark network with two serving signatures, written through Keras 3's
export path (``keras.export.ExportArchive``). Every other format is converted from it.

Signatures (both take a batch; ``tf.saved_model.load(path).signatures[name](image=...)``):

``serving_default`` (:data:`CROP_SIGNATURE`)
  ``image`` float32 ``[N, 256, 256, 3]``: RGB in [0, 1], an upright square person crop.
  Returns the network's raw outputs, exactly as the Keras model (and Google's file) computes them:
  ``landmarks [N, L, 5]`` (x, y, z in crop pixels 0..256, visibility and presence logits),
  ``world_landmarks [N, L, 3]`` (metres, hip-centred), ``pose_flag [N, 1]`` (probability),
  ``heatmap [N, 64, 64, L]`` (logits), ``segmentation [N, 256, 256, 1]`` (logits), plus
  ``offsets [N, 64, 64, 2L]`` for networks with an offset head.

``serve_image`` (:data:`IMAGE_SIGNATURE`)
  ``image`` uint8 ``[N, H, W, 3]``: RGB person crops of any size (square keeps proportions).
  Inside: bilinear resize to 256x256 (half-pixel centres, TF2's ``tf.image.resize``), scale to
  [0, 1], the network, then MediaPipe's decoding (``blazepose.model.decoding.decode_outputs``).
  Returns ``landmarks [N, L, 5]`` (x, y, z normalised to the input image, so x * W and y * H are
  input pixels; visibility and presence probabilities; x, y refined by the heatmap),
  ``world_landmarks [N, L, 3]``, ``pose_flag [N]`` and ``segmentation [N, 256, 256, 1]`` as a
  probability.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from blazepose.export.config import CROP_SIGNATURE, IMAGE_SIGNATURE
from blazepose.model import decoding

INPUT_SIZE = 256
DETECTOR_INPUT_SIZE = 224


def crop_function(model: keras.Model):
    """``image`` float32 ``[N, 256, 256, 3]`` in [0, 1] -> the network's raw outputs (a dict)."""

    def serve_crop(image):
        return dict(model(image, training=False))

    return serve_crop


def preprocess(image: tf.Tensor) -> tf.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float32 ``[N, 256, 256, 3]`` in [0, 1] (bilinear, half-pixel)."""
    resized = tf.image.resize(tf.cast(image, tf.float32), (INPUT_SIZE, INPUT_SIZE),
                              method="bilinear")
    return resized * (1.0 / 255.0)


def image_function(model: keras.Model):
    """``image`` uint8 ``[N, H, W, 3]`` -> decoded outputs (see the module docstring)."""

    def serve_image(image):
        outputs = model(preprocess(image), training=False)
        decoded = decoding.decode_outputs(outputs, refine=True, input_size=INPUT_SIZE)
        return {"landmarks": decoded["landmarks"],
                "world_landmarks": decoded["world_landmarks"],
                "pose_flag": decoded["pose_flag"],
                "segmentation": tf.sigmoid(outputs["segmentation"])}

    return serve_image


def crop_spec(batch: int | None = None) -> tf.TensorSpec:
    return tf.TensorSpec([batch, INPUT_SIZE, INPUT_SIZE, 3], tf.float32, name="image")


def image_spec(batch: int | None = None) -> tf.TensorSpec:
    return tf.TensorSpec([batch, None, None, 3], tf.uint8, name="image")


def detector_spec(batch: int | None = None) -> tf.TensorSpec:
    """The person detector's input: float32 ``[batch, 224, 224, 3]`` RGB in [-1, 1]."""
    return tf.TensorSpec([batch, DETECTOR_INPUT_SIZE, DETECTOR_INPUT_SIZE, 3], tf.float32,
                         name="image")


def write_detector_saved_model(model: keras.Model, directory: os.PathLike) -> None:
    """Writes the person detector (:func:`blazepose.model.detector.build_detector_model`) as a
    SavedModel: ``serving_default`` maps ``image`` (:func:`detector_spec`) to its raw outputs
    ``boxes [N, 2254, 12]`` and ``scores [N, 2254, 1]``."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(CROP_SIGNATURE, crop_function(model), input_signature=[detector_spec()])
    archive.write_out(os.fspath(directory), verbose=False)


def write_saved_model(model: keras.Model, directory: os.PathLike) -> None:
    """Writes ``model`` as a SavedModel with both signatures into ``directory`` (must not exist
    or be empty)."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(CROP_SIGNATURE, crop_function(model), input_signature=[crop_spec()])
    archive.add_endpoint(IMAGE_SIGNATURE, image_function(model), input_signature=[image_spec()])
    archive.write_out(os.fspath(directory), verbose=False)
