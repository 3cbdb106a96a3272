"""The numpy per-frame decoding: the detector's decoding and weighted non-max suppression
against a plain-loop transcription of MediaPipe's algorithm and hand-worked values; the
landmark decoding against the TensorFlow ops it stands in for."""

import math

import numpy as np
import pytest

from blazepose import detector_anchors as detection
from blazepose.inference import geometry, postprocess
from blazepose.model import decoding

ANCHORS = postprocess.detector_anchors()
NUM_ANCHORS = 2254
INPUT_SIZE = detection.DETECTOR_INPUT_SIZE


def _logit(p):
    return float(np.log(p / (1 - p)))


# --- the test oracle ---------------------------------------------------------------------------


def _mediapipe_detections(boxes, scores, anchors=ANCHORS, input_size=INPUT_SIZE, threshold=0.3,
                          min_score=0.5):
    """MediaPipe's TensorsToDetections + weighted NMS transcribed as plain loops, one anchor
    and one detection at a time: ``[(box, keypoints, score), ...]``, best first."""
    decoded = []
    for i, (anchor, raw, logit) in enumerate(zip(anchors, boxes, np.ravel(scores))):
        score = 1.0 / (1.0 + math.exp(-min(max(float(logit), -100.0), 100.0)))
        xc, yc = raw[0] / input_size + anchor[0], raw[1] / input_size + anchor[1]
        w, h = raw[2] / input_size, raw[3] / input_size
        if score < min_score or w < 0 or h < 0:
            continue
        points = [[raw[4 + 2 * k] / input_size + anchor[0],
                   raw[5 + 2 * k] / input_size + anchor[1]] for k in range((len(raw) - 4) // 2)]
        decoded.append((i, [xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], points, score))

    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    remaining = sorted(decoded, key=lambda d: (-d[3], d[0]))  # ties in anchor order
    output = []
    while remaining:
        top = remaining[0]
        merged = [d for d in remaining if iou(d[1], top[1]) > threshold]
        remaining = [d for d in remaining if not any(d is m for m in merged)]
        if not merged:  # a zero-area top box: returned as is, and the search ends
            output.append((np.array(top[1]), np.array(top[2]), top[3]))
            break
        weights = np.array([d[3] for d in merged])
        box = (weights[:, None] * np.array([d[1] for d in merged])).sum(0) / weights.sum()
        points = (weights[:, None, None] * np.array([d[2] for d in merged])).sum(0)
        output.append((box, points / weights.sum(), top[3]))
    return output


def _raw_outputs(seed, people):
    """Raw detector outputs: background noise below threshold, plus for each ``(centre, size,
    logit)`` of ``people`` a cluster of overlapping confident boxes around ``centre``
    (normalised to the detector input)."""
    rng = np.random.default_rng(seed)
    boxes = rng.normal(0, 3, (len(ANCHORS), 12)).astype(np.float32)
    boxes[:, 2:4] = np.abs(boxes[:, 2:4]) + 5
    scores = rng.normal(-9, 1, (len(ANCHORS), 1)).astype(np.float32)
    for centre, size, logit in people:
        centre = np.asarray(centre, np.float32)
        near = np.flatnonzero(np.linalg.norm(ANCHORS - centre, axis=1) < 0.06)
        scores[near, 0] = logit + rng.normal(0, 0.4, len(near))
        boxes[near, 0:2] = (centre - ANCHORS[near]) * INPUT_SIZE + rng.normal(0, 1.5,
                                                                            (len(near), 2))
        boxes[near, 2:4] = size + rng.normal(0, 2, (len(near), 2))
        keypoints = rng.normal(0, 6, (len(near), 4, 2)) + centre * INPUT_SIZE
        boxes[near, 4:] = (keypoints - ANCHORS[near, None] * INPUT_SIZE).reshape(len(near), 8)
    return boxes, scores


PEOPLE = (((0.25, 0.4), 50.0, 3.0), ((0.7, 0.55), 45.0, 1.5), ((0.5, 0.8), 30.0, 0.8))


def _synthetic_outputs(seed):
    """Raw detector outputs with two clusters of overlapping confident boxes and noise."""
    rng = np.random.default_rng(seed)
    boxes = rng.normal(0, 3, (len(ANCHORS), 12)).astype(np.float32)
    boxes[:, 2:4] = np.abs(boxes[:, 2:4]) + 5
    scores = rng.normal(-8, 2, (len(ANCHORS), 1)).astype(np.float32)
    for centre, size, logit in (((0.3, 0.4), 60.0, 3.0), ((0.7, 0.6), 50.0, 2.0)):
        near = np.flatnonzero(np.linalg.norm(ANCHORS - centre, axis=1) < 0.08)
        scores[near, 0] = logit + rng.normal(0, 0.5, len(near))
        # Boxes of similar size centred near `centre`, keypoints spread around it.
        boxes[near, 0:2] = (np.array(centre) - ANCHORS[near]) * 224 + rng.normal(0, 2, (len(near),
                                                                                         2))
        boxes[near, 2:4] = size + rng.normal(0, 3, (len(near), 2))
        keypoints = rng.normal(0, 10, (len(near), 4, 2)) + (np.array(centre) * 224)
        boxes[near, 4:] = (keypoints - ANCHORS[near, None] * 224).reshape(len(near), 8)
    return boxes, scores


# --- decoding ----------------------------------------------------------------------------------


def test_decode_a_known_offset_at_a_known_anchor():
    boxes = np.zeros((NUM_ANCHORS, 12), np.float32)
    scores = np.full((NUM_ANCHORS, 1), -5.0, np.float32)
    index = 1568 + 2 * (3 * 14 + 5) + 1  # 14x14 grid, row 3, column 5, second anchor
    cx, cy = 5.5 / 14, 3.5 / 14
    boxes[index] = [22.4, -11.2, 44.8, 22.4, 0, 0, 11.2, 22.4, -22.4, 0, 2.24, -2.24]
    scores[index] = _logit(0.8)
    decoded = postprocess.decode_detections(boxes, scores, detection.generate_anchors())
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
    decoded = postprocess.decode_detections(boxes, scores, anchors)
    assert decoded["keypoints"].shape == (3, 2, 1, 2)
    # Centre 0.25 * w + 0.5, size 0.5 * (w, h) with anchor size (2, 0.5).
    np.testing.assert_allclose(decoded["boxes"][1, 0], [0.5, 0.5, 1.5, 0.75], rtol=1e-6)
    np.testing.assert_allclose(decoded["keypoints"][1, 0, 0], [2.5, 0.0], rtol=1e-6)
    expected = 1.0 / (1.0 + np.exp(-np.clip(scores[..., 0].astype(np.float64), -100, 100)))
    np.testing.assert_allclose(decoded["scores"], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(decoded["scores"][0, 1], decoded["scores"][2, 0])


@pytest.mark.parametrize("boxes_shape, scores_shape, anchors_shape, message", [
    ((NUM_ANCHORS, 11), (NUM_ANCHORS, 1), (NUM_ANCHORS, 2), "boxes must be"),
    ((NUM_ANCHORS, 12), (NUM_ANCHORS, 2), (NUM_ANCHORS, 2), "scores must be"),
    ((NUM_ANCHORS, 12), (NUM_ANCHORS, 1), (NUM_ANCHORS, 3), "anchors must be"),
    ((NUM_ANCHORS, 12), (NUM_ANCHORS, 1), (896, 2), "anchors has 896"),
    ((NUM_ANCHORS, 12), (100, 1), (NUM_ANCHORS, 2), "scores must be"),
])
def test_decode_rejects_mismatched_shapes(boxes_shape, scores_shape, anchors_shape, message):
    with pytest.raises(ValueError, match=message):
        postprocess.decode_detections(np.zeros(boxes_shape, np.float32),
                                      np.zeros(scores_shape, np.float32),
                                      np.zeros(anchors_shape, np.float32))


# --- weighted non-max suppression ----------------------------------------------------------------


def test_weighted_nms_on_hand_made_detections():
    """Corner boxes encoded as raw regressors (anchors at 0, input size 1), each with its fate."""
    corners = np.array([
        [0.10, 0.10, 0.50, 0.50],  # 0: best
        [0.12, 0.10, 0.52, 0.50],  # 1: overlaps 0 -> merged into it
        [0.60, 0.60, 0.90, 0.90],  # 2: far away -> its own detection
        [0.10, 0.12, 0.50, 0.52],  # 3: overlaps 0 but below the score threshold -> dropped
        [0.32, 0.10, 0.72, 0.50],  # 4: IoU 0.33 with 1 but 0.29 with 0 -> its own detection
        [0.70, 0.10, 0.60, 0.20],  # 5: negative width -> dropped despite its score
    ])
    keypoints = np.stack([corners[:, :2], corners[:, 2:], corners[:, :2] + 0.01,
                          corners[:, 2:] - 0.01], axis=1)
    probabilities = np.array([0.9, 0.6, 0.7, 0.4, 0.55, 0.95])
    raw = np.concatenate([(corners[:, :2] + corners[:, 2:]) / 2, corners[:, 2:] - corners[:, :2],
                          keypoints.reshape(6, 8)], axis=1).astype(np.float32)
    logits = np.log(probabilities / (1 - probabilities)).astype(np.float32)
    found = postprocess.all_detections(raw, logits, anchors=np.zeros((6, 2)), input_size=1)
    assert [d.score for d in found] == pytest.approx([0.9, 0.7, 0.55])
    np.testing.assert_allclose(found[0].box, (0.9 * corners[0] + 0.6 * corners[1]) / 1.5,
                               rtol=1e-6)
    np.testing.assert_allclose(found[0].keypoints,
                               (0.9 * keypoints[0] + 0.6 * keypoints[1]) / 1.5, rtol=1e-6)
    np.testing.assert_allclose([found[1].box, found[2].box], corners[[2, 4]], rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_detection_is_mediapipes_in_order(seed):
    boxes, scores = _raw_outputs(seed, PEOPLE)
    found = postprocess.all_detections(boxes, scores)
    expected = _mediapipe_detections(boxes, scores)
    assert len(found) == len(expected) >= 3
    np.testing.assert_allclose([d.box for d in found], [e[0] for e in expected], atol=1e-6)
    np.testing.assert_allclose([d.keypoints for d in found], [e[1] for e in expected], atol=1e-6)
    np.testing.assert_allclose([d.score for d in found], [e[2] for e in expected], atol=1e-9)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    # One detection per drawn person: each cluster's centre is the centre of one merged box.
    centres = np.array([(d.box[:2] + d.box[2:]) / 2 for d in found[:3]])
    for centre, _, _ in PEOPLE:
        assert np.min(np.linalg.norm(centres - centre, axis=1)) < 0.02


@pytest.mark.parametrize("seed", [0, 1])
def test_best_detection_is_mediapipes_first(seed):
    boxes, scores = _synthetic_outputs(seed)
    ours = postprocess.best_detection(boxes, scores)
    box, keypoints, score = _mediapipe_detections(boxes, scores)[0]
    np.testing.assert_allclose(ours.box, box, atol=1e-6)
    np.testing.assert_allclose(ours.keypoints, keypoints, atol=1e-6)
    assert ours.score == pytest.approx(score, abs=1e-9)


def test_best_detection_on_a_real_photo(astronaut, tflite_detector):
    square, _ = geometry.letterbox_image(astronaut, 224)
    outputs = tflite_detector(square)
    ours = postprocess.best_detection(outputs["boxes"], outputs["scores"])
    box, keypoints, score = _mediapipe_detections(outputs["boxes"][0], outputs["scores"][0])[0]
    assert score > 0.5
    np.testing.assert_allclose(ours.keypoints, keypoints, atol=1e-6)
    np.testing.assert_allclose(ours.box, box, atol=1e-6)


def test_no_confident_detection_gives_none():
    boxes, _ = _synthetic_outputs(0)
    assert postprocess.best_detection(boxes, np.full((len(ANCHORS), 1), -3.0)) is None


def test_first_detection_is_best_detection():
    boxes, scores = _raw_outputs(5, PEOPLE)
    first = postprocess.all_detections(boxes, scores)[0]
    best = postprocess.best_detection(boxes, scores)
    np.testing.assert_array_equal(first.box, best.box)
    np.testing.assert_array_equal(first.keypoints, best.keypoints)
    assert first.score == best.score


def test_nothing_above_threshold_gives_no_detection():
    boxes, scores = _raw_outputs(3, ())
    assert postprocess.all_detections(boxes, scores) == []
    assert postprocess.best_detection(boxes, scores) is None
    # Lowering the threshold below the background's scores finds detections again.
    assert len(postprocess.all_detections(boxes, scores, min_score=1e-6)) > 0


def test_min_score_drops_the_weaker_person():
    boxes, scores = _raw_outputs(4, PEOPLE[:2])
    assert len(postprocess.all_detections(boxes, scores)) == 2
    # sigmoid(3.0 +- noise) stays above 0.9, sigmoid(1.5 +- noise) below it.
    strong_only = postprocess.all_detections(boxes, scores, min_score=0.9)
    assert len(strong_only) == 1
    assert np.linalg.norm((strong_only[0].box[:2] + strong_only[0].box[2:]) / 2
                          - np.array(PEOPLE[0][0])) < 0.02



def test_raw_outputs_to_the_landmark_crop():
    """One confident anchor and a weaker twin in a 640x320 image -> one upright crop."""
    boxes = np.zeros((NUM_ANCHORS, 12), np.float32)
    scores = np.full((NUM_ANCHORS, 1), -10.0, np.float32)
    index = 2 * (14 * 28 + 14)  # 28x28 grid, row 14, column 14: centre (14.5 / 28, 14.5 / 28)
    # Box 44.8 x 89.6 px; kp0 at the anchor, kp1 22.4 px above it (in the 224 input).
    boxes[index] = boxes[index + 1] = [0, 0, 44.8, 89.6, 0, 0, 0, -22.4, 0, 0, 0, 0]
    scores[index], scores[index + 1] = _logit(0.9), _logit(0.6)
    found = postprocess.all_detections(boxes, scores)
    assert len(found) == 1
    keypoints = geometry.Letterbox((0.0, 0.25, 0.0, 0.25)).remove(found[0].keypoints)
    centre = 14.5 / 28
    np.testing.assert_allclose(keypoints[0], [centre, (centre - 0.25) / 0.5], rtol=1e-5)
    pixels = keypoints * [640, 320]
    roi = geometry.roi_from_keypoints(pixels[0], pixels[1]).normalized(640, 320)
    assert roi["rotation"] == pytest.approx(0.0, abs=1e-6)
    # 22.4 input px = 0.1 of the letterboxed side = 64 px of the 640-px-wide original.
    assert roi["width"] == pytest.approx(2.5 * 64 / 640, rel=1e-5)
    assert roi["height"] == pytest.approx(2.5 * 64 / 320, rel=1e-5)


# --- landmarks ---------------------------------------------------------------------------------


def test_heatmap_refinement_matches_the_tensorflow_calculator():
    rng = np.random.default_rng(5)
    count = 39
    heatmap = rng.normal(-4, 1.5, (64, 64, count)).astype(np.float32)
    landmarks = rng.uniform(-0.05, 1.05, (count, 5))
    landmarks[:3, :2] = [[0.0, 0.0], [0.999, 0.5], [0.5, 0.01]]  # windows clipped at borders
    for index, (u, v) in enumerate(landmarks[:, :2]):  # confident peaks near most landmarks
        if index % 4:
            row = int(np.clip(v * 64 + rng.integers(-2, 3), 0, 63))
            col = int(np.clip(u * 64 + rng.integers(-2, 3), 0, 63))
            heatmap[max(0, row - 1):row + 2, max(0, col - 1):col + 2, index] += 5.0
    ours = postprocess.refine_with_heatmap(landmarks, heatmap)
    theirs = decoding.refine_landmarks_with_heatmap(landmarks[None].astype(np.float32),
                                                    heatmap[None])
    np.testing.assert_allclose(ours, np.asarray(theirs)[0], atol=1e-5)
    moved = np.abs(ours[:, :2] - landmarks[:, :2]).max(axis=1) > 1e-3
    assert moved.sum() >= count // 2, "the test exercises refinement"


def test_landmark_decoding_matches_the_tensorflow_op():
    raw = np.random.default_rng(2).normal(100, 60, (39, 5)).astype(np.float32)
    np.testing.assert_allclose(postprocess.decode_landmarks(raw, 256),
                               np.asarray(decoding.decode_landmarks(raw, 256)), atol=1e-6)
