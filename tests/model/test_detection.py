"""Detector pre- and post-processing on hand-made tensors with known answers."""

import math

import numpy as np
import pytest
import tensorflow as tf

from blazepose.model import detection

NUM_ANCHORS = 2254


def _logit(p):
    return float(np.log(p / (1 - p)))


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
    anchors = detection.generate_anchors().numpy()
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
    with_sizes = detection.generate_anchors(with_sizes=True).numpy()
    assert with_sizes.shape == (NUM_ANCHORS, 4)
    np.testing.assert_array_equal(with_sizes[:, 2:], 1.0)  # fixed_anchor_size
    free = detection.generate_anchors(
        detection.SsdAnchorOptions(fixed_anchor_size=False), with_sizes=True).numpy()
    np.testing.assert_allclose(free[0, 2:], [0.1484375, 0.1484375])
    np.testing.assert_allclose(free[1967, 2:], [0.5189949652219964] * 2, rtol=1e-6)


def test_anchor_rule_for_other_options():
    options = detection.SsdAnchorOptions(input_height=128, input_width=96, strides=(16, 32),
                                         aspect_ratios=(1.0, 2.0),
                                         interpolated_scale_aspect_ratio=0.0)
    anchors = detection.generate_anchors(options).numpy()
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


# --- decoding ------------------------------------------------------------------------------------


def test_decode_a_known_offset_at_a_known_anchor():
    anchors = detection.generate_anchors()
    boxes = np.zeros((NUM_ANCHORS, 12), np.float32)
    scores = np.full((NUM_ANCHORS, 1), -5.0, np.float32)
    index = 1568 + 2 * (3 * 14 + 5) + 1  # 14x14 grid, row 3, column 5, second anchor
    cx, cy = 5.5 / 14, 3.5 / 14
    boxes[index] = [22.4, -11.2, 44.8, 22.4, 0, 0, 11.2, 22.4, -22.4, 0, 2.24, -2.24]
    scores[index] = _logit(0.8)
    decoded = detection.decode_detections(boxes, scores, anchors)
    assert decoded["boxes"].shape == (NUM_ANCHORS, 4)
    assert decoded["keypoints"].shape == (NUM_ANCHORS, 4, 2)
    assert decoded["scores"].shape == (NUM_ANCHORS,)
    np.testing.assert_allclose(decoded["boxes"][index],
                               [cx + 0.1 - 0.1, cy - 0.05 - 0.05, cx + 0.1 + 0.1, cy - 0.05 + 0.05],
                               atol=1e-6)
    np.testing.assert_allclose(decoded["keypoints"][index],
                               [[cx, cy], [cx + 0.05, cy + 0.1], [cx - 0.1, cy],
                                [cx + 0.01, cy - 0.01]], atol=1e-6)
    np.testing.assert_allclose(decoded["scores"][index], 0.8, rtol=1e-6)
    # A zero regressor is a zero-size box on its anchor centre.
    np.testing.assert_allclose(decoded["boxes"][0], [0.5 / 28, 0.5 / 28] * 2, rtol=1e-6)
    np.testing.assert_allclose(decoded["keypoints"][-1], [[6.5 / 7, 6.5 / 7]] * 4, rtol=1e-6)


def test_decode_batches_clips_logits_and_uses_anchor_sizes():
    anchors = np.array([[0.5, 0.5, 2.0, 0.5], [0.25, 0.75, 1.0, 1.0]], np.float32)
    boxes = np.zeros((3, 2, 6), np.float32)
    boxes[1, 0] = [56.0, 56.0, 112.0, 112.0, 224.0, -224.0]  # one keypoint
    scores = np.array([[[0.0], [1000.0]], [[-1000.0], [3.0]], [[100.0], [-100.0]]], np.float32)
    decoded = detection.decode_detections(boxes, scores, anchors)
    assert decoded["keypoints"].shape == (3, 2, 1, 2)
    # Centre 0.25 * w + 0.5, size 0.5 * (w, h) with anchor size (2, 0.5).
    np.testing.assert_allclose(decoded["boxes"][1, 0], [0.5, 0.5, 1.5, 0.75], rtol=1e-6)
    np.testing.assert_allclose(decoded["keypoints"][1, 0, 0], [2.5, 0.0], rtol=1e-6)
    expected = tf.sigmoid(np.clip(scores[..., 0], -100, 100)).numpy()
    np.testing.assert_array_equal(decoded["scores"].numpy(), expected)
    np.testing.assert_array_equal(decoded["scores"][0, 1], decoded["scores"][2, 0])


@pytest.mark.parametrize("boxes_shape, scores_shape, anchors_shape, message", [
    ((NUM_ANCHORS, 11), (NUM_ANCHORS, 1), (NUM_ANCHORS, 2), "boxes must be"),
    ((NUM_ANCHORS, 12), (NUM_ANCHORS, 2), (NUM_ANCHORS, 2), "scores must be"),
    ((NUM_ANCHORS, 12), (NUM_ANCHORS, 1), (NUM_ANCHORS, 3), "anchors must be"),
    ((NUM_ANCHORS, 12), (NUM_ANCHORS, 1), (896, 2), "anchors has 896"),
    ((NUM_ANCHORS, 12), (100, 1), (NUM_ANCHORS, 2), "scores has 100"),
])
def test_decode_rejects_mismatched_shapes(boxes_shape, scores_shape, anchors_shape, message):
    with pytest.raises(ValueError, match=message):
        detection.decode_detections(np.zeros(boxes_shape, np.float32),
                                    np.zeros(scores_shape, np.float32),
                                    np.zeros(anchors_shape, np.float32))


# --- weighted non-max suppression ---------------------------------------------------------------


def _mediapipe_weighted_nms(boxes, keypoints, scores, threshold=0.3, min_score=0.5):
    """MediaPipe's algorithm transcribed as plain loops (the test oracle)."""

    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    remaining = [i for i in sorted(range(len(scores)), key=lambda i: -scores[i])
                 if scores[i] >= min_score]
    output = []
    while remaining:
        top = remaining[0]
        candidates = [i for i in remaining if iou(boxes[i], boxes[top]) > threshold]
        remaining = [i for i in remaining if i not in candidates]
        weights = np.array([scores[i] for i in candidates])
        box = (weights[:, None] * boxes[candidates]).sum(0) / weights.sum()
        points = (weights[:, None, None] * keypoints[candidates]).sum(0) / weights.sum()
        output.append((box, points, scores[top]))
    return output


def _hand_made_detections():
    boxes = np.array([
        [0.10, 0.10, 0.50, 0.50],  # 0: best
        [0.12, 0.10, 0.52, 0.50],  # 1: overlaps 0 -> merged into it
        [0.60, 0.60, 0.90, 0.90],  # 2: far away -> its own detection
        [0.10, 0.12, 0.50, 0.52],  # 3: overlaps 0 but below the score threshold -> dropped
        [0.32, 0.10, 0.72, 0.50],  # 4: IoU 0.33 with 1 but 0.29 with 0 -> its own detection
        [0.70, 0.10, 0.60, 0.20],  # 5: negative width -> dropped despite its score
    ], np.float32)
    keypoints = np.stack([boxes[:, :2], boxes[:, 2:], boxes[:, :2] + 0.01, boxes[:, 2:] - 0.01],
                         axis=1)
    scores = np.array([0.9, 0.6, 0.7, 0.4, 0.55, 0.95], np.float32)
    return boxes, keypoints, scores


def _check_hand_made_result(result):
    boxes, keypoints, scores = _hand_made_detections()
    assert int(result["count"]) == 3
    np.testing.assert_array_equal(result["valid"], [True, True, True, False, False])
    merged = (0.9 * boxes[0] + 0.6 * boxes[1]) / 1.5
    np.testing.assert_allclose(result["boxes"][0], merged, rtol=1e-6)
    np.testing.assert_allclose(result["keypoints"][0],
                               (0.9 * keypoints[0] + 0.6 * keypoints[1]) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(result["scores"], [0.9, 0.7, 0.55, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(result["boxes"][1], boxes[2], rtol=1e-6)
    np.testing.assert_allclose(result["boxes"][2], boxes[4], rtol=1e-6)
    np.testing.assert_array_equal(result["boxes"][3:], 0.0)


def test_weighted_nms_merges_overlaps_eagerly():
    result = detection.weighted_non_max_suppression(*_hand_made_detections(), max_detections=5)
    _check_hand_made_result(result)


def test_weighted_nms_inside_tf_function_with_unknown_counts():
    @tf.function(input_signature=[tf.TensorSpec([None, 4]), tf.TensorSpec([None, 4, 2]),
                                  tf.TensorSpec([None])])
    def suppress(boxes, keypoints, scores):
        return detection.weighted_non_max_suppression(boxes, keypoints, scores, max_detections=5)

    _check_hand_made_result(suppress(*_hand_made_detections()))


def test_weighted_nms_batch_and_limits():
    boxes, keypoints, scores = _hand_made_detections()
    batch = detection.weighted_non_max_suppression(
        np.stack([boxes, boxes]), np.stack([keypoints, keypoints]),
        np.stack([scores, np.zeros_like(scores)]), max_detections=5)
    assert batch["boxes"].shape == (2, 5, 4) and batch["keypoints"].shape == (2, 5, 4, 2)
    np.testing.assert_array_equal(batch["count"], [3, 0])
    np.testing.assert_array_equal(batch["valid"][1], False)
    one = detection.weighted_non_max_suppression(boxes, keypoints, scores, max_detections=1)
    assert int(one["count"]) == 1
    np.testing.assert_allclose(one["scores"], [0.9])


def test_weighted_nms_matches_mediapipe_on_random_detections():
    rng = np.random.default_rng(7)
    centres = rng.uniform(0.2, 0.8, (3, 2))[rng.integers(0, 3, 60)]
    centres += rng.normal(0, 0.03, centres.shape)
    sizes = rng.uniform(0.1, 0.3, (60, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], -1).astype(np.float32)
    keypoints = rng.uniform(0, 1, (60, 4, 2)).astype(np.float32)
    scores = rng.uniform(0.3, 1.0, 60).astype(np.float32)
    expected = _mediapipe_weighted_nms(boxes, keypoints, scores)
    result = detection.weighted_non_max_suppression(boxes, keypoints, scores,
                                                    max_detections=60)
    assert int(result["count"]) == len(expected)
    for slot, (box, points, score) in enumerate(expected):
        np.testing.assert_allclose(result["boxes"][slot], box, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(result["keypoints"][slot], points, rtol=1e-5, atol=1e-6)
        assert float(result["scores"][slot]) == pytest.approx(score)


@pytest.mark.parametrize("kwargs, message", [
    ({"max_detections": 0}, "max_detections"),
    ({"boxes": np.zeros((6, 5), np.float32)}, "expected boxes"),
    ({"keypoints": np.zeros((6, 4, 3), np.float32)}, "keypoints must be"),
    ({"scores": np.zeros(5, np.float32)}, "disagree"),
])
def test_weighted_nms_rejects_bad_inputs(kwargs, message):
    boxes, keypoints, scores = _hand_made_detections()
    arguments = {"boxes": boxes, "keypoints": keypoints, "scores": scores, **kwargs}
    with pytest.raises(ValueError, match=message):
        detection.weighted_non_max_suppression(**arguments)


# --- letterbox -----------------------------------------------------------------------------------


def test_letterbox_without_scaling_is_plain_padding():
    image = np.random.default_rng(0).integers(0, 256, (112, 224, 3)).astype(np.uint8)
    boxed, padding = detection.letterbox(image)
    assert boxed.dtype == tf.float32 and boxed.shape == (224, 224, 3)
    np.testing.assert_allclose(padding, [0, 0.25, 0, 0.25])
    np.testing.assert_array_equal(boxed, np.pad(image, ((56, 56), (0, 0), (0, 0))))
    tall, padding = detection.letterbox(np.transpose(image, (1, 0, 2)))
    np.testing.assert_allclose(padding, [0.25, 0, 0.25, 0])
    np.testing.assert_array_equal(tall, np.pad(np.transpose(image, (1, 0, 2)),
                                               ((0, 0), (56, 56), (0, 0))))


def test_letterbox_sampling_conventions_on_a_ramp():
    ramp = np.broadcast_to(np.arange(448, dtype=np.float32)[None, :, None], (224, 448, 1))
    centred, _ = detection.letterbox(ramp[None])  # batch of one, scale 2
    assert centred.shape == (1, 224, 224, 1)
    row = centred.numpy()[0, 112, :, 0]
    np.testing.assert_allclose(row[:-1], 2 * np.arange(223) + 0.5)  # pixel centres
    corners, _ = detection.letterbox(ramp, half_pixel_centers=False)
    np.testing.assert_allclose(corners.numpy()[112, :, 0], 2 * np.arange(224))  # MediaPipe CPU
    np.testing.assert_array_equal(centred.numpy()[0, :56], 0.0)


def test_letterbox_round_trip_of_image_content_and_points():
    image = np.zeros((224, 448, 1), np.float32)
    image[100:140, 300:340] = 1.0  # a block centred on (320, 120) pixels

    @tf.function(input_signature=[tf.TensorSpec([None, None, 1])])
    def box(image):
        return detection.letterbox(image)

    boxed, padding = box(image)
    rows, cols = np.nonzero(boxed.numpy()[..., 0] > 0.5)
    centre = np.array([[cols.mean() + 0.5, rows.mean() + 0.5]]) / 224  # letterboxed, normalised
    restored = detection.remove_letterbox({"keypoints": centre[None]}, padding)["keypoints"]
    np.testing.assert_allclose(restored[0, 0], [320 / 448, 120 / 224], rtol=1e-6)
    # Points: original -> letterboxed by hand -> back.
    points = np.array([[0.0, 0.0], [0.3, 0.6], [1.0, 1.0]], np.float32)
    letterboxed = np.stack([points[:, 0], 0.25 + 0.5 * points[:, 1]], -1)
    boxes = np.concatenate([letterboxed[:2], letterboxed[1:]], -1)  # [2, 4]
    back = detection.remove_letterbox({"boxes": boxes, "keypoints": letterboxed[None],
                                       "scores": np.ones(2)}, padding)
    np.testing.assert_allclose(back["keypoints"][0], points, atol=1e-6)
    np.testing.assert_allclose(back["boxes"], np.concatenate([points[:2], points[1:]], -1),
                               atol=1e-6)
    np.testing.assert_array_equal(back["scores"], 1.0)


def test_remove_letterbox_per_batch_element():
    padding = np.array([[0.0, 0.25, 0.0, 0.25], [0.1, 0.0, 0.1, 0.0]], np.float32)
    keypoints = np.full((2, 3, 4, 2), 0.5, np.float32)
    keypoints[:, :, 0] = [0.1, 0.3]
    out = detection.remove_letterbox({"keypoints": keypoints}, padding)["keypoints"].numpy()
    np.testing.assert_allclose(out[0, :, 0], [[0.1, 0.1]] * 3, rtol=1e-6)
    np.testing.assert_allclose(out[1, :, 0], [[0.0, 0.3]] * 3, atol=1e-6)
    np.testing.assert_allclose(out[:, :, 1:], 0.5, rtol=1e-6)  # the centre stays the centre


def test_letterbox_bad_inputs():
    with pytest.raises(ValueError, match="image must be"):
        detection.letterbox(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="size must be"):
        detection.letterbox(np.zeros((10, 10, 3), np.float32), size=0)
    with pytest.raises(ValueError, match="padding must be"):
        detection.remove_letterbox({"boxes": np.zeros((1, 4))}, np.zeros(2))


# --- region of interest --------------------------------------------------------------------------


def _keypoints(kp0, kp1):
    return np.array([kp0, kp1, [0, 0], [0, 0]], np.float32)


def test_roi_upright_person_on_a_landscape_image():
    roi = detection.detection_to_roi(_keypoints([0.5, 0.6], [0.5, 0.4]), 640, 480)
    distance = 0.2 * 480  # pixels
    assert float(roi["rotation"]) == pytest.approx(0.0, abs=1e-6)
    assert float(roi["x_center"]) == pytest.approx(0.5)
    assert float(roi["y_center"]) == pytest.approx(0.6)
    assert float(roi["width"]) == pytest.approx(2.5 * distance / 640)
    assert float(roi["height"]) == pytest.approx(2.5 * distance / 480)


@pytest.mark.parametrize("kp1, rotation", [
    ([0.6, 0.5], math.pi / 2),  # lying, head to the right
    ([0.4, 0.5], -math.pi / 2),  # lying, head to the left
    ([0.5, 0.7], -math.pi),  # upside down: MediaPipe normalises into [-pi, pi)
    ([0.5 + 48 / 640, 0.5 - 48 / 480], math.pi / 4),  # 45 degrees in pixels, not in [0, 1]^2
])
def test_roi_rotation(kp1, rotation):
    roi = detection.detection_to_roi(_keypoints([0.5, 0.5], kp1), 640, 480)
    assert float(roi["rotation"]) == pytest.approx(rotation, abs=1e-6)


def test_roi_batched_inside_tf_function():
    keypoints = np.stack([_keypoints([0.5, 0.6], [0.5, 0.4]), _keypoints([0.5, 0.5], [0.6, 0.5])])
    roi = tf.function(detection.detection_to_roi)(keypoints, tf.constant(640), tf.constant(480))
    np.testing.assert_allclose(roi["rotation"], [0, math.pi / 2], atol=1e-6)
    np.testing.assert_allclose(roi["width"], [2.5 * 96 / 640, 2.5 * 64 / 640], rtol=1e-6)


def test_normalize_radians():
    angles = [3 * math.pi / 2, -3 * math.pi / 2, math.pi, -math.pi, 0.25, 2.5 * math.pi]
    np.testing.assert_allclose(detection.normalize_radians(angles),
                               [-math.pi / 2, math.pi / 2, -math.pi, -math.pi, 0.25, math.pi / 2],
                               atol=1e-5)


def test_roi_bad_inputs():
    with pytest.raises(ValueError, match="K >= 2"):
        detection.detection_to_roi(np.zeros((1, 2), np.float32), 640, 480)
    with pytest.raises(ValueError, match="image_height must be positive"):
        detection.detection_to_roi(_keypoints([0.5, 0.5], [0.5, 0.4]), 640, 0)


# --- the whole chain -----------------------------------------------------------------------------


def test_pipeline_from_raw_outputs_to_roi_in_tf_function():
    """One confident anchor and a weaker neighbour in a 640x320 image -> one upright crop."""
    anchors = detection.generate_anchors()
    boxes = np.zeros((1, NUM_ANCHORS, 12), np.float32)
    scores = np.full((1, NUM_ANCHORS, 1), -10.0, np.float32)
    index = 2 * (14 * 28 + 14)  # 28x28 grid, row 14, column 14: centre (14.5 / 28, 14.5 / 28)
    # Box 44.8 x 89.6 px; kp0 at the anchor, kp1 22.4 px above it (in the 224 input).
    boxes[0, index] = [0, 0, 44.8, 89.6, 0, 0, 0, -22.4, 0, 0, 0, 0]
    boxes[0, index + 1] = boxes[0, index]
    scores[0, index] = _logit(0.9)
    scores[0, index + 1] = _logit(0.6)

    @tf.function
    def run(boxes, scores):
        decoded = detection.decode_detections(boxes, scores, anchors)
        kept = detection.weighted_non_max_suppression(decoded["boxes"][0],
                                                      decoded["keypoints"][0],
                                                      decoded["scores"][0], max_detections=2)
        kept = detection.remove_letterbox(kept, tf.constant([0.0, 0.25, 0.0, 0.25]))
        return kept, detection.detection_to_roi(kept["keypoints"][0], 640, 320)

    kept, roi = run(boxes, scores)
    assert int(kept["count"]) == 1
    centre = 14.5 / 28
    np.testing.assert_allclose(kept["keypoints"][0, 0], [centre, (centre - 0.25) / 0.5], rtol=1e-5)
    assert float(roi["rotation"]) == pytest.approx(0.0, abs=1e-6)
    # 22.4 input px = 0.1 of the letterboxed side = 64 px of the 640-px-wide original.
    assert float(roi["width"]) == pytest.approx(2.5 * 64 / 640, rel=1e-5)
    assert float(roi["height"]) == pytest.approx(2.5 * 64 / 320, rel=1e-5)
