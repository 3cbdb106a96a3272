"""Quantisation-aware networks: the rounding they simulate, their ranges, their float twin, and
that TFLite's converter turns them into full-integer models that compute what they compute."""

from __future__ import annotations

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

from blazepose.export import converters
from blazepose.model import quantization
from blazepose.pretrained.interpreter import make_interpreter


def tiny_network(seed: int = 0) -> keras.Model:
    """The layer kinds of the BlazePose networks, small: padded stride-2 conv from the input,
    depthwise + linear projection with a residual add, add + ReLU6, bilinear upsampling, a
    max-pool shortcut, and a sigmoid head beside a linear one."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    image = keras.Input((32, 32, 3), name="image")
    x = layers.ZeroPadding2D(1, name="stem_pad")(image)
    x = layers.Conv2D(8, 3, strides=2, activation="relu6", name="stem_conv")(x)
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu6", name="block_dw")(x)
    y = layers.Conv2D(8, 1, name="block_project")(y)
    x = layers.Add(name="block_add")([x, y])
    pooled = layers.MaxPooling2D(2, name="down_pool")(x)
    z = layers.DepthwiseConv2D(3, strides=2, padding="same", name="down_dw")(x)
    z = layers.Conv2D(8, 1, name="down_conv")(z)
    z = layers.Add(name="down_add")([pooled, z])
    z = layers.Activation("relu6", name="down_relu6")(z)
    up = layers.UpSampling2D(2, interpolation="bilinear", name="up")(z)
    features = layers.Add(name="up_add")([up, x])
    heat = layers.Conv2D(4, 1, name="heatmap")(features)
    flag = layers.Conv2D(1, 8, activation="sigmoid", name="flag")(z)
    points = layers.Conv2D(6, 8, name="points")(z)
    return keras.Model(image, {"heatmap": heat, "flag": layers.Reshape((1,), name="pose_flag")(
        flag), "points": layers.Reshape((6,), name="landmarks")(points)}, name="tiny")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(3)
    base = rng.random((1, 8, 8, 3), dtype=np.float32)
    smooth = tf.image.resize(base, (32, 32)).numpy()  # images, not white noise
    return np.clip(smooth + 0.05 * rng.standard_normal((12, 32, 32, 3)), 0, 1).astype(
        np.float32)


@pytest.fixture(scope="module")
def calibrated(images):
    model = tiny_network()
    quantized = quantization.quantize_model(model)
    quantization.calibrate(quantized, [images[:6], images[6:]])
    return model, quantized


def _numpy(outputs):
    return {key: np.asarray(value) for key, value in outputs.items()}


def test_weights_are_rounded_per_output_channel_to_127_steps():
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((3, 3, 4, 5)).astype(np.float32) * np.array(
        [0.01, 0.1, 1, 10, 100], np.float32)
    rounded = quantization.quantize_weights_per_channel(tf.constant(kernel)).numpy()
    steps = np.abs(kernel).max(axis=(0, 1, 2)) / 127
    levels = rounded / steps
    np.testing.assert_allclose(levels, np.round(levels), atol=2e-3)
    assert np.abs(levels).max() <= 127.001
    assert np.all(np.abs(rounded - kernel) <= steps / 2 * 1.001)
    # Depthwise kernels [kh, kw, C, 1]: one scale per channel C.
    depthwise = kernel[..., :1] * np.array([0.01, 1, 100, 1], np.float32)[:, None]
    rounded = quantization.quantize_weights_per_channel(tf.constant(depthwise), depthwise=True)
    steps = np.abs(depthwise).max(axis=(0, 1, 3)) / 127
    levels = rounded.numpy()[..., 0] / steps
    np.testing.assert_allclose(levels, np.round(levels), atol=2e-3)


def test_the_twin_has_the_same_layers_and_its_float_twin_computes_the_float_network(images):
    model = tiny_network()
    quantized = quantization.quantize_model(model)
    assert [layer.name for layer in quantized.layers] == [layer.name for layer in model.layers]
    kinds = {layer.name: type(layer).__name__ for layer in quantized.layers}
    assert kinds["stem_conv"] == "QuantizedConv2D" and quantized.get_layer(
        "stem_conv").quantize_input == quantization.INPUT_RANGE
    assert kinds["block_dw"] == "QuantizedDepthwiseConv2D"
    assert quantized.get_layer("down_add").fused and not quantized.get_layer("up_add").fused
    assert kinds["up"] == "UpSampling2D"
    twin = quantization.float_twin(quantized)
    assert not quantization.is_quantized(twin) and quantization.is_quantized(quantized)
    expected, got = _numpy(model(images)), _numpy(twin(images))
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])


def test_calibration_sets_every_range_and_training_batches_move_it(images, calibrated):
    model, quantized = calibrated
    ranges = quantization.range_report(quantized)
    low, high = ranges["block_project"]
    assert low < 0 < high
    assert ranges["stem_conv"][0] == 0.0 and 0 < ranges["stem_conv"][1] <= 6.0
    before = quantized.get_layer("up_add").range_max.numpy()
    quantized(images * 3.0, training=True)  # a brighter batch widens the tracked range
    assert quantized.get_layer("up_add").range_max.numpy() > before
    quantized.get_layer("up_add").range_max.assign(before)
    with pytest.raises(ValueError, match="calibration set no range"):
        quantization.calibrate(quantization.quantize_model(model), [])


def test_the_quantised_network_rounds_but_stays_close_to_the_float_one(images, calibrated):
    model, quantized = calibrated
    expected, got = _numpy(model(images)), _numpy(quantized(images, training=False))
    for key in expected:
        error = np.abs(got[key] - expected[key])
        spread = np.abs(expected[key]).max()
        assert error.max() > 0, key  # it does round
        assert error.mean() < 0.1 * spread, key
    # The sigmoid output is on TFLite's fixed [0, 1] grid of 255 steps.
    levels = got["flag"] * 255
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)


def _ops(flatbuffer: bytes) -> collections.Counter:
    return converters.op_types(flatbuffer)


def _convert(model, tmp_path, **kwargs) -> bytes:
    """As the export converts: a SavedModel (Keras' ExportArchive), its signature re-traced for
    a batch of 1."""
    directory = tmp_path / f"saved_model_{len(list(tmp_path.iterdir()))}"
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", lambda image: model(image, training=False),
                         input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)])
    archive.write_out(str(directory))
    loaded = tf.saved_model.load(str(directory))
    serving = loaded.signatures["serving_default"]
    function = tf.function(lambda image: serving(image=image)).get_concrete_function(
        tf.TensorSpec([1, 32, 32, 3], tf.float32))
    return converters._convert_quantization_aware(function, loaded, what="tiny", **kwargs)


def _run(flatbuffer: bytes, tmp_path, images) -> dict:
    path = tmp_path / "model.tflite"
    path.write_bytes(flatbuffer)
    interpreter = make_interpreter(path, 1)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    results = collections.defaultdict(list)
    for image in images:
        value = image[np.newaxis]
        if source["dtype"] == np.uint8:
            value = np.round(value * 255).astype(np.uint8)
        interpreter.set_tensor(source["index"], value)
        interpreter.invoke()
        for detail in interpreter.get_output_details():
            results[tuple(detail["shape"][1:])].append(interpreter.get_tensor(detail["index"]))
    return {shape: np.concatenate(values) for shape, values in results.items()}


def test_tflite_turns_it_into_a_full_integer_model_that_computes_the_same(images, calibrated,
                                                                          tmp_path):
    _, quantized = calibrated
    flatbuffer = _convert(quantized, tmp_path, int8_input="float32", all_integer=True)
    ops = _ops(flatbuffer)
    compute = {name for name, kind in ops if name not in ("QUANTIZE", "DEQUANTIZE")}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "RESIZE_BILINEAR", "PAD",
            "LOGISTIC"} <= compute
    assert all(kind == "INT8" for name, kind in ops if name in compute), ops
    expected = _numpy(quantized(images, training=False))
    got = _run(flatbuffer, tmp_path, images)
    for key, value in expected.items():
        difference = np.abs(got[value.shape[1:]] - value)
        spread = np.abs(value).max()
        assert difference.mean() < 0.02 * spread, (key, difference.mean(), spread)
    # uint8 input: the same model fed 0..255 pixels (scale 1/255, zero point 0).
    uint8 = _convert(quantized, tmp_path, int8_input="uint8", all_integer=True)
    got_uint8 = _run(uint8, tmp_path, images)
    for shape, value in got.items():
        np.testing.assert_allclose(got_uint8[shape], value, atol=1e-5)


def test_layers_kept_in_float_stay_float_in_the_tflite_model(images, tmp_path):
    model = tiny_network()
    quantized = quantization.quantize_model(model, keep_float=["points"])
    quantization.calibrate(quantized, [images])
    assert type(quantized.get_layer("points")) is keras.layers.Conv2D
    ops = _ops(_convert(quantized, tmp_path, int8_input="float32", all_integer=False))
    assert ops[("CONV_2D", "FLOAT32")] == 1
    assert ops[("CONV_2D", "INT8")] == 5
    with pytest.raises(ValueError, match="no layer named nowhere"):
        quantization.quantize_model(model, keep_float=["nowhere"])
    patterned = quantization.quantize_model(model, keep_float=["down_*"])
    assert {layer.name for layer in patterned.layers if layer.weights and not isinstance(
        layer, quantization.QUANTIZED_TYPES)} == {"down_dw", "down_conv"}


def test_weights_move_between_twins_and_other_networks_are_refused(calibrated):
    model, quantized = calibrated
    fresh = quantization.quantize_model(tiny_network(seed=5), copy_weights=True)
    copied = quantization.copy_float_weights(model, fresh)
    assert "stem_conv" in copied
    np.testing.assert_array_equal(fresh.get_layer("block_dw").kernel.numpy(),
                                  model.get_layer("block_dw").kernel.numpy())
    other = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(
        5, 3, name="stem_conv")], name="other")
    with pytest.raises(ValueError, match="not the same network"):
        quantization.copy_float_weights(other, fresh)


def test_a_saved_quantised_network_keeps_its_ranges(images, calibrated, tmp_path):
    _, quantized = calibrated
    path = tmp_path / "quantized.keras"
    quantized.save(path)
    loaded = keras.models.load_model(path, safe_mode=True, compile=False)
    assert quantization.range_report(loaded) == quantization.range_report(quantized)
    np.testing.assert_array_equal(np.asarray(loaded(images)["points"]),
                                  np.asarray(quantized(images)["points"]))


def test_the_layer_report_ranks_layers_by_their_accumulated_error(images, calibrated):
    model, quantized = calibrated
    rows = quantization.layer_errors(quantization.float_twin(quantized), quantized, images)
    names = [row["layer"] for row in rows]
    assert "down_add" not in names  # fused into down_relu6: no range of its own
    assert set(names) >= {"stem_conv", "block_project", "points", "heatmap"}
    errors = [row["relative_error"] for row in rows]
    assert errors == sorted(errors, reverse=True) and errors[0] > 0
    assert all(row["step"] > 0 for row in rows)
