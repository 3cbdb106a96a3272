"""Google's own files against our networks with the imported weights.

The files are fetched through the package registry (the mediapipe==0.10.21 wheel, ~36 MB, once)
into the cache of ``blazepose.pretrained.files.default_cache_dir()`` and re-used afterwards.
"""

import numpy as np
import pytest
import tensorflow as tf

from blazepose import samples
from blazepose.pretrained import files, importer, parity
from blazepose.pretrained.interpreter import make_interpreter


@pytest.fixture(scope="module")
def photo():
    path = samples.fetch_sample("astronaut")
    return tf.io.decode_png(tf.io.read_file(str(path)), channels=3).numpy()


@pytest.fixture(scope="module", params=["full", "detector"])
def pair(request):
    """(name, our model with Google's weights, interpreter on Google's file)."""
    name = request.param
    model = importer.load_mediapipe_model(name)
    interpreter = make_interpreter(files.fetch_model_file(name))
    return name, model, interpreter


def test_real_photo_meets_the_parity_goals(pair, photo):
    name, model, interpreter = pair
    make_inputs = parity.landmark_inputs if name == "full" else parity.detector_inputs
    figures = parity.compare(parity.keras_runner(model),
                             parity.tflite_runner(interpreter, parity.OUTPUT_MAPS[name]),
                             make_inputs(photo, count=0))
    for output, goal in parity.PARITY_GOALS[name].items():
        assert figures[output]["max_abs"] <= goal, (output, figures[output])


def test_differences_are_float32_rounding_no_larger_than_tflites_own(pair, photo):
    """On random inputs outputs can be extreme (landmarks hundreds of pixels out of the crop),
    where float32 itself is coarse. Against the same network evaluated in float64, our float32
    error must stay within that of Google's runtime (a real implementation difference, such as a
    wrong padding or resize, is orders of magnitude larger)."""
    name, model, interpreter = pair
    make_inputs = parity.landmark_inputs if name == "full" else parity.detector_inputs
    images = make_inputs(photo, count=2, seed=7)
    truth = parity.keras_runner(parity.float64_twin(model, parity.BUILDERS[name]))
    ours = parity.compare(parity.keras_runner(model), truth, images)
    theirs = parity.compare(parity.tflite_runner(interpreter, parity.OUTPUT_MAPS[name]), truth,
                            images)
    for output in ours:
        assert ours[output]["max_abs"] <= 2 * theirs[output]["max_abs"] + 1e-6, (
            output, ours[output], theirs[output])


def test_the_file_was_really_used(pair):
    """Guards against a comparison of two untrained networks: outputs carry information."""
    name, model, _ = pair
    image = np.random.default_rng(3).random((1, *model.inputs[0].shape[1:]), dtype=np.float32)
    fresh = parity.BUILDERS[name]()
    ours = parity.split_outputs(parity.keras_runner(model)(image))
    untrained = parity.split_outputs(parity.keras_runner(fresh)(image))
    key = "heatmap" if name == "full" else "scores"
    assert np.abs(ours[key] - untrained[key]).max() > 1.0


def test_converted_landmarks_find_the_face(photo):
    """On the astronaut portrait the nose lands between the eyes and above the mouth."""
    from blazepose import topology
    from blazepose.model import decoding

    model = importer.load_mediapipe_model("full")
    crop = tf.image.resize(photo.astype(np.float32) / 255.0, (256, 256))[tf.newaxis]
    outputs = model(crop, training=False)
    landmarks = decoding.decode_outputs(outputs)["landmarks"].numpy()[0]
    assert float(outputs["pose_flag"][0, 0]) > 0.5

    def point(name):
        return landmarks[topology.BLAZEPOSE_33.index(name), :2]

    nose, left_eye, right_eye = point("NOSE"), point("LEFT_EYE"), point("RIGHT_EYE")
    mouth = (point("MOUTH_LEFT") + point("MOUTH_RIGHT")) / 2
    assert right_eye[0] < nose[0] < left_eye[0]  # facing the camera: her left on image right
    assert max(left_eye[1], right_eye[1]) < nose[1] < mouth[1]
    # The face of this 512 px portrait is around x 150..300, y 50..170.
    assert 150 / 512 < nose[0] < 300 / 512 and 50 / 512 < nose[1] < 170 / 512
    shoulders = point("LEFT_SHOULDER")[1], point("RIGHT_SHOULDER")[1]
    assert min(shoulders) > mouth[1]


def test_initialize_a_16_keypoint_model_from_googles_weights(caplog):
    import blazepose

    google = importer.load_mediapipe_model("full")
    model = blazepose.build_model("full", num_keypoints=16)
    with caplog.at_level("INFO", logger="blazepose.pretrained.importer"):
        report = importer.initialize_from(model, "mediapipe_full")
    assert set(report.fresh) == {"heatmap", "reg_landmarks", "reg_world"}
    for name in ("stem_conv", "trunk_dw", "tap64_conv", "reg_flag"):
        for ours, theirs in zip(model.get_layer(name).weights, google.get_layer(name).weights):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)
    assert any("3 fresh" in record.getMessage() for record in caplog.records)
