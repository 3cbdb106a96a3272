"""Tests for blazepose.keypoints: the flip and the BlazePose layouts on every topology, boxes."""

import numpy as np
import pytest

from blazepose.keypoints import (
    box_from_keypoints,
    flip_keypoints,
    from_blazepose_layout,
    to_blazepose_layout,
)
from blazepose.topology import (
    BLAZEPOSE_33,
    COCO_17,
    LSP_14,
    NUM_BLAZEPOSE_LANDMARKS,
    NUM_MODEL_OUTPUT_LANDMARKS,
    PUSHUP_7,
    TOPOLOGIES,
)

by_topology = pytest.mark.parametrize("topology", list(TOPOLOGIES.values()), ids=lambda t: t.name)


@by_topology
@pytest.mark.parametrize("batch_shape", [(), (3,), (2, 4)])
@pytest.mark.parametrize("dims", [2, 3])
def test_to_blazepose_layout_round_trip(topology, batch_shape, dims):
    rng = np.random.default_rng(7)
    count = topology.num_keypoints
    keypoints = rng.uniform(1.0, 255.0, batch_shape + (count, dims)).astype(np.float32)
    visibility = rng.integers(1, 3, batch_shape + (count,)).astype(np.int8)

    points_33, visible_33, labelled_33 = to_blazepose_layout(keypoints, visibility, topology)

    assert points_33.shape == batch_shape + (NUM_BLAZEPOSE_LANDMARKS, dims)
    assert points_33.dtype == keypoints.dtype
    assert visible_33.shape == labelled_33.shape == batch_shape + (NUM_BLAZEPOSE_LANDMARKS,)
    assert visible_33.dtype == visibility.dtype
    assert labelled_33.dtype == bool
    for i, target in enumerate(topology.to_blazepose):
        if target is not None:
            np.testing.assert_array_equal(points_33[..., target, :], keypoints[..., i, :])
            np.testing.assert_array_equal(visible_33[..., target], visibility[..., i])
    targets = {t for t in topology.to_blazepose if t is not None}
    for slot in range(NUM_BLAZEPOSE_LANDMARKS):
        assert labelled_33[..., slot].all() == (slot in targets)
        assert labelled_33[..., slot].any() == (slot in targets)
        if slot not in targets:
            assert not points_33[..., slot, :].any()
            assert not visible_33[..., slot].any()

    back, available = from_blazepose_layout(points_33, topology, fill_value=-1.0)
    mapped = [t is not None for t in topology.to_blazepose]
    np.testing.assert_array_equal(available, mapped)
    np.testing.assert_array_equal(back[..., available, :], keypoints[..., available, :])
    assert (back[..., ~available, :] == -1.0).all()


def test_to_blazepose_layout_defaults_and_fill():
    keypoints = np.arange(LSP_14.num_keypoints * 2, dtype=float).reshape(-1, 2) + 1.0
    points_33, visible_33, labelled_33 = to_blazepose_layout(
        keypoints, None, LSP_14, fill_value=np.nan
    )
    assert (visible_33[labelled_33] == 1).all()
    assert np.isnan(points_33[~labelled_33]).all()
    assert not np.isnan(points_33[labelled_33]).any()


def test_from_blazepose_layout_accepts_model_outputs():
    outputs = np.random.default_rng(0).normal(size=(2, NUM_MODEL_OUTPUT_LANDMARKS, 5))
    points, available = from_blazepose_layout(outputs, BLAZEPOSE_33)
    assert available.all()
    np.testing.assert_array_equal(points, outputs[:, :NUM_BLAZEPOSE_LANDMARKS])


@pytest.mark.parametrize(
    "call",
    [
        lambda: to_blazepose_layout(np.zeros((13, 2)), None, LSP_14),
        lambda: to_blazepose_layout(np.zeros(14), None, LSP_14),
        lambda: to_blazepose_layout(np.zeros((14, 2)), np.zeros(13), LSP_14),
        lambda: from_blazepose_layout(np.zeros((25, 2)), LSP_14),
        lambda: flip_keypoints(np.zeros((3, 16, 2)), 10.0, LSP_14),
    ],
)
def test_array_helpers_reject_wrong_shapes(call):
    with pytest.raises(ValueError, match="shape"):
        call()


@by_topology
def test_flip_twice_is_identity(topology):
    rng = np.random.default_rng(1)
    keypoints = rng.uniform(0.0, 640.0, (5, topology.num_keypoints, 3))
    once = flip_keypoints(keypoints, 640.0, topology)
    twice = flip_keypoints(once, 640.0, topology)
    np.testing.assert_allclose(twice, keypoints)
    assert not np.allclose(once, keypoints)


@by_topology
def test_flip_mirrors_x_and_swaps_partners(topology):
    rng = np.random.default_rng(2)
    width = 100.0
    keypoints = rng.uniform(0.0, width, (topology.num_keypoints, 3))
    flipped = flip_keypoints(keypoints, width, topology)
    for i, j in enumerate(topology.flip_permutation):
        assert flipped[i, 0] == pytest.approx(width - keypoints[j, 0])
        np.testing.assert_array_equal(flipped[i, 1:], keypoints[j, 1:])


def test_flip_uses_pixel_convention():
    # A point at the centre of pixel column 0 of a 4-pixel-wide image lands at the centre of
    # column 3; the image's left border goes to its right border.
    keypoints = np.zeros((COCO_17.num_keypoints, 2))
    nose = COCO_17.index("nose")
    keypoints[nose] = (0.5, 7.0)
    assert flip_keypoints(keypoints, 4, COCO_17)[nose, 0] == 3.5
    keypoints[nose] = (0.0, 7.0)
    assert flip_keypoints(keypoints, 4, COCO_17)[nose, 0] == 4.0


@by_topology
def test_flip_commutes_with_blazepose_layout(topology):
    rng = np.random.default_rng(3)
    keypoints = rng.uniform(0.0, 1.0, (2, topology.num_keypoints, 2))
    flip_then_map, _, labelled = to_blazepose_layout(
        flip_keypoints(keypoints, 1.0, topology), None, topology
    )
    mapped, _, _ = to_blazepose_layout(keypoints, None, topology)
    map_then_flip = flip_keypoints(mapped, 1.0, BLAZEPOSE_33)
    np.testing.assert_allclose(flip_then_map[labelled], map_then_flip[labelled])


def test_flip_keeps_input_untouched_and_promotes_integers():
    keypoints = np.arange(PUSHUP_7.num_keypoints * 2).reshape(-1, 2)
    original = keypoints.copy()
    flipped = flip_keypoints(keypoints, 9.5, PUSHUP_7)
    np.testing.assert_array_equal(keypoints, original)
    assert np.issubdtype(flipped.dtype, np.floating)
    float32_points = keypoints.astype(np.float32)
    assert flip_keypoints(float32_points, 9.5, PUSHUP_7).dtype == np.float32


def test_box_around_the_labelled_points_clipped_to_the_image():
    points = np.array([[10.0, 20.0], [50.0, 5.0], [-4.0, 90.0], [300.0, 300.0]])
    labelled = np.array([True, True, True, False])
    np.testing.assert_array_equal(box_from_keypoints(points, labelled, 100, 80), [0, 5, 50, 80])
    np.testing.assert_array_equal(box_from_keypoints(points, np.zeros(4, bool), 100, 80),
                                  [0, 0, 100, 80])
