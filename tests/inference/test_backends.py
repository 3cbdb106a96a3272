"""Backends find the outputs of Google's files and of files exported from our Keras models."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from blazepose.inference import backends

GOOGLE_LANDMARK_SHAPES = {"Identity": (1, 195), "Identity_1": (1, 1),
                          "Identity_2": (1, 256, 256, 1), "Identity_3": (1, 64, 64, 39),
                          "Identity_4": (1, 117)}


def test_output_keys_by_google_names_our_names_and_shapes():
    kind, mapping = backends.resolve_output_keys(GOOGLE_LANDMARK_SHAPES)
    assert kind == "landmark" and mapping["Identity_3"] == "heatmap"
    ours = {"landmarks": (1, 39, 5), "world_landmarks": (1, 39, 3), "pose_flag": (1, 1),
            "heatmap": (1, 64, 64, 39)}
    assert backends.resolve_output_keys(ours) == ("landmark", {k: k for k in ours})
    # An exporter's anonymous names: found by shape.
    anonymous = {f"StatefulPartitionedCall:{i}": shape for i, shape in
                 enumerate(GOOGLE_LANDMARK_SHAPES.values())}
    kind, mapping = backends.resolve_output_keys(anonymous)
    assert sorted(mapping.values()) == sorted(backends.LANDMARK_KEYS)
    assert mapping["StatefulPartitionedCall:4"] == "world_landmarks"
    kind, mapping = backends.resolve_output_keys({"a": (1, 2254, 12), "b": (1, 2254, 1)})
    assert kind == "detector" and mapping == {"a": "boxes", "b": "scores"}
    with pytest.raises(backends.BackendError, match="cannot tell the outputs apart.*x"):
        backends.resolve_output_keys({"x": (1, 1000), "y": (1, 7)})


def _tiny_landmark_model(size=32, count=39):
    """Our output conventions on a tiny network, for exporting quickly."""
    image = keras.Input((size, size, 3), name="image")
    features = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="conv")(image)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = {
        "landmarks": keras.layers.Reshape((count, 5))(keras.layers.Dense(count * 5)(pooled)),
        "world_landmarks": keras.layers.Reshape((count, 3))(keras.layers.Dense(count * 3)(
            pooled)),
        "pose_flag": keras.layers.Dense(1, activation="sigmoid")(pooled),
        "heatmap": keras.layers.Conv2D(count, 1, name="heatmap")(features),
        "segmentation": keras.layers.Conv2D(1, 1)(features),
    }
    return keras.Model(image, outputs, name="tiny")


def test_an_exported_tflite_file_and_savedmodel_run_like_the_keras_model(tmp_path):
    model = _tiny_landmark_model()
    image = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
    expected = backends.KerasBackend(model)(image)
    assert set(expected) == set(backends.LANDMARK_KEYS)

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    path = tmp_path / "tiny.tflite"
    path.write_bytes(converter.convert())
    tflite = backends.make_backend(str(path), num_threads=1)
    assert isinstance(tflite, backends.TFLiteBackend)
    assert (tflite.kind, tflite.input_size) == ("landmark", 32)
    outputs = tflite(image)
    for key, value in expected.items():
        np.testing.assert_allclose(outputs[key].reshape(value.shape), value, atol=1e-5,
                                   err_msg=key)

    saved = tmp_path / "saved"
    model.export(str(saved), verbose=False)
    restored = backends.make_backend(str(saved))
    assert (restored.kind, restored.input_size) == ("landmark", 32)
    outputs = restored(image[None], keys=["landmarks", "pose_flag"])
    assert set(outputs) == {"landmarks", "pose_flag"}
    np.testing.assert_allclose(outputs["landmarks"], expected["landmarks"], atol=1e-5)


def test_google_files_and_bad_paths(tflite_detector, tflite_landmarks, tmp_path):
    assert (tflite_detector.kind, tflite_detector.input_size) == ("detector", 224)
    assert (tflite_landmarks.kind, tflite_landmarks.input_size) == ("landmark", 256)
    outputs = tflite_landmarks(np.zeros((256, 256, 3), np.float32), keys=["pose_flag"])
    assert list(outputs) == ["pose_flag"] and outputs["pose_flag"].shape == (1, 1)
    with pytest.raises(FileNotFoundError, match="missing.tflite"):
        backends.TFLiteBackend(tmp_path / "missing.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer")
    with pytest.raises(backends.BackendError, match="junk.tflite"):
        backends.TFLiteBackend(junk)
