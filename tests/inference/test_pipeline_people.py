"""PosePipeline with several people: detection, identities, merging, and max_people=1 unchanged.

Generated crowd clips (blazepose.synthesis.crowd) give the truth; Google's TFLite networks run.
"""

import cv2
import numpy as np
import pytest

from blazepose import metrics
from blazepose.inference import PipelineConfig, PosePipeline, tracking
from blazepose.synthesis import crowd

NOSE = 0


@pytest.fixture(scope="module")
def crossing_clip():
    """Two people who swap sides (the second passing behind the first), 960x540, 2 s."""
    return crowd.generate_clip(np.random.default_rng([0, 2, 1, 1]), 2, crossing=True,
                               num_frames=60, seed=1)


def _scene(photo, shift, width=320, height=240, side=128):
    canvas = np.full((height, width, 3), 90, np.uint8)
    small = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    canvas[height - side:, 20 + shift:20 + shift + side] = small
    return canvas


def _matched(clip, index, people):
    """{true person: (track id, error)} of the people reported on frame ``index``."""
    pairs = metrics.match_people(clip.keypoints[index], clip.visibility[index] > 0,
                                 clip.person_height, np.stack([p.landmarks for p in people]))
    return {truth: (people[found].track_id, error) for truth, found, error in pairs}


def test_max_people_1_is_the_single_person_pipeline(tflite_detector, tflite_landmarks,
                                                    astronaut):
    people = PosePipeline(tflite_detector, tflite_landmarks)
    single = PosePipeline(tflite_detector, tflite_landmarks)
    [found] = people.process_image_people(astronaut)
    expected = single.process_image(astronaut)
    np.testing.assert_array_equal(found.landmarks, expected.landmarks)
    assert found.track_id == 0 and expected.track_id is None
    blank = np.full((240, 320, 3), 90, np.uint8)
    frames = [_scene(astronaut, 6 * i) for i in range(3)] + [blank, _scene(astronaut, 20)]
    ids = []
    for index, frame in enumerate(frames):
        reported = people.process_frame_people(frame, index / 30)
        expected = single.process_frame(frame, index / 30)
        if expected is None:
            assert reported == []
            ids.append(None)
            continue
        [person] = reported
        np.testing.assert_array_equal(person.landmarks, expected.landmarks)
        np.testing.assert_array_equal(person.world_landmarks, expected.world_landmarks)
        assert person.detected == expected.detected
        ids.append(person.track_id)
    assert ids == [0, 0, 0, None, 1]  # a new track after the person was lost


def test_every_person_of_an_image_is_found(tflite_detector, tflite_landmarks, crossing_clip):
    frame = crowd.render_frame(crossing_clip, 0)
    single = PosePipeline(tflite_detector, tflite_landmarks)
    assert len(single.process_image_people(frame)) == 1
    pipeline = PosePipeline(tflite_detector, tflite_landmarks, max_people=4)
    people = pipeline.process_image_people(frame)
    assert len(people) == 2 and [p.track_id for p in people] == [0, 1]
    matched = _matched(crossing_clip, 0, people)
    assert sorted(matched) == [0, 1]
    assert all(error < 0.05 for _, error in matched.values())  # of the person's height
    assert pipeline.last_timings["landmark_runs"] >= 2
    capped = PosePipeline(tflite_detector, tflite_landmarks, max_people=2,
                          config=PipelineConfig(people_detection_score=0.99))
    assert capped.process_image_people(frame) == []  # nothing scores 0.99


def test_blanking_a_found_face_lets_the_detector_find_the_next_person(
        tflite_detector, tflite_landmarks, crossing_clip):
    frame = crowd.render_frame(crossing_clip, 0)
    pipeline = PosePipeline(tflite_detector, tflite_landmarks, max_people=2)
    [(first_roi, _)] = pipeline.detect_people(frame, limit=1)
    first = pipeline.estimate(frame, first_roi)["landmarks"][:33]
    [(second_roi, _)] = pipeline.detect_people(frame, exclude=[first], limit=1)
    second = pipeline.estimate(frame, second_roi)["landmarks"][:33]
    assert tracking.pose_distance(first, second) > 0.5  # someone else
    truth_x = crossing_clip.keypoints[0, :, NOSE, 0]
    noses = sorted([first[NOSE, 0], second[NOSE, 0]])
    np.testing.assert_allclose(noses, np.sort(truth_x), atol=15)


def test_identities_survive_a_crossing(tflite_detector, tflite_landmarks, crossing_clip):
    pipeline = PosePipeline(tflite_detector, tflite_landmarks, max_people=4)
    predictions, detector_frames = [], 0
    for index in range(crossing_clip.num_frames):
        people = pipeline.process_frame_people(crowd.render_frame(crossing_clip, index),
                                               index / crossing_clip.fps)
        assert [p.track_id for p in people] == sorted(p.track_id for p in people)
        predictions.append([(p.track_id, p.landmarks) for p in people])
        detector_frames += "detector_ms" in pipeline.last_timings
    result = metrics.tracking_metrics(crossing_clip.keypoints, crossing_clip.visibility > 0,
                                      crossing_clip.present, crossing_clip.person_height,
                                      predictions)
    assert result.id_switches == 0
    assert result.misses <= 0.1 * result.present and result.false_positives <= 3
    # Each person kept one id: the first and the last frames agree on who is who.
    first = _matched(crossing_clip, 0, [p for p in pipeline.process_image_people(
        crowd.render_frame(crossing_clip, 0))])
    assert set(first) == {0, 1}
    assert {ids[0] for ids in predictions[-1]} == {0, 1}
    assert detector_frames < crossing_clip.num_frames  # tracked, not detected on every frame


@pytest.fixture(scope="module")
def apart_clip():
    """Two people in lanes of their own, differently dressed, 960x540, 1 s."""
    return crowd.generate_clip(np.random.default_rng([0, 2, 0, 1]), 2, crossing=False,
                               num_frames=30, seed=0)


def _run(pipeline, clip, indices, only=None):
    """{true person: track id} of the last of ``indices`` (frames of ``clip``)."""
    for index in indices:
        people = pipeline.process_frame_people(crowd.render_frame(clip, index, only=only),
                                               index / clip.fps)
    return {truth: track_id for truth, (track_id, _) in _matched(clip, index, people).items()}


def test_crops_that_follow_each_others_people_get_their_ids_back(
        tflite_detector, tflite_landmarks, apart_clip):
    pipeline = PosePipeline(tflite_detector, tflite_landmarks, max_people=2)
    before = _run(pipeline, apart_clip, range(8))
    assert sorted(before) == [0, 1] and all(t.appearance is not None for t in pipeline._tracks)
    first, second = pipeline._tracks  # as if each crop had slid onto the other person
    identities = first.identity(), second.identity()
    first.take_identity(identities[1])
    second.take_identity(identities[0])
    assert _run(pipeline, apart_clip, [8]) == before


def test_a_person_found_again_elsewhere_keeps_the_id_by_appearance(
        tflite_detector, tflite_landmarks, apart_clip):
    # match_min_iou=1: the lost person's predicted box can never match; only appearance can.
    pipeline = PosePipeline(tflite_detector, tflite_landmarks, max_people=2,
                            config=PipelineConfig(match_min_iou=1.0))
    before = _run(pipeline, apart_clip, range(8))
    assert sorted(before) == [0, 1]
    assert _run(pipeline, apart_clip, range(8, 14), only=0) == {0: before[0]}  # 1 is lost
    assert _run(pipeline, apart_clip, range(14, 20)) == before
    without = PosePipeline(tflite_detector, tflite_landmarks, max_people=2, config=PipelineConfig(
        match_min_iou=1.0, appearance_match=0.0))  # no appearance: a new id
    _run(without, apart_clip, range(8))
    _run(without, apart_clip, range(8, 14), only=0)
    assert _run(without, apart_clip, range(14, 20))[1] not in before.values()


def test_someone_new_while_a_person_is_lost_waits_to_be_told_apart(
        tflite_detector, tflite_landmarks, apart_clip):
    pipeline = PosePipeline(tflite_detector, tflite_landmarks, max_people=2,
                            config=PipelineConfig(match_min_iou=1.0))
    before = _run(pipeline, apart_clip, range(8))
    _run(pipeline, apart_clip, range(8, 14), only=0)
    [lost] = pipeline._lost  # dressed in black: whoever comes now is someone else
    lost.appearance = tracking.Appearance(np.zeros((4, 3)), np.ones(4, bool))
    reported = []
    for index in range(14, 24):
        people = pipeline.process_frame_people(crowd.render_frame(apart_clip, index),
                                               index / apart_clip.fps)
        reported.append(sorted(p.track_id for p in people))
    newcomer = max(before.values()) + 1
    assert [before[0]] in reported[:tracking.CONFIRM_FRAMES]  # the newcomer is held back
    assert reported[-1] == sorted([before[0], newcomer])  # then reported with a new id
    assert all(r in ([before[0]], sorted([before[0], newcomer])) for r in reported)


def test_without_tracking_the_detector_runs_every_frame_and_ids_still_hold(
        tflite_detector, tflite_landmarks, crossing_clip):
    pipeline = PosePipeline(tflite_detector, tflite_landmarks, max_people=2, tracking=False)
    seen = []
    for index in range(5):  # before the people move
        frame = crowd.render_frame(crossing_clip, index)
        people = pipeline.process_frame_people(frame, index / 30)
        assert "detector_ms" in pipeline.last_timings and all(p.detected for p in people)
        seen.append({truth: track_id for truth, (track_id, _) in
                     _matched(crossing_clip, index, people).items()})
    assert seen[0].keys() == {0, 1} and all(s == seen[0] for s in seen)


def test_a_person_who_comes_back_soon_keeps_the_id(tflite_detector, tflite_landmarks,
                                                    astronaut):
    config = PipelineConfig(max_lost_s=0.2)
    pipeline = PosePipeline(tflite_detector, tflite_landmarks, max_people=2, config=config)
    blank = np.full((240, 320, 3), 90, np.uint8)
    frames = ([_scene(astronaut, 0), _scene(astronaut, 4), blank, blank, _scene(astronaut, 8)]
              + [blank] * 8 + [_scene(astronaut, 8)])
    ids = []
    for index, frame in enumerate(frames):
        people = pipeline.process_frame_people(frame, index / 30)
        ids.append([p.track_id for p in people])
    assert ids[:5] == [[0], [0], [], [], [0]]  # back after 2 frames: the same person
    assert ids[-1] == [1]  # back after 8 frames (0.27 s > max_lost_s): someone new


def test_two_tracks_on_one_person_are_merged(tflite_detector, tflite_landmarks, astronaut):
    pipeline = PosePipeline(tflite_detector, tflite_landmarks, max_people=3)
    [person] = pipeline.process_frame_people(_scene(astronaut, 0), 0.0)
    original = pipeline._tracks[0]
    twin = tracking.Track(7, pipeline.config, next_roi=original.next_roi, box=original.box,
                          last_time=0.0, last_frame=0, first_frame=0)
    pipeline._tracks.append(twin)  # as if a second track had drifted onto the same person
    people = pipeline.process_frame_people(_scene(astronaut, 2), 1 / 30)
    assert [p.track_id for p in people] == [person.track_id]
    assert twin in pipeline._lost


def test_bad_max_people_is_refused(tflite_detector, tflite_landmarks):
    with pytest.raises(ValueError, match="max_people must be >= 1"):
        PosePipeline(tflite_detector, tflite_landmarks, max_people=0)
