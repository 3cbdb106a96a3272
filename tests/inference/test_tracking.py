"""blazepose.inference.tracking: boxes, the Hungarian assignment, duplicates, a track's motion."""

import numpy as np
import pytest

from blazepose.inference import PipelineConfig, tracking


def _person(x, y, height=100.0, seed=0):
    """[33, 5] landmarks of a stick person whose box is x..x+40, y..y+height."""
    rng = np.random.default_rng(seed)
    points = np.zeros((33, 5))
    points[:, 0] = x + rng.uniform(0, 40, 33)
    points[:, 1] = y + rng.uniform(0, height, 33)
    points[[0, 1], 0], points[[0, 1], 1] = [x, x + 40], [y, y + height]
    points[:11, 1] = y + rng.uniform(0, 0.15 * height, 11)  # the face at the top
    return points


def test_box_iou_of_known_boxes():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 5]])
    iou = tracking.box_iou(boxes[:1], boxes)
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0, 0.0]])
    assert tracking.box_iou(boxes, boxes).shape == (4, 4)


def test_assignment_maximises_the_total_where_greedy_would_not():
    # Greedy takes (0, 0) = 0.9 first and is left with (1, 1) = 0.1: total 1.0; best is 1.6.
    scores = np.array([[0.9, 0.8], [0.8, 0.1]])
    assert tracking.assign(scores, 0.0) == [(0, 1), (1, 0)]
    assert tracking.assign(scores, 0.85) == []  # pairs below the minimum are dropped
    assert tracking.assign(np.zeros((0, 3)), 0.0) == []
    wide = np.array([[0.0, 0.2, 0.7]])
    assert tracking.assign(wide, 0.1) == [(0, 2)]


def test_pose_distance_tells_one_person_from_two():
    person = _person(100, 50)
    jittered = person + np.random.default_rng(1).normal(0, 1.0, person.shape)
    other = _person(160, 50, seed=2)
    assert tracking.pose_distance(person, jittered) < 0.05
    assert tracking.pose_distance(person, other) > 0.3


def test_face_box_is_a_square_around_the_face_landmarks():
    person = _person(100, 50, height=200)
    box = tracking.face_box(person, scale=3.0)
    face = tracking.landmark_box(person[:11])
    np.testing.assert_allclose(box[2] - box[0], box[3] - box[1])
    assert box[0] <= face[0] and box[2] >= face[2] and box[1] <= face[1] and box[3] >= face[3]
    assert box[3] < 50 + 200  # well above the feet


def test_a_track_predicts_its_box_from_its_velocity_and_caps_the_horizon():
    track = tracking.Track(3, PipelineConfig())
    track.observe(np.array([0, 0, 10, 20.0]), 0.0, 0)
    # The centre moves 20 px/s to the right while the box widens: only the centre counts.
    track.observe(np.array([1, 0, 13, 20.0]), 0.1, 1)
    alpha = tracking.VELOCITY_ALPHA
    np.testing.assert_allclose(track.velocity, [20 * alpha, 0])
    shift = 20 * alpha * 0.5
    np.testing.assert_allclose(track.predicted_box(0.6, horizon_s=1.0),
                               [1 + shift, 0, 13 + shift, 20])
    np.testing.assert_allclose(track.predicted_box(5.0, horizon_s=1.0),
                               [1 + 2 * shift, 0, 13 + 2 * shift, 20])
    assert track.first_frame == 0 and track.last_frame == 1
    track.observe(np.array([50, 0, 60, 20.0]), 0.5, 5)  # after a gap: no velocity jump
    np.testing.assert_allclose(track.velocity, [20 * alpha, 0])


def test_each_track_has_its_own_filters():
    first, second = tracking.Track(0, PipelineConfig()), tracking.Track(1, PipelineConfig())
    first.landmarks_filter.apply(np.zeros((33, 3)), 0.0, 100.0)
    out = first.landmarks_filter.apply(np.ones((33, 3)), 1 / 30, 100.0)
    assert (out < 1).all()  # smoothed towards the first value
    fresh = second.landmarks_filter.apply(np.ones((33, 3)), 1 / 30, 100.0)
    np.testing.assert_array_equal(fresh, 1.0)  # nothing shared
    first.reset_filters()
    np.testing.assert_array_equal(first.landmarks_filter.apply(np.full((33, 3), 5.0), 1.0,
                                                               100.0), 5.0)


@pytest.mark.parametrize("field, value", [("redetect_interval", 0), ("max_lost_s", -1.0),
                                          ("people_detection_score", 1.5),
                                          ("candidate_max_iou", -0.1)])
def test_bad_people_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        PipelineConfig(**{field: value})
