"""postprocess.all_detections returns every slot of the TensorFlow weighted NMS, best first."""

import numpy as np
import pytest

from blazepose.inference import postprocess
from blazepose.model import detection

ANCHORS = postprocess.detector_anchors()
INPUT_SIZE = detection.DETECTOR_INPUT_SIZE


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


def _tf_slots(boxes, scores):
    decoded = detection.decode_detections(boxes[None], scores[None],
                                          detection.generate_anchors())
    nms = detection.weighted_non_max_suppression(decoded["boxes"][0], decoded["keypoints"][0],
                                                 decoded["scores"][0], max_detections=20)
    count = int(nms["count"])
    return (np.asarray(nms["boxes"])[:count], np.asarray(nms["keypoints"])[:count],
            np.asarray(nms["scores"])[:count])


PEOPLE = (((0.25, 0.4), 50.0, 3.0), ((0.7, 0.55), 45.0, 1.5), ((0.5, 0.8), 30.0, 0.8))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_weighted_nms_slot_in_order(seed):
    boxes, scores = _raw_outputs(seed, PEOPLE)
    found = postprocess.all_detections(boxes, scores)
    tf_boxes, tf_keypoints, tf_scores = _tf_slots(boxes, scores)
    assert len(found) == len(tf_scores) >= 3
    np.testing.assert_allclose([d.box for d in found], tf_boxes, atol=3e-6)
    np.testing.assert_allclose([d.keypoints for d in found], tf_keypoints, atol=3e-6)
    np.testing.assert_allclose([d.score for d in found], tf_scores, atol=1e-6)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    # One detection per drawn person: each cluster's centre is the centre of one merged box.
    centres = np.array([(d.box[:2] + d.box[2:]) / 2 for d in found[:3]])
    for centre, _, _ in PEOPLE:
        assert np.min(np.linalg.norm(centres - centre, axis=1)) < 0.02


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
