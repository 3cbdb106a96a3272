"""The legacy ``mp.solutions.pose`` API surface of :mod:`blazepose.solutions.pose` (no MediaPipe
needed): names, connections, argument checks, results, the simulated clock, segmentation."""

import math

import numpy as np
import pytest

from blazepose.inference.pipeline import load_pipeline
from blazepose.solutions import drawing_utils, landmarks
from blazepose.solutions import pose as mp_pose
from blazepose.topology import BLAZEPOSE_33


def _image(photos, name):
    return dict(photos)[name]


# ------------------------------------------------------------------------------------------
# Constants.

def test_pose_landmark_has_mediapipes_33_names_and_indices():
    assert len(mp_pose.PoseLandmark) == 33
    assert [member.name for member in mp_pose.PoseLandmark] == list(BLAZEPOSE_33.keypoint_names)
    assert [int(member) for member in mp_pose.PoseLandmark] == list(range(33))
    assert mp_pose.PoseLandmark.NOSE == 0
    assert mp_pose.PoseLandmark.LEFT_SHOULDER == 11
    assert mp_pose.PoseLandmark.RIGHT_WRIST == 16
    assert mp_pose.PoseLandmark.RIGHT_FOOT_INDEX == 32
    assert isinstance(mp_pose.PoseLandmark.LEFT_HIP, int)  # IntEnum: indexes lists directly


def test_pose_connections_are_mediapipes_35_oriented_pairs():
    connections = mp_pose.POSE_CONNECTIONS
    assert isinstance(connections, frozenset) and len(connections) == 35
    assert {tuple(sorted(pair)) for pair in connections} == {
        tuple(sorted(edge)) for edge in BLAZEPOSE_33.edges}
    # MediaPipe's orientation of a few pairs (code tests `(a, b) in POSE_CONNECTIONS`).
    for pair in ((11, 12), (3, 7), (6, 8), (27, 31), (28, 32), (29, 31), (30, 32)):
        assert pair in connections
    assert all(0 <= a < 33 and 0 <= b < 33 for a, b in connections)


def test_the_simulated_clock_steps_33333_microseconds():
    assert mp_pose.FRAME_STEP_US == 33333


# ------------------------------------------------------------------------------------------
# Arguments.

@pytest.mark.parametrize("complexity, words", [(0, "Lite"), (2, "Heavy")])
def test_lite_and_heavy_are_refused_with_what_to_pass(complexity, words):
    with pytest.raises(ValueError, match=words) as raised:
        mp_pose.Pose(model_complexity=complexity)
    assert "model_complexity=1" in str(raised.value) and "Full" in str(raised.value)


@pytest.mark.parametrize("value", [3, -1, "1", 1.0, True, None])
def test_other_model_complexities_are_refused(value):
    with pytest.raises(ValueError, match="model_complexity"):
        mp_pose.Pose(model_complexity=value)


@pytest.mark.parametrize("name", ["min_detection_confidence", "min_tracking_confidence"])
@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), float("inf"), "0.5", None, True])
def test_bad_confidences_are_refused(name, value):
    with pytest.raises(ValueError, match=name):
        mp_pose.Pose(**{name: value})


@pytest.mark.parametrize("name", ["static_image_mode", "smooth_landmarks",
                                  "enable_segmentation", "smooth_segmentation"])
def test_flags_must_be_booleans(name):
    with pytest.raises(ValueError, match=name):
        mp_pose.Pose(**{name: "yes"})


def test_legacy_positional_arguments_and_the_pipeline_configuration():
    pose = mp_pose.Pose(False, 1, True, False, True, 0.3, 0.7)
    config = pose.pipeline.config
    # min_detection_confidence: the detector's score threshold; min_tracking_confidence: the
    # pose-presence flag threshold (the legacy graph's ThresholdingCalculator).
    assert config.min_detection_score == pytest.approx(0.3)
    assert config.min_pose_flag == pytest.approx(0.7)
    assert config.video_graph == "legacy"
    assert pose.pipeline.tracking and pose.pipeline.smoothing
    assert not pose.pipeline.segmentation
    still = mp_pose.Pose(static_image_mode=True, enable_segmentation=True)
    assert not still.pipeline.tracking and not still.pipeline.smoothing
    assert still.pipeline.segmentation
    assert not mp_pose.Pose(smooth_landmarks=False).pipeline.smoothing
    assert mp_pose.Pose(min_detection_confidence=0, min_tracking_confidence=1)  # ints allowed


# ------------------------------------------------------------------------------------------
# Results.

@pytest.mark.parametrize("static", [True, False])
def test_nobody_on_a_blank_image_gives_none_fields(static):
    blank = np.full((240, 320, 3), 128, np.uint8)
    with mp_pose.Pose(static_image_mode=static, enable_segmentation=True) as pose:
        for _ in range(2):
            results = pose.process(blank)
            assert results.pose_landmarks is None
            assert results.pose_world_landmarks is None
            assert results.segmentation_mask is None
            assert not results.pose_landmarks  # the legacy `if results.pose_landmarks:` idiom


def test_a_person_gives_normalised_landmarks_consistent_with_the_pipeline(photos):
    """zidane is 1280x720: x and z are divided by the width, y by the height."""
    image = _image(photos, "zidane")
    height, width = image.shape[:2]
    with mp_pose.Pose(static_image_mode=True) as pose:
        results = pose.process(image)
    expected = load_pipeline("tflite", tracking=False, smoothing=False).process_image(image)
    points = results.pose_landmarks.landmark
    assert len(points) == 33
    normalised = results.pose_landmarks.to_array()
    np.testing.assert_allclose(normalised[:, 0] * width, expected.landmarks[:, 0], atol=1e-3)
    np.testing.assert_allclose(normalised[:, 1] * height, expected.landmarks[:, 1], atol=1e-3)
    np.testing.assert_allclose(normalised[:, 2] * width, expected.landmarks[:, 2], atol=1e-3)
    np.testing.assert_allclose(normalised[:, 3:], expected.landmarks[:, 3:], atol=1e-6)
    nose = points[mp_pose.PoseLandmark.NOSE]
    assert 0 < nose.x < 1 and 0 < nose.y < 1 and nose.visibility > 0.9
    assert isinstance(nose.x, float) and 0 <= nose.presence <= 1
    world = results.pose_world_landmarks.to_array()
    np.testing.assert_allclose(world[:, :3], expected.world_landmarks, atol=1e-6)
    np.testing.assert_array_equal(world[:, 3:], normalised[:, 3:])  # same visibility, presence
    left_hip, right_hip = (results.pose_world_landmarks.landmark[i] for i in (23, 24))
    assert abs(left_hip.x + right_hip.x) < 0.05  # metres, origin between the hips
    assert results.segmentation_mask is None


def test_segmentation_mask_is_float32_image_sized(photos):
    image = _image(photos, "astronaut")
    with mp_pose.Pose(static_image_mode=True, enable_segmentation=True) as pose:
        mask = pose.process(image).segmentation_mask
    assert mask.dtype == np.float32 and mask.shape == image.shape[:2]
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    assert mask[200:300, 200:300].mean() > 0.9 and mask[:40, :40].mean() < 0.1


def test_video_mode_uses_the_legacy_clock_and_tracks(photos, clip):
    frames = [frame for _, frame in clip[40:43]]
    with mp_pose.Pose() as pose:
        seen = []
        original = pose.pipeline.process_frame

        def spy(frame, timestamp_s):
            seen.append(timestamp_s)
            return original(frame, timestamp_s)

        pose.pipeline.process_frame = spy
        for frame in frames:
            assert pose.process(frame).pose_landmarks is not None
        assert pose.timestamp_us == 3 * 33333
        np.testing.assert_allclose(seen, [0.033333, 0.066666, 0.099999], rtol=0, atol=1e-12)
        assert pose.pipeline.tracked_roi is not None  # the next frame is tracked
        # A frame of another size restarts tracking instead of using the old crop.
        small = np.ascontiguousarray(frames[0][::2, ::2])
        pose.process(small)
        assert seen[-1] == pytest.approx(4 * 0.033333)


def test_smoothed_segmentation_blends_with_the_previous_mask(clip):
    frames = [frame for _, frame in clip[40:42]]
    with mp_pose.Pose(enable_segmentation=True) as smooth, \
            mp_pose.Pose(enable_segmentation=True, smooth_segmentation=False) as raw:
        smooth_masks = [smooth.process(frame).segmentation_mask for frame in frames]
        raw_masks = [raw.process(frame).segmentation_mask for frame in frames]
    np.testing.assert_array_equal(smooth_masks[0], raw_masks[0])
    np.testing.assert_allclose(smooth_masks[1],
                               mp_pose.blend_segmentation_masks(raw_masks[1], smooth_masks[0]),
                               atol=1e-6)
    assert not np.allclose(smooth_masks[1], raw_masks[1], atol=1e-3)


def test_blend_keeps_confident_pixels_and_moves_uncertain_ones():
    new = np.array([[0.0, 1.0, 0.5, 0.3, 0.9]], np.float32)
    previous = np.array([[1.0, 0.0, 1.0, 1.0, 0.0]], np.float32)
    blended = mp_pose.blend_segmentation_masks(new, previous)
    assert blended.dtype == np.float32 and blended.shape == new.shape
    assert blended[0, 0] == pytest.approx(0.0, abs=1e-4)  # certain: (almost) the new value
    assert blended[0, 1] == pytest.approx(1.0, abs=1e-4)
    assert blended[0, 2] == pytest.approx(0.5 + 0.5 * 0.7)  # fully uncertain: 70 % previous
    # MediaPipe's polynomial approximates the squared binary entropy (bits) of the new value.
    for p in (0.1, 0.2, 0.3, 0.4, 0.6, 0.8):
        entropy = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
        uncertainty = entropy ** 2
        got = mp_pose.blend_segmentation_masks(np.float32([[p]]), np.float32([[p + 1]]))[0, 0]
        assert (got - p) / 0.7 == pytest.approx(uncertainty, abs=0.01)


# ------------------------------------------------------------------------------------------
# Images, lifetime.

@pytest.mark.parametrize("image", [
    np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8),
    np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 3), np.uint8), [[0, 0, 0]]])
def test_non_rgb_uint8_images_are_refused(image):
    with mp_pose.Pose(static_image_mode=True) as pose, pytest.raises(ValueError, match="image"):
        pose.process(image)


def test_context_manager_closes():
    with mp_pose.Pose() as pose:
        assert isinstance(pose, mp_pose.Pose)
    with pytest.raises(ValueError, match="closed"):
        pose.process(np.zeros((64, 64, 3), np.uint8))
    pose.close()  # closing again is harmless
    pose.reset()


def test_non_contiguous_views_are_accepted(photos):
    bgr = np.ascontiguousarray(_image(photos, "astronaut")[:, :, ::-1])
    with mp_pose.Pose(static_image_mode=True) as pose:
        assert pose.process(bgr[:, :, ::-1]).pose_landmarks is not None  # BGR -> RGB view


# ------------------------------------------------------------------------------------------
# Landmark containers and drawing.

def test_landmark_lists_round_trip_and_check_shapes():
    array = np.arange(33 * 5, dtype=np.float32).reshape(33, 5) / 200
    points = landmarks.NormalizedLandmarkList.from_array(array)
    np.testing.assert_allclose(points.to_array(), array, rtol=1e-6)
    assert points.landmark[2].z == pytest.approx(array[2, 2])
    points.landmark[0].visibility = 0.25  # fields are assignable, as protobuf fields were
    assert points.to_array()[0, 3] == 0.25
    world = landmarks.LandmarkList.from_array(array[:, :3])
    assert world.landmark[5].visibility == 0.0
    with pytest.raises(ValueError, match="landmarks"):
        landmarks.LandmarkList.from_array(np.zeros((33, 2)))


def test_draw_landmarks_draws_visible_points_and_connections_in_place():
    points = landmarks.NormalizedLandmarkList.from_array(
        [[0.25, 0.5, 0.0, 0.9, 0.9], [0.75, 0.5, 0.0, 0.9, 0.9], [0.5, 0.9, 0.0, 0.1, 0.9]])
    image = np.zeros((100, 200, 3), np.uint8)
    drawing_utils.draw_landmarks(image, points, [(0, 1), (1, 2)])
    assert tuple(image[50, 50]) == drawing_utils.RED_COLOR  # a point
    assert tuple(image[50, 100]) == drawing_utils.WHITE_COLOR  # the line between them
    assert not image[88:92, 98:102].any()  # landmark 2 is not visible: no point, no line
    drawing_utils.draw_landmarks(image, None)  # no person: nothing to draw
    spec = drawing_utils.DrawingSpec(color=(0, 255, 0), thickness=1, circle_radius=1)
    drawing_utils.draw_landmarks(image, points.landmark, landmark_drawing_spec=spec)
    assert tuple(image[50, 50]) == (0, 255, 0)
    with pytest.raises(ValueError, match="out of range"):
        drawing_utils.draw_landmarks(image, points, [(0, 5)])
    with pytest.raises(ValueError, match="image"):
        drawing_utils.draw_landmarks(np.zeros((10, 10), np.uint8), points)
