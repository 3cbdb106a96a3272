"""runtimes.TFLiteRunner: the one runner of .tflite files (our exports, Google's files, .task
bundles, full-integer files with quantized input and outputs).

The quantized files here are tiny networks made with the TFLite converter in the test (a 3x3
convolution and a dense layer on an 8x8 RGB input), calibrated on random crops.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from blazepose.export import mediapipe_task, runtimes
from blazepose.pretrained import files

SIZE = 8
NUM_LANDMARKS = 4


class _Tiny(tf.Module):
    """``image`` float32 [1, 8, 8, 3] in [0, 1] -> ``landmarks`` [1, 4, 5] and ``pose_flag``
    [1, 1] (a probability): outputs named as our exports' signature names them."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(3)
        self.kernel = tf.constant(rng.normal(0, 0.5, (3, 3, 3, 6)), tf.float32)
        self.dense = tf.constant(rng.normal(0, 0.3, (SIZE * SIZE * 6, NUM_LANDMARKS * 5)),
                                 tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, SIZE, SIZE, 3], tf.float32, name="image")])
    def serve(self, image):
        features = tf.nn.relu(tf.nn.conv2d(image, self.kernel, 1, "SAME"))
        flat = tf.reshape(features, [1, -1])
        landmarks = tf.reshape(tf.matmul(flat, self.dense) * 40.0 + 20.0, [1, NUM_LANDMARKS, 5])
        pose_flag = tf.sigmoid(tf.reduce_mean(flat, axis=1, keepdims=True) - 0.5)
        return {"landmarks": landmarks, "pose_flag": pose_flag}


def _crops(count: int, seed: int) -> np.ndarray:
    """Random crops in [0, 1] holding both ends of the range (black and white pixels), so
    that calibration gives the input MediaPipe's uint8 range: scale 1/255, zero point 0."""
    crops = np.random.default_rng(seed).uniform(0, 1, (count, SIZE, SIZE, 3)).astype(np.float32)
    crops[:, 0, 0], crops[:, -1, -1] = 0.0, 1.0
    return crops


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny network's float function and a converter of it (``convert(input_type,
    output_type, path)``: a full-integer file of that I/O, or float32 with ``None``)."""
    module = _Tiny()
    directory = tmp_path_factory.mktemp("tiny")
    tf.saved_model.save(module, str(directory / "saved_model"),
                        signatures={"serving_default": module.serve})

    def convert(input_type, output_type, name):
        converter = tf.lite.TFLiteConverter.from_saved_model(str(directory / "saved_model"))
        if input_type is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([crop[None]] for crop in _crops(32, 0))
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = input_type
            converter.inference_output_type = output_type
        path = directory / name
        path.write_bytes(converter.convert())
        return path

    def reference(batch):
        outputs = [module.serve(tf.constant(crop[None])) for crop in batch]
        return {key: np.concatenate([o[key].numpy() for o in outputs]) for key in outputs[0]}

    return convert, reference


def test_float_file_agrees_with_its_function(tiny):
    convert, reference = tiny
    runner = runtimes.TFLiteRunner(convert(None, None, "float.tflite"))
    assert runner.kind == "landmark" and runner.input_size == SIZE
    assert runner.input_quantization == (0.0, 0)
    assert runner.output_shapes == {"landmarks": (NUM_LANDMARKS, 5), "pose_flag": (1,)}
    batch = _crops(3, 1)
    outputs, expected = runner(batch), reference(batch)
    for key in expected:
        np.testing.assert_allclose(outputs[key], expected[key], rtol=1e-5, atol=1e-4)
    # One example without the batch axis, and a subset of the outputs.
    single = runner(batch[0], keys=["pose_flag"])
    assert set(single) == {"pose_flag"}
    np.testing.assert_allclose(single["pose_flag"], expected["pose_flag"][:1], atol=1e-6)


@pytest.mark.parametrize("input_type", [tf.int8, tf.uint8])
def test_quantized_input_and_outputs_are_scaled(tiny, input_type):
    """A full-integer file (int8 or uint8 input, int8 outputs) fed float crops gives outputs
    within int8 rounding of the float function's. Ignoring the scale and zero point (crops
    cast to integers, outputs read as raw integers) would be off by tens of units."""
    convert, reference = tiny
    name = f"int8_{input_type.name}.tflite"
    runner = runtimes.TFLiteRunner(convert(input_type, tf.int8, name))
    assert runner.input_dtype == np.dtype(input_type.as_numpy_dtype)
    scale, zero_point = runner.input_quantization
    assert scale == pytest.approx(1 / 255, rel=0.02)  # calibrated on crops in [0, 1]
    assert zero_point == (-128 if input_type == tf.int8 else 0)
    batch = _crops(6, 2)
    outputs, expected = runner(batch), reference(batch)
    landmarks = outputs["landmarks"]
    assert landmarks.dtype == np.float32 and landmarks.shape == (6, NUM_LANDMARKS, 5)
    spread = float(np.ptp(expected["landmarks"]))
    error = np.abs(landmarks - expected["landmarks"])
    assert error.mean() < 0.02 * spread and error.max() < 0.1 * spread, (error.max(), spread)
    assert np.abs(outputs["pose_flag"] - expected["pose_flag"]).max() < 0.02


def test_uint8_image_is_fed_as_is_to_a_1_over_255_input(tiny):
    """MediaPipe's uint8 input (scale 1/255, zero point 0): the uint8 image and the float crop
    it makes (image / 255) are the same input."""
    convert, _ = tiny
    runner = runtimes.TFLiteRunner(convert(tf.uint8, tf.int8, "uint8_image.tflite"))
    scale, zero_point = runner.input_quantization
    assert zero_point == 0 and scale == pytest.approx(1 / 255, rel=1e-6)
    image = np.random.default_rng(4).integers(0, 256, (2, SIZE, SIZE, 3), dtype=np.uint8)
    np.testing.assert_array_equal(runner.feed(image[0]), image[:1])
    as_image = runner(image)
    as_crop = runner(image.astype(np.float32) / 255)
    for key in as_image:
        np.testing.assert_array_equal(as_image[key], as_crop[key])


def test_googles_file_outputs_in_the_signature_layout():
    """Google's file names its outputs Identity, Identity_1, ...; the runner gives our keys and
    the crop signature's [N, 39, 5] / [N, 39, 3] landmark layout."""
    runner = runtimes.TFLiteRunner(files.fetch_model_file("full"))
    assert runner.kind == "landmark" and runner.input_shape == (1, 256, 256, 3)
    assert runner.output_shapes == {"landmarks": (39, 5), "pose_flag": (1,),
                                    "segmentation": (256, 256, 1), "heatmap": (64, 64, 39),
                                    "world_landmarks": (39, 3)}
    outputs = runner(np.zeros((2, 256, 256, 3), np.float32), keys=("landmarks", "pose_flag"))
    assert outputs["landmarks"].shape == (2, 39, 5) and outputs["pose_flag"].shape == (2, 1)


def test_task_bundle_runs_its_landmark_network(tmp_path):
    """A ``.task`` bundle (here of Google's two files) runs its pose_landmarks_detector.tflite,
    exactly as the file alone."""
    landmarks = files.fetch_model_file("full")
    task = mediapipe_task.write_task(tmp_path / "pose_landmarker.task",
                                     files.fetch_model_file("detector").read_bytes(),
                                     landmarks.read_bytes(), "test")
    bundled, alone = runtimes.TFLiteRunner(task), runtimes.TFLiteRunner(landmarks)
    assert bundled.source == f"{task}!{mediapipe_task.LANDMARK_FILE}"
    assert bundled.output_shapes == alone.output_shapes
    crop = np.random.default_rng(5).uniform(0, 1, (1, 256, 256, 3)).astype(np.float32)
    ours, theirs = bundled(crop), alone(crop)
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key])
