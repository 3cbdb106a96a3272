"""Google's ``.tflite`` files in the TFLite interpreter, without Keras: the interpreter factory
and the names of the files' output tensors (shared by the importer, the parity checks and the
inference backends)."""

from __future__ import annotations

import os
import warnings

import numpy as np

# Output tensors of Google's files (read off the files: shapes 195 = 39 x 5, 117 = 39 x 3, ...),
# mapped to our networks' output keys.
LANDMARK_OUTPUTS = {"Identity": "landmarks", "Identity_1": "pose_flag",
                    "Identity_2": "segmentation", "Identity_3": "heatmap",
                    "Identity_4": "world_landmarks"}
DETECTOR_OUTPUTS = {"Identity": "boxes", "Identity_1": "scores"}


def make_interpreter(tflite_path: os.PathLike, num_threads: int = 2):
    """TFLite interpreter (LiteRT's when installed, else TensorFlow's), XNNPACK on by default,
    with its tensors allocated."""
    try:  # an optional dependency: the lighter runtime when it is installed
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            interpreter = tf.lite.Interpreter(model_path=os.fspath(tflite_path),
                                              num_threads=num_threads)
    else:
        interpreter = Interpreter(model_path=os.fspath(tflite_path), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def run_tflite(interpreter, image: np.ndarray, output_map: dict[str, str]) -> dict[str, np.ndarray]:
    """Runs one float32 image ``[1, H, W, 3]``; returns the outputs keyed by ``output_map``
    (tensor name -> our key, e.g. :data:`LANDMARK_OUTPUTS`)."""
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image.astype(np.float32))
    interpreter.invoke()
    return {output_map[d["name"]]: np.array(interpreter.get_tensor(d["index"]))
            for d in interpreter.get_output_details()}
