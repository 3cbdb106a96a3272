"""A stand-in landmark network that makes MediaPipe tell where it cropped.

MediaPipe's ``PoseLandmarker`` returns landmarks, not the crop (ROI) it ran the landmark network
on. Bundled in place of the landmark network, the probe built here predicts the same four points
on every crop: its corners (0, 0), (256, 0), (0, 256) and its centre, with certain visibility,
a pose flag of 1 and heatmaps too weak to refine anything. MediaPipe projects them with its ROI,
so its output gives the ROI back exactly (:func:`roi_of`): centre = landmark 3, side and rotation
from landmarks 0 -> 1. The real detector stays in the bundle, so the probe shows the crop
MediaPipe's detector (IMAGE mode) or tracker (VIDEO mode) chose.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from blazepose.export import mediapipe_task
from blazepose.inference import geometry

NUM_OUTPUT_LANDMARKS = 39
CROP_SIZE = 256
# Crop points (pixels of the 256 crop) of landmarks 0..3.
PROBE_POINTS = ((0.0, 0.0), (256.0, 0.0), (0.0, 256.0), (128.0, 128.0))


class _Probe(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([1, CROP_SIZE, CROP_SIZE, 3], tf.float32)])
    def __call__(self, image):
        points = np.zeros((NUM_OUTPUT_LANDMARKS, 5), np.float32)
        points[:, 3:] = 10.0  # visibility and presence logits: certain
        points[:len(PROBE_POINTS), :2] = PROBE_POINTS
        # Every output depends on the input, so the converter keeps the graph's signature.
        zero = tf.reduce_sum(image) * 0.0
        return {
            "landmarks": tf.reshape(tf.constant(points), [1, -1]) + zero,
            "pose_flag": tf.ones([1, 1]) + zero,
            "segmentation": image[..., :1] * 0.0,
            "heatmap": tf.fill([1, 64, 64, NUM_OUTPUT_LANDMARKS], -100.0) + zero,
            "world_landmarks": tf.zeros([1, NUM_OUTPUT_LANDMARKS * 3]) + zero,
        }


def probe_landmark_model() -> bytes:
    """The probe as ``.tflite`` bytes with MediaPipe's metadata and output order."""
    probe = _Probe()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [probe.__call__.get_concrete_function()], probe)
    tflite = mediapipe_task.order_outputs(
        converter.convert(), [spec.name for spec in mediapipe_task.LANDMARK_OUTPUTS])
    return mediapipe_task.with_landmark_metadata(tflite, "probe", what="ROI probe")


def roi_of(landmarks: np.ndarray) -> geometry.Roi:
    """MediaPipe's crop from the probe's projected landmarks.

    Args:
      landmarks: ``[>= 4, >= 2]`` image pixels (x, y) of probe landmarks 0..3.
    """
    landmarks = np.asarray(landmarks, np.float64)
    corner, right = landmarks[0, :2], landmarks[1, :2]
    side = float(np.linalg.norm(right - corner))
    rotation = math.atan2(right[1] - corner[1], right[0] - corner[0])
    return geometry.Roi(float(landmarks[3, 0]), float(landmarks[3, 1]), side,
                        geometry.normalize_radians(rotation))
