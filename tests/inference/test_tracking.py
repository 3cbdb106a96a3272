"""blazepose.inference.tracking: boxes, the Hungarian assignment, duplicates, a track's motion
and appearance."""

import numpy as np
import pytest

from blazepose.inference import PipelineConfig, PosePipeline, tracking


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


def test_cover_matrix_and_mutual_cover():
    big, small, apart = np.array([0, 0, 10, 10]), np.array([8, 8, 12, 12]), np.array([20, 0, 30, 5])
    assert tracking.mutual_cover(big, small) == tracking.mutual_cover(small, big) == 0.25
    assert tracking.mutual_cover(big, np.array([2, 2, 4, 4])) == 1.0
    assert tracking.mutual_cover(big, apart) == 0.0
    boxes = np.stack([big, small, apart, np.array([5, 5, 5, 9])])  # the last has no area
    expected = np.array([[tracking.box_cover(a, b)[0] if i != j else 0.0
                          for j, b in enumerate(boxes)] for i, a in enumerate(boxes)])
    np.testing.assert_allclose(tracking.cover_matrix(boxes), expected)


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
                                          ("candidate_max_iou", -0.1),
                                          ("appearance_match", -0.1),
                                          ("appearance_max_cover", 1.5)])
def test_bad_people_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        PipelineConfig(**{field: value})


def _dressed_person(top, bottom, x=100, image_size=(300, 300)):
    """A uint8 image with one person painted as blocks (top colour for torso and arms, bottom
    for legs) on grey, and its [33, 5] landmarks (all visible)."""
    image = np.full(image_size + (3,), 128, np.uint8)
    points = np.zeros((33, 5))
    points[:, 3:] = 1.0
    points[:11, :2] = [x + 20, 20]  # face
    points[[11, 12], :2] = [[x, 50], [x + 40, 50]]  # shoulders
    points[[13, 14], :2] = [[x - 10, 90], [x + 50, 90]]  # elbows
    points[[23, 24], :2] = [[x + 5, 130], [x + 35, 130]]  # hips
    points[[25, 26], :2] = [[x + 5, 190], [x + 35, 190]]  # knees
    points[[27, 28], :2] = [[x + 5, 250], [x + 35, 250]]  # ankles
    points[29:, :2] = [x + 20, 255]
    image[45:135, x - 15:x + 56] = top
    image[135:260, x - 5:x + 46] = bottom
    return image, points


def test_appearance_reads_the_clothes_by_part():
    image, points = _dressed_person((200, 30, 30), (20, 20, 160))
    seen = tracking.appearance(image, points)
    assert seen.valid.all()
    np.testing.assert_allclose(seen.colours[0], np.array([200, 30, 30]) / 255, atol=1e-6)
    np.testing.assert_allclose(seen.colours[1:3], np.tile(np.array([20, 20, 160]) / 255,
                                                          (2, 1)), atol=1e-6)
    points[[25, 26], 3] = 0.1  # knees hidden: neither thighs nor shins can be read
    hidden = tracking.appearance(image, points)
    assert hidden.valid.tolist() == [True, False, False, True]


def test_appearance_distance_tells_outfits_apart_and_ignores_unseen_parts():
    red_blue = tracking.appearance(*_dressed_person((200, 30, 30), (20, 20, 160)))
    red_blue_again = tracking.appearance(*_dressed_person((205, 35, 30), (20, 25, 160), x=150))
    green_black = tracking.appearance(*_dressed_person((30, 180, 40), (10, 10, 10)))
    config = PipelineConfig()
    assert tracking.appearance_distance(red_blue, red_blue_again) < 0.05
    assert tracking.appearance_distance(red_blue, green_black) > (
        config.appearance_match + config.appearance_margin)
    nothing = tracking.Appearance(np.zeros((4, 3)), np.zeros(4, bool))
    assert np.isnan(tracking.appearance_distance(red_blue, nothing))


def test_a_track_averages_its_appearance_and_hands_over_its_identity():
    config = PipelineConfig()
    track = tracking.Track(3, config, first_frame=5)
    colours = np.zeros((4, 3))
    for value in (0.2, 0.4):
        colours[0] = value
        track.remember(tracking.Appearance(colours.copy(), np.array([True, False, False, False])))
    np.testing.assert_allclose(track.appearance.colours[0], 0.3)
    assert track.appearance.valid.tolist() == [True, False, False, False]
    assert track.appearance_frames.tolist() == [2, 0, 0, 0]
    for _ in range(3 * tracking.APPEARANCE_MEMORY):  # then it forgets: the recent colour wins
        track.remember(tracking.Appearance(np.ones((4, 3)), np.ones(4, bool)))
    assert track.appearance.colours[0, 0] > 0.9 and track.appearance.valid.all()
    other = tracking.Track(8, config, first_frame=40)
    mine, theirs = track.identity(), other.identity()
    track.take_identity(theirs)
    other.take_identity(mine)
    assert (track.track_id, track.first_frame, track.appearance) == (8, 40, None)
    assert (other.track_id, other.first_frame) == (3, 5) and other.appearance is not None


def test_a_crop_that_slid_onto_a_neighbour_is_dropped_and_its_person_lost(
        tflite_detector, tflite_landmarks):
    image, red = _dressed_person((200, 30, 30), (20, 20, 160), x=100)
    green_image, green = _dressed_person((30, 180, 40), (10, 10, 10), x=135)
    image[:, 141:] = green_image[:, 141:]  # a green person overlapping the red one
    pipeline = PosePipeline(tflite_detector, tflite_landmarks, max_people=3)
    tracks = [tracking.Track(k, pipeline.config) for k in range(3)]
    for track, colours in zip(tracks, [((200, 30, 30), (20, 20, 160)),
                                       ((30, 180, 40), (10, 10, 10)),
                                       ((240, 240, 240), (200, 200, 0))]):
        track.remember(tracking.appearance(*_dressed_person(*colours)))
    slid = red.copy()
    slid[:, 1] += 8  # track 2 (white and yellow) now sees the red person, as track 0 does
    people = [(tracks[0], {"landmarks": red}, None, False, None),
              (tracks[1], {"landmarks": green}, None, False, None),
              (tracks[2], {"landmarks": slid}, None, False, None)]
    kept = pipeline._drop_lookalikes(image, people)
    assert [item[0].track_id for item in kept] == [0, 1]  # green overlaps red but is itself
    assert pipeline._lost == [tracks[2]]
