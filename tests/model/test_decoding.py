"""Decoding ops on hand-made tensors whose answers are known, eagerly and inside tf.function."""

import numpy as np
import pytest
import tensorflow as tf

from blazepose.model import decoding


def _logit(p):
    return float(np.log(p / (1 - p)))


def _refine_reference(landmarks, heatmap, kernel_size=7, min_confidence=0.5):
    """MediaPipe's calculator (since July 2023) as plain loops over one example (the oracle)."""
    height, width, count = heatmap.shape
    out = landmarks.copy()
    confidence = 1 / (1 + np.exp(-heatmap))
    offset = (kernel_size - 1) // 2
    for k in range(count):
        col, row = int(landmarks[k, 0] * width), int(landmarks[k, 1] * height)
        if col < 0 or col >= width or row < 0 or row >= height:
            continue
        rows = range(max(0, row - offset), min(height, row + offset + 1))
        cols = range(max(0, col - offset), min(width, col + offset + 1))
        total = weighted_col = weighted_row = peak = 0.0
        for r in rows:
            for c in cols:
                total += confidence[r, c, k]
                peak = max(peak, confidence[r, c, k])
                weighted_col += c * confidence[r, c, k]
                weighted_row += r * confidence[r, c, k]
        if peak >= min_confidence and total > 0:
            out[k, 0] = weighted_col / width / total
            out[k, 1] = weighted_row / height / total
    return out


def test_decode_landmarks_scales_and_squashes():
    raw = np.array([[[128.0, 64.0, -32.0, 0.0, _logit(0.9)]]], np.float32)
    decoded = decoding.decode_landmarks(raw).numpy()
    np.testing.assert_allclose(decoded[0, 0], [0.5, 0.25, -0.125, 0.5, 0.9], rtol=1e-6)


def test_refine_moves_to_weighted_centre_of_a_symmetric_blob():
    heatmap = np.full((1, 64, 64, 2), -20.0, np.float32)
    # Landmark 0: a plus-shaped blob centred on cell (row 20, col 30).
    for dr, dc in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]:
        heatmap[0, 20 + dr, 30 + dc, 0] = 5.0
    # Landmark 1: weak everywhere (max sigmoid < 0.5): must stay where the regression put it.
    heatmap[0, 40, 40, 1] = _logit(0.4)
    landmarks = np.array([[[32.4 / 64, 21.7 / 64, 0.1, 0.8, 0.9],
                           [40.2 / 64, 40.9 / 64, 0.2, 0.3, 0.4]]], np.float32)
    refined = decoding.refine_landmarks_with_heatmap(landmarks, heatmap).numpy()
    # Background cells weigh ~2e-9 each, too little to move the centre.
    np.testing.assert_allclose(refined[0, 0, :2], [30 / 64, 20 / 64], atol=1e-6)
    np.testing.assert_array_equal(refined[0, 0, 2:], landmarks[0, 0, 2:])
    np.testing.assert_array_equal(refined[0, 1], landmarks[0, 1])


def test_refine_leaves_points_outside_the_heatmap():
    heatmap = np.full((1, 64, 64, 3), 4.0, np.float32)
    landmarks = np.array([[[-0.2, 0.5, 0, 0, 0], [1.0, 0.5, 0, 0, 0], [0.5, -0.3, 0, 0, 0]]],
                         np.float32)
    refined = decoding.refine_landmarks_with_heatmap(landmarks, heatmap).numpy()
    np.testing.assert_array_equal(refined, landmarks)


def test_refine_matches_the_calculators_loops_on_random_inputs():
    rng = np.random.default_rng(0)
    heatmap = rng.normal(-1, 2.5, (3, 64, 64, 39)).astype(np.float32)
    landmarks = rng.uniform(-0.1, 1.1, (3, 39, 5)).astype(np.float32)
    refined = tf.function(decoding.refine_landmarks_with_heatmap)(landmarks, heatmap).numpy()
    for n in range(3):
        expected = _refine_reference(landmarks[n], heatmap[n])
        np.testing.assert_allclose(refined[n], expected, atol=2e-6)
    assert not np.allclose(refined, landmarks), "random heatmaps must refine some points"


def test_refine_window_is_clipped_at_the_border():
    heatmap = np.full((1, 8, 8, 1), -20.0, np.float32)
    heatmap[0, 0, 0, 0] = 3.0
    heatmap[0, 0, 2, 0] = 3.0
    landmarks = np.array([[[0.05, 0.05, 0, 0, 0]]], np.float32)
    refined = decoding.refine_landmarks_with_heatmap(landmarks, heatmap).numpy()
    np.testing.assert_allclose(refined[0, 0, :2], [1 / 8, 0.0], atol=1e-6)


def test_refine_rejects_even_kernel():
    with pytest.raises(ValueError, match="odd"):
        decoding.refine_landmarks_with_heatmap(np.zeros((1, 1, 5)), np.zeros((1, 4, 4, 1)), 4)


def test_argmax_decoding_reports_cell_centres_and_offsets():
    heatmap = np.full((2, 16, 8, 2), -5.0, np.float32)
    heatmap[0, 3, 5, 0] = 2.0
    heatmap[0, 10, 1, 1] = 0.0
    heatmap[1, 15, 7, 0] = 1.0
    heatmap[1, 0, 0, 1] = 1.0
    xy, confidence = decoding.decode_heatmap_argmax(heatmap)
    np.testing.assert_allclose(xy.numpy()[0], [[5.5 / 8, 3.5 / 16], [1.5 / 8, 10.5 / 16]])
    np.testing.assert_allclose(xy.numpy()[1], [[7.5 / 8, 15.5 / 16], [0.5 / 8, 0.5 / 16]])
    np.testing.assert_allclose(confidence.numpy()[0], [1 / (1 + np.exp(-2.0)), 0.5], rtol=1e-6)

    offsets = np.zeros((2, 16, 8, 4), np.float32)
    offsets[0, 3, 5, 0:2] = [0.25, -0.5]  # landmark 0 of example 0, read at its peak
    offsets[0, 3, 5, 2:4] = [9.0, 9.0]  # landmark 1's channels at landmark 0's peak: ignored
    offsets[1, 0, 0, 2:4] = [-0.5, 0.75]
    xy, _ = tf.function(decoding.decode_heatmap_argmax)(heatmap, offsets)
    np.testing.assert_allclose(xy.numpy()[0], [[5.75 / 8, 3.0 / 16], [1.5 / 8, 10.5 / 16]])
    np.testing.assert_allclose(xy.numpy()[1], [[7.5 / 8, 15.5 / 16], [0.0, 1.25 / 16]])


def test_decode_outputs_combines_the_steps():
    rng = np.random.default_rng(5)
    outputs = {
        "landmarks": rng.uniform(0, 256, (2, 39, 5)).astype(np.float32),
        "world_landmarks": rng.normal(size=(2, 39, 3)).astype(np.float32),
        "pose_flag": rng.uniform(size=(2, 1)).astype(np.float32),
        "heatmap": rng.normal(0, 3, (2, 64, 64, 39)).astype(np.float32),
    }
    plain = decoding.decode_outputs(outputs, refine=False)
    refined = decoding.decode_outputs(outputs, refine=True)
    np.testing.assert_allclose(plain["landmarks"], decoding.decode_landmarks(outputs["landmarks"]))
    np.testing.assert_allclose(
        refined["landmarks"],
        decoding.refine_landmarks_with_heatmap(plain["landmarks"], outputs["heatmap"]))
    assert refined["pose_flag"].shape == (2,)
    np.testing.assert_array_equal(refined["world_landmarks"], outputs["world_landmarks"])
