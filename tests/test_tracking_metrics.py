"""blazepose.metrics for several people: OKS, per-frame matching, CLEAR-MOT style figures."""

import math

import numpy as np
import pytest

from blazepose import metrics


def _truth(frames=4):
    """[T, 2, 33, 2]: two people 100 px tall, standing apart (x 0..40 and 200..240)."""
    rng = np.random.default_rng(0)
    person = np.stack([rng.uniform(0, 40, 33), rng.uniform(0, 100, 33)], -1)
    people = np.stack([person, person + [200.0, 0.0]])
    return np.broadcast_to(people, (frames, 2, 33, 2)).copy()


def test_oks_follows_cocos_formula():
    truth = np.zeros((17, 2))
    predicted = truth.copy()
    predicted[0] = [3.0, 4.0]  # 5 px off on the nose
    labelled = np.zeros(17, bool)
    labelled[:2] = True
    area = 400.0
    expected = (math.exp(-25.0 / (2 * area * (2 * metrics.COCO_OKS_SIGMAS[0]) ** 2)) + 1) / 2
    assert metrics.object_keypoint_similarity(predicted, truth, labelled, area) == \
        pytest.approx(expected)
    assert math.isnan(metrics.object_keypoint_similarity(predicted, truth, np.zeros(17), area))


def test_people_are_matched_one_to_one_by_least_distance():
    truth = _truth()[0]
    visible = np.ones((2, 33), bool)
    predicted = np.stack([truth[1] + 2.0, truth[0] + 1.0, truth[0] + 60.0])
    pairs = metrics.match_people(truth, visible, [100.0, 100.0], predicted)
    assert [(t, p) for t, p, _ in pairs] == [(0, 1), (1, 0)]
    assert pairs[0][2] == pytest.approx(np.sqrt(2) / 100)
    assert metrics.match_people(truth, visible, [100.0, 100.0], predicted[2:]) == []


def test_switches_misses_and_false_positives_are_counted():
    truth = _truth(frames=5)
    visible = np.ones(truth.shape[:3], bool)
    present = np.ones(truth.shape[:2], bool)
    a, b = truth[0, 0], truth[0, 1]
    far = a + 500.0
    predictions = [
        [(0, a), (1, b)],
        [(0, a), (1, b), (7, far)],  # a false positive
        [(1, b)],  # person 0 missed
        [(0, b), (1, a)],  # both identities switch
        [(0, b), (1, a)],  # no new switch: the ids stay
    ]
    result = metrics.tracking_metrics(truth, visible, present, [100.0, 100.0], predictions)
    assert (result.misses, result.false_positives, result.id_switches) == (1, 1, 2)
    assert result.present == 10 and result.mota == pytest.approx(1 - 4 / 10)
    assert np.isnan(result.errors[2, 0]) and result.errors[0, 0] == 0.0
    np.testing.assert_allclose(result.person_errors(), [0.0, 0.0])


def test_an_absent_person_is_no_miss_and_frames_must_agree():
    truth = _truth(frames=2)
    present = np.array([[True, False], [True, True]])
    predictions = [[(0, truth[0, 0])], [(0, truth[1, 0]), (1, truth[1, 1])]]
    result = metrics.tracking_metrics(truth, np.ones(truth.shape[:3], bool), present,
                                      [100.0, 100.0], predictions)
    assert (result.misses, result.false_positives, result.id_switches) == (0, 0, 0)
    with pytest.raises(ValueError, match="1 frames of predictions for 2"):
        metrics.tracking_metrics(truth, np.ones(truth.shape[:3], bool), present,
                                 [100.0, 100.0], predictions[:1])
