"""The person detector: structure against Google's graph, output layout, custom layer, saving."""

import collections
import os
import pathlib
import re

import keras
import numpy as np
import pytest

from blazepose import detector_anchors as detection
from blazepose.model import detector
from blazepose.model.layers import DepthToSpace

# Sum of the weight elements of pose_detection.tflite (MediaPipe 0.10.21), also recomputed from
# the reference graph below when it is present.
GOOGLE_DETECTOR_PARAMETERS = 2_965_314
REFERENCE_GRAPH = "pose_detection.graph.compact.txt"


def _random_image(batch=1, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, 224, 224, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return detector.build_detector_model()


@pytest.fixture(scope="module")
def reference_ops_text():
    """Op lines of the detector's graph dump (skips like ``reference_graph`` when it is absent)."""
    root = pathlib.Path(__file__).resolve().parents[2]
    candidates = [root.parent / "shared" / "reference", root / "shared" / "reference"]
    if os.environ.get("BLAZEPOSE_REFERENCE_DIR"):
        candidates.insert(0, pathlib.Path(os.environ["BLAZEPOSE_REFERENCE_DIR"]))
    for directory in candidates:
        if (directory / REFERENCE_GRAPH).exists():
            return [line for line in (directory / REFERENCE_GRAPH).read_text().splitlines()
                    if line.startswith("op")]
    pytest.skip("shared/reference (Google's graph dumps) is not beside this checkout; "
                "set BLAZEPOSE_REFERENCE_DIR")


def test_output_shapes_and_parameter_count(model):
    outputs = model(_random_image(2), training=False)
    assert set(outputs) == set(detector.OUTPUT_KEYS)
    assert tuple(outputs["boxes"].shape) == (2, detector.NUM_ANCHORS, 12)
    assert tuple(outputs["scores"].shape) == (2, detector.NUM_ANCHORS, 1)
    assert outputs["boxes"].dtype == "float32"
    assert np.all(np.isfinite(outputs["boxes"].numpy()))
    assert model.count_params() == GOOGLE_DETECTOR_PARAMETERS
    assert tuple(model.input.shape) == (None, 224, 224, 3)


def test_is_op_for_op_googles_graph(model, reference_graph, model_conv_ops):
    expected = reference_graph(REFERENCE_GRAPH)
    ours = model_conv_ops(model)
    assert len(ours) == len(expected) == 73
    missing = collections.Counter(expected) - collections.Counter(ours)
    extra = collections.Counter(ours) - collections.Counter(expected)
    assert not missing and not extra, f"missing {missing}, unexpected {extra}"
    total = sum(int(np.prod(s)) for op in expected for s in op[4])
    assert total == model.count_params() == GOOGLE_DETECTOR_PARAMETERS


def test_weightless_ops_match_googles_graph(model, reference_ops_text):
    """ADD (fused RELU6 or not), PAD amounts, DEPTH_TO_SPACE, RESIZE_BILINEAR, heads' RESHAPE."""

    def count(pattern):
        return sum(1 for line in reference_ops_text if re.match(pattern, line))

    kinds = collections.Counter(type(layer).__name__ for layer in model.layers)
    assert kinds["Add"] == count(r"op\d+ ADD ")
    assert kinds["Activation"] == count(r"op\d+ ADD\s+RELU6")
    assert kinds["DepthToSpace"] == count(r"op\d+ DEPTH_TO_SPACE")
    assert kinds["UpSampling2D"] == count(r"op\d+ RESIZE_BILINEAR\s+align_corners=False "
                                          r"half_pixel_centers=True")
    assert kinds["Reshape"] == count(r"op\d+ RESHAPE")
    assert kinds["Concatenate"] == count(r"op\d+ CONCATENATION")
    google_pads = collections.Counter(
        int(m.group(1)) for line in reference_ops_text
        if (m := re.search(r"PAD .*pads=\[\[0, 0\], \[(\d), \1\], \[\1, \1\], \[0, 0\]\]", line)))
    ours = collections.Counter(layer.padding[0][0] for layer in model.layers
                               if isinstance(layer, keras.layers.ZeroPadding2D))
    assert google_pads == ours and sum(ours.values()) == count(r"op\d+ PAD ")


def test_every_residual_relu6_follows_an_add(model):
    for layer in model.layers:
        if isinstance(layer, keras.layers.Activation):
            assert layer.get_config()["activation"] == "relu6", layer.name
            assert isinstance(layer.input._keras_history[0], keras.layers.Add), layer.name


def test_stride2_layers_pad_explicitly_and_symmetrically(model):
    stride2 = [layer for layer in model.layers
               if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D)
               and layer.strides == (2, 2)]
    assert len(stride2) == 1 + 4 + 6  # stem, four encoder stages, six head convolutions
    for layer in stride2:
        assert layer.padding == "valid", layer.name
        source = layer.input._keras_history[0]
        assert isinstance(source, keras.layers.ZeroPadding2D), layer.name
        half = layer.kernel_size[0] // 2
        assert source.padding == ((half, half), (half, half)), layer.name


def test_output_layout_follows_the_anchor_order(model):
    """With zero head kernels the outputs are the head biases: which head and anchor is where."""
    saved = model.get_weights()
    try:
        for grid, anchors_per_cell in detector.HEAD_GRIDS:
            scores = model.get_layer(f"head{grid}_scores_conv")
            boxes = model.get_layer(f"head{grid}_boxes_conv")
            for conv, dims in ((scores, 1), (boxes, 12)):
                conv.kernel.assign(np.zeros(conv.kernel.shape, np.float32))
                bias = 1000 * grid + np.arange(anchors_per_cell * dims, dtype=np.float32)
                conv.bias.assign(bias)
        outputs = model(_random_image(), training=False)
    finally:
        model.set_weights(saved)
    scores = outputs["scores"].numpy()[0, :, 0]
    boxes = outputs["boxes"].numpy()[0]
    start = 0
    for grid in detection.anchor_grids():
        assert (grid.grid_height, grid.grid_width) in {(g, g) for g, _ in detector.HEAD_GRIDS}
        count = grid.num_anchors
        anchor = np.arange(count) % grid.anchors_per_cell  # anchors of a cell are consecutive
        np.testing.assert_array_equal(scores[start:start + count],
                                      1000 * grid.grid_height + anchor)
        expected_boxes = 1000 * grid.grid_height + anchor[:, None] * 12 + np.arange(12)
        np.testing.assert_array_equal(boxes[start:start + count], expected_boxes)
        start += count
    assert start == detector.NUM_ANCHORS == detection.generate_anchors().shape[0]


def test_depth_to_space_is_tensorflows_dcr_order():
    layer = DepthToSpace(2)
    x = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8)  # 2 output channels
    y = np.asarray(layer(x))
    assert y.shape == (1, 2, 2, 2)
    # Output pixel (i, j), channel c <- input channel (2 i + j) * 2 + c.
    np.testing.assert_array_equal(y[0, :, :, 0], [[0, 2], [4, 6]])
    np.testing.assert_array_equal(y[0, :, :, 1], [[1, 3], [5, 7]])
    assert layer.compute_output_shape((None, 7, 7, 1152)) == (None, 14, 14, 288)
    assert DepthToSpace.from_config(DepthToSpace(3, name="d").get_config()).block_size == 3


@pytest.mark.parametrize("block_size", [1, 0, 2.0, True])
def test_depth_to_space_rejects_bad_block_sizes(block_size):
    with pytest.raises(ValueError, match="block_size must be an integer >= 2"):
        DepthToSpace(block_size)


def test_depth_to_space_rejects_indivisible_channels():
    with pytest.raises(ValueError, match="divisible by 4"):
        DepthToSpace(2)(keras.Input((7, 7, 6)))


def test_keras_round_trip_is_bit_identical(model, tmp_path):
    saved = model.get_weights()
    try:
        # Non-trivial weights: perturb every variable so a lost weight would show.
        rng = np.random.default_rng(1)
        model.set_weights([w + rng.normal(0, 0.01, w.shape).astype(np.float32) for w in saved])
        image = _random_image(2, seed=3)
        before = model(image, training=False)
        path = tmp_path / "detector.keras"
        model.save(path)
        reloaded = keras.models.load_model(path, safe_mode=True)
    finally:
        model.set_weights(saved)
    after = reloaded(image, training=False)
    assert set(after) == set(before)
    for key in before:
        np.testing.assert_array_equal(np.asarray(after[key]), np.asarray(before[key]), err_msg=key)
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]
    assert reloaded.name == "blazepose_detector"


def test_layer_names_are_meaningful_and_unique(model):
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    prefixes = ("image", "stem_", "enc56_", "enc28_", "enc14_", "enc7_", "trunk_", "tap28_",
                "tap14_", "dec14_", "dec28_", "head28_", "head14_", "head7_")
    assert all(name.startswith(prefixes) or name in ("boxes", "scores") for name in names), [
        n for n in names if not n.startswith(prefixes)]
