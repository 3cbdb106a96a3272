"""The numpy per-frame decoding gives the numbers of the TensorFlow ops it stands in for."""

import numpy as np
import pytest

from blazepose.inference import postprocess
from blazepose.model import decoding, detection

ANCHORS = postprocess.detector_anchors()


def _tf_best(boxes, scores):
    decoded = detection.decode_detections(boxes[None], scores[None],
                                          detection.generate_anchors())
    nms = detection.weighted_non_max_suppression(decoded["boxes"][0], decoded["keypoints"][0],
                                                 decoded["scores"][0])
    if int(nms["count"]) == 0:
        return None
    return (np.asarray(nms["boxes"][0]), np.asarray(nms["keypoints"][0]),
            float(nms["scores"][0]))


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


@pytest.mark.parametrize("seed", [0, 1])
def test_best_detection_is_the_first_slot_of_weighted_nms(seed):
    boxes, scores = _synthetic_outputs(seed)
    ours = postprocess.best_detection(boxes, scores)
    box, keypoints, score = _tf_best(boxes, scores)
    np.testing.assert_allclose(ours.box, box, atol=2e-6)
    np.testing.assert_allclose(ours.keypoints, keypoints, atol=2e-6)
    assert ours.score == pytest.approx(score, abs=1e-6)


def test_best_detection_on_a_real_photo(astronaut, tflite_detector):
    from blazepose.inference import geometry

    square, _ = geometry.letterbox_image(astronaut, 224)
    outputs = tflite_detector(square)
    ours = postprocess.best_detection(outputs["boxes"], outputs["scores"])
    box, keypoints, score = _tf_best(outputs["boxes"][0], outputs["scores"][0])
    assert score > 0.5
    np.testing.assert_allclose(ours.keypoints, keypoints, atol=2e-6)
    np.testing.assert_allclose(ours.box, box, atol=2e-6)


def test_no_confident_detection_gives_none():
    boxes, _ = _synthetic_outputs(0)
    assert postprocess.best_detection(boxes, np.full((len(ANCHORS), 1), -3.0)) is None


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
