"""The landmark network: structure against Google's graph, variants, options, saving."""

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

import blazepose
from blazepose.model import architecture, landmark

# Sum of the weight elements of pose_landmark_full.tflite (MediaPipe 0.10.21), also recomputed
# from the reference graph below when it is present.
GOOGLE_FULL_PARAMETERS = 3_169_489
REFERENCE_GRAPH = "pose_landmark_full.graph.compact.txt"


def _random_image(batch=1, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (batch, 256, 256, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def full_model():
    return blazepose.build_model("full")


def test_full_output_shapes_and_parameter_count(full_model):
    outputs = full_model(_random_image(2), training=False)
    assert set(outputs) == set(landmark.OUTPUT_KEYS)
    assert tuple(outputs["landmarks"].shape) == (2, 39, 5)
    assert tuple(outputs["world_landmarks"].shape) == (2, 39, 3)
    assert tuple(outputs["pose_flag"].shape) == (2, 1)
    assert tuple(outputs["heatmap"].shape) == (2, 64, 64, 39)
    assert tuple(outputs["segmentation"].shape) == (2, 256, 256, 1)
    flag = outputs["pose_flag"].numpy()
    assert np.all((flag >= 0) & (flag <= 1)), "pose flag is a probability"
    assert full_model.count_params() == GOOGLE_FULL_PARAMETERS


def test_full_is_layer_for_layer_googles_graph(full_model, reference_graph, model_conv_ops):
    expected = reference_graph(REFERENCE_GRAPH)
    ours = model_conv_ops(full_model)
    assert len(ours) == len(expected)
    missing = collections.Counter(expected) - collections.Counter(ours)
    extra = collections.Counter(ours) - collections.Counter(expected)
    assert not missing and not extra, f"missing {missing}, unexpected {extra}"
    total = sum(int(np.prod(s)) for op in expected for s in op[4])
    assert total == full_model.count_params()


def test_stride2_encoder_layers_pad_explicitly(full_model):
    names = {layer.name for layer in full_model.layers}
    for layer in full_model.layers:
        is_conv = isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D)
        if is_conv and layer.strides == (2, 2) and not layer.name.startswith("reg_"):
            assert layer.padding == "valid", layer.name
            assert f"{layer.name}_pad" in names or layer.name == "stem_conv", layer.name
        if is_conv and layer.strides == (2, 2) and layer.name.startswith("reg_"):
            assert layer.padding == "same", layer.name


@pytest.mark.parametrize("variant", sorted(architecture.VARIANTS))
def test_variants_build_and_run(variant):
    model = blazepose.build_model(variant)
    outputs = model(_random_image(), training=False)
    assert tuple(outputs["landmarks"].shape) == (1, 39, 5)
    assert tuple(outputs["heatmap"].shape) == (1, 64, 64, 39)
    assert tuple(outputs["segmentation"].shape) == (1, 256, 256, 1)
    assert np.all(np.isfinite(outputs["landmarks"].numpy()))


def test_variant_sizes_are_ordered():
    counts = {v: blazepose.build_model(v).count_params() for v in architecture.VARIANTS}
    assert counts["lite"] < counts["full"] / 2
    assert counts["heavy"] > counts["full"] * 3


def test_custom_keypoint_count_resizes_heads_only(full_model):
    model = blazepose.build_model("full", num_keypoints=16)
    outputs = model(_random_image(), training=False)
    assert tuple(outputs["landmarks"].shape) == (1, 16, 5)
    assert tuple(outputs["world_landmarks"].shape) == (1, 16, 3)
    assert tuple(outputs["heatmap"].shape) == (1, 64, 64, 16)
    heads = {"heatmap", "reg_landmarks", "reg_world"}
    for layer in model.layers:
        reference_shapes = [w.shape for w in full_model.get_layer(layer.name).weights]
        shapes = [w.shape for w in layer.weights]
        if layer.name in heads:
            assert shapes != reference_shapes, layer.name
        else:
            assert shapes == reference_shapes, layer.name


def test_extra_landmarks_configurable():
    model = blazepose.build_model("lite", num_keypoints=33, num_extra_landmarks=2)
    assert tuple(model.output["landmarks"].shape) == (None, 35, 5)
    model = blazepose.build_model("lite", num_keypoints=17, num_extra_landmarks=None)
    assert tuple(model.output["landmarks"].shape) == (None, 17, 5)


def test_offset_head():
    model = blazepose.build_model("lite", num_keypoints=16, offset_head=True)
    outputs = model(_random_image(), training=False)
    assert tuple(outputs["offsets"].shape) == (1, 64, 64, 32)
    assert set(outputs) == set(landmark.OUTPUT_KEYS) | {"offsets"}


def _trunk_gradient_norm(model):
    image = tf.constant(_random_image())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(image, training=True)["landmarks"])
    trunk = model.get_layer("trunk_expand").kernel
    regression = model.get_layer("reg_landmarks").kernel
    grad_trunk, grad_regression = tape.gradient(loss, [trunk, regression])
    assert grad_regression is not None and float(tf.norm(grad_regression)) > 0
    return 0.0 if grad_trunk is None else float(tf.norm(grad_trunk))


def test_stop_regression_gradient_blocks_trunk_updates():
    assert _trunk_gradient_norm(blazepose.build_model("lite")) > 0
    assert _trunk_gradient_norm(blazepose.build_model("lite", stop_regression_gradient=True)) == 0


def test_keras_round_trip_is_bit_identical(tmp_path):
    model = blazepose.build_model("lite", num_keypoints=16, offset_head=True,
                                  stop_regression_gradient=True)
    # Non-trivial weights: perturb every variable so a lost weight would show.
    rng = np.random.default_rng(1)
    for variable in model.weights:
        variable.assign(variable.numpy() + rng.normal(0, 0.01, variable.shape).astype(np.float32))
    image = _random_image(2, seed=3)
    before = model(image, training=False)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    after = reloaded(image, training=False)
    assert set(after) == set(before)
    for key in before:
        np.testing.assert_array_equal(np.asarray(after[key]), np.asarray(before[key]), err_msg=key)
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]


def test_layer_names_are_meaningful_and_unique(full_model):
    names = [layer.name for layer in full_model.layers]
    assert len(names) == len(set(names))
    prefixes = ("image", "stem_", "enc", "tap", "trunk_", "dec", "heatmap", "seg", "reg",
                "landmarks", "world_landmarks", "pose_flag")
    assert all(name.startswith(prefixes) for name in names), [
        n for n in names if not n.startswith(prefixes)]


@pytest.mark.parametrize("kwargs, message", [
    ({"variant": "medium"}, "unknown BlazePose variant"),
    ({"num_keypoints": 0}, "num_keypoints"),
    ({"num_keypoints": -3}, "num_keypoints"),
    ({"num_keypoints": 2.5}, "num_keypoints"),
    ({"num_keypoints": True}, "num_keypoints"),
    ({"num_extra_landmarks": -1}, "num_extra_landmarks"),
])
def test_bad_configuration_is_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        blazepose.build_model(**kwargs)


def test_architecture_validation():
    with pytest.raises(ValueError, match="4 encoder stages"):
        architecture.LandmarkArchitecture(
            stem_channels=24, stem_output_channels=16, stages=architecture.FULL.stages[:3],
            trunk_channels=864, decoder_channels=48, segmentation_channels=8,
            regression_channels=288, regression_blocks=(4, 5))
    with pytest.raises(ValueError, match="width and depth"):
        architecture.scale_architecture(architecture.FULL, width=0, depth=1)


def test_scale_architecture_identity_and_rounding():
    assert architecture.scale_architecture(architecture.FULL, 1.0, 1.0) == architecture.FULL
    half = architecture.scale_architecture(architecture.FULL, 0.5, 1.0)
    assert half.trunk_channels == 432
    assert all(b.out % 8 == 0 and b.expand % 8 == 0 for s in half.stages for b in s)
    deeper = architecture.scale_architecture(architecture.FULL, 1.0, 2.0)
    for base_stage, stage in zip(architecture.FULL.stages, deeper.stages):
        assert len(stage) == 1 + 2 * (len(base_stage) - 1)
