"""The detector's anchors (MediaPipe's SSD anchor rule) against values worked out by hand."""

import math

import numpy as np
import pytest

from blazepose import detector_anchors as detection

NUM_ANCHORS = 2254


# --- anchors -------------------------------------------------------------------------------------


def test_anchor_grids_merge_equal_strides():
    grids = detection.anchor_grids()
    assert [(g.stride, g.grid_height, g.grid_width, g.anchors_per_cell) for g in grids] == [
        (8, 28, 28, 2), (16, 14, 14, 2), (32, 7, 7, 6)]
    # Scales by hand: layer i has 0.1484375 + (0.75 - 0.1484375) * i / 4, the interpolated
    # anchor sqrt(scale_i * scale_{i+1}), the last one sqrt(0.75 * 1).
    assert grids[0].anchor_sizes[0] == (0.1484375, 0.1484375)
    assert grids[0].anchor_sizes[1][0] == pytest.approx(math.sqrt(0.1484375 * 0.298828125))
    assert grids[2].anchor_sizes[-1][0] == pytest.approx(math.sqrt(0.75))
    assert sum(g.num_anchors for g in grids) == NUM_ANCHORS


def test_anchor_centres_by_hand():
    anchors = detection.generate_anchors()
    assert anchors.shape == (NUM_ANCHORS, 2) and anchors.dtype == np.float32
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28], rtol=1e-6)
    np.testing.assert_array_equal(anchors[0], anchors[1])  # two anchors per cell, consecutive
    np.testing.assert_allclose(anchors[2], [1.5 / 28, 0.5 / 28], rtol=1e-6)  # next column
    np.testing.assert_allclose(anchors[56], [0.5 / 28, 1.5 / 28], rtol=1e-6)  # next row
    np.testing.assert_allclose(anchors[1567], [27.5 / 28, 27.5 / 28], rtol=1e-6)
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14], rtol=1e-6)
    np.testing.assert_allclose(anchors[1568 + 2 * (3 * 14 + 5)], [5.5 / 14, 3.5 / 14], rtol=1e-6)
    np.testing.assert_allclose(anchors[1960:1966], [[0.5 / 7, 0.5 / 7]] * 6, rtol=1e-6)
    np.testing.assert_allclose(anchors[1966], [1.5 / 7, 0.5 / 7], rtol=1e-6)
    np.testing.assert_allclose(anchors[-1], [6.5 / 7, 6.5 / 7], rtol=1e-6)


def test_anchor_sizes():
    with_sizes = detection.generate_anchors(with_sizes=True)
    assert with_sizes.shape == (NUM_ANCHORS, 4)
    np.testing.assert_array_equal(with_sizes[:, 2:], 1.0)  # fixed_anchor_size
    free = detection.generate_anchors(
        detection.SsdAnchorOptions(fixed_anchor_size=False), with_sizes=True)
    np.testing.assert_allclose(free[0, 2:], [0.1484375, 0.1484375])
    np.testing.assert_allclose(free[1967, 2:], [0.5189949652219964] * 2, rtol=1e-6)


def test_anchor_rule_for_other_options():
    options = detection.SsdAnchorOptions(input_height=128, input_width=96, strides=(16, 32),
                                         aspect_ratios=(1.0, 2.0),
                                         interpolated_scale_aspect_ratio=0.0)
    anchors = detection.generate_anchors(options)
    assert anchors.shape == (8 * 6 * 2 + 4 * 3 * 2, 2)
    np.testing.assert_allclose(anchors[2], [1.5 / 6, 0.5 / 8], rtol=1e-6)
    sizes = detection.anchor_grids(options)[0].anchor_sizes
    assert sizes[1] == pytest.approx((0.1484375 * math.sqrt(2), 0.1484375 / math.sqrt(2)))


@pytest.mark.parametrize("kwargs, message", [
    ({"strides": ()}, "strides"),
    ({"strides": (8, 0)}, "strides"),
    ({"aspect_ratios": (1.0, -1.0)}, "aspect ratios"),
    ({"aspect_ratios": (), "interpolated_scale_aspect_ratio": 0.0}, "no anchors"),
    ({"input_height": 0}, "input size"),
])
def test_bad_anchor_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        detection.SsdAnchorOptions(**kwargs)
