"""The pipeline on a real photo: both backends agree, landmarks are plausible, tracking works."""

import numpy as np
import pytest

from blazepose.inference import PosePipeline, PoseResult, geometry

# Keras (our network, Google's weights, TF) against TFLite (Google's files): the networks agree
# to ~1e-3 crop pixels (see blazepose.pretrained.parity); through the same numpy pre- and
# post-processing the image-pixel results must agree to these tolerances (the astronaut's crop
# is ~1250 px: 0.1 px is 0.02 crop pixels; the hands' heatmap windows amplify the 1e-3).
XY_TOLERANCE_PX = 0.1
Z_TOLERANCE_PX = 0.2
PROBABILITY_TOLERANCE = 1e-3
WORLD_TOLERANCE_M = 1e-3

# Landmark indices (BlazePose 33).
NOSE, LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP = 0, 11, 12, 23, 24


@pytest.fixture(scope="module")
def tflite_pipeline(tflite_detector, tflite_landmarks):
    return PosePipeline(tflite_detector, tflite_landmarks, segmentation=True)


@pytest.fixture(scope="module")
def keras_pipeline():
    return PosePipeline.from_pretrained(backend="keras", segmentation=True)


def test_finds_the_person_with_plausible_landmarks(tflite_pipeline, astronaut):
    result = tflite_pipeline.process_image(astronaut)
    assert isinstance(result, PoseResult)
    assert result.landmarks.shape == (33, 5) and result.landmarks.dtype == np.float32
    assert result.world_landmarks.shape == (33, 3) and result.world_landmarks.dtype == np.float32
    assert result.detected and result.detection_score > 0.5 and result.pose_flag > 0.9
    x, y = result.landmarks[:, 0], result.landmarks[:, 1]
    # The face is at about x 170..290, y 60..190 of the 512x512 portrait (she faces us).
    assert 170 < x[NOSE] < 290 and 60 < y[NOSE] < 190
    assert y[NOSE] < y[LEFT_SHOULDER] and y[NOSE] < y[RIGHT_SHOULDER]
    assert x[LEFT_SHOULDER] > x[NOSE] > x[RIGHT_SHOULDER]  # her left is the image's right
    assert y[LEFT_HIP] > y[LEFT_SHOULDER] + 100 and y[RIGHT_HIP] > y[RIGHT_SHOULDER] + 100
    assert result.landmarks[[NOSE, LEFT_SHOULDER, RIGHT_SHOULDER], 3].min() > 0.9  # visible
    assert result.landmarks[[LEFT_HIP, RIGHT_HIP], 3].max() < 0.5  # below the photo's edge
    shoulders_m = np.linalg.norm(result.world_landmarks[LEFT_SHOULDER]
                                 - result.world_landmarks[RIGHT_SHOULDER])
    assert 0.2 < shoulders_m < 0.6
    mask = result.segmentation
    assert mask.shape == (512, 512) and mask.dtype == np.float32
    assert mask[120:170, 200:260].mean() > 0.8  # face
    assert mask[5:40, 440:505].mean() < 0.2  # background, top right


def test_keras_and_tflite_backends_agree(tflite_pipeline, keras_pipeline, astronaut):
    a = tflite_pipeline.process_image(astronaut)
    b = keras_pipeline.process_image(astronaut)
    for field in ("center_x", "center_y", "size", "rotation"):
        assert getattr(a.roi, field) == pytest.approx(getattr(b.roi, field), rel=1e-4, abs=1e-3)
    np.testing.assert_allclose(b.landmarks[:, :2], a.landmarks[:, :2], atol=XY_TOLERANCE_PX)
    np.testing.assert_allclose(b.landmarks[:, 2], a.landmarks[:, 2], atol=Z_TOLERANCE_PX)
    np.testing.assert_allclose(b.landmarks[:, 3:], a.landmarks[:, 3:], atol=PROBABILITY_TOLERANCE)
    np.testing.assert_allclose(b.world_landmarks, a.world_landmarks, atol=WORLD_TOLERANCE_M)
    assert b.pose_flag == pytest.approx(a.pose_flag, abs=1e-4)
    # Mask edges are one crop pixel wide (logits reach +-1500): compare areas, not maxima.
    assert np.abs(b.segmentation - a.segmentation).mean() < 1e-3
    a_mask, b_mask = a.segmentation > 0.5, b.segmentation > 0.5
    assert (a_mask & b_mask).sum() / (a_mask | b_mask).sum() > 0.999


@pytest.mark.parametrize("kind", ["grey", "gradient", "noise"])
def test_no_person_is_none_not_an_error(tflite_pipeline, kind):
    rows, cols = np.mgrid[0:240, 0:320]
    image = {"grey": np.full((240, 320, 3), 128),
             "gradient": np.stack([cols * 0.7, rows, 255 - cols * 0.5], axis=-1),
             "noise": np.random.default_rng(0).integers(0, 256, (240, 320, 3))}[kind]
    image = image.astype(np.uint8)
    assert tflite_pipeline.process_image(image) is None
    tflite_pipeline.reset()
    assert tflite_pipeline.process_frame(image, 0.0) is None
    assert tflite_pipeline.tracked_roi is None


def _scene(photo, shift, width=320, height=240, side=128):
    """The photo scaled to ``side`` on a grey canvas, ``shift`` pixels right of x=20."""
    import cv2

    canvas = np.full((height, width, 3), 90, np.uint8)
    small = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    canvas[height - side:, 20 + shift:20 + shift + side] = small
    return canvas


class _CountingBackend:
    """Wraps a backend and counts its calls."""

    def __init__(self, backend):
        self.backend = backend
        self.kind, self.input_size, self.source = backend.kind, backend.input_size, "counting"
        self.output_keys = backend.output_keys
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.backend(*args, **kwargs)


def test_tracking_reuses_the_roi_until_the_pose_flag_drops(tflite_detector, tflite_landmarks,
                                                          astronaut):
    detector = _CountingBackend(tflite_detector)
    pipeline = PosePipeline(detector, tflite_landmarks)
    blank = np.full((240, 320, 3), 90, np.uint8)
    frames = [_scene(astronaut, 6 * i) for i in range(4)] + [blank] + [_scene(astronaut, 30)]
    calls, results = [], []
    for index, frame in enumerate(frames):
        results.append(pipeline.process_frame(frame, index / 30))
        calls.append(detector.calls)
    # Detector on the first frame only; the crop then follows the landmarks. The empty frame is
    # still tracked (no detector), its pose flag drops: None, and the next frame detects again.
    assert calls == [1, 1, 1, 1, 1, 2]
    assert [r is None for r in results] == [False] * 4 + [True, False]
    assert results[0].detected and not any(r.detected for r in results[1:4])
    assert results[5].detected
    # The tracked crops follow the person: the nose moves right with the 6-pixel shifts.
    noses = np.array([r.landmarks[NOSE, 0] for r in results[:4]])
    assert np.all(np.diff(noses) > 2.0)
    # Without tracking the detector runs on every frame.
    untracked = PosePipeline(detector, tflite_landmarks, tracking=False)
    before = detector.calls
    for index, frame in enumerate(frames[:3]):
        assert untracked.process_frame(frame, index / 30).detected
    assert detector.calls == before + 3


def test_tracked_and_smoothed_landmarks_stay_close_to_single_image_results(
        tflite_pipeline, astronaut):
    scene = _scene(astronaut, 10)
    single = tflite_pipeline.process_image(scene)
    tflite_pipeline.reset()
    for index in range(5):
        tracked = tflite_pipeline.process_frame(scene, index / 30)
    # The crop is placed from landmarks instead of the detector: close, not identical.
    body = single.landmarks[:, 3] > 0.5
    error = np.linalg.norm(tracked.landmarks[body, :2] - single.landmarks[body, :2], axis=1)
    assert np.median(error) < 2.0, error
    assert not tracked.detected


def test_bad_inputs_are_clear_errors(tflite_pipeline, astronaut):
    with pytest.raises(ValueError, match="uint8 RGB"):
        tflite_pipeline.process_image(astronaut.astype(np.float32))
    with pytest.raises(ValueError, match="uint8 RGB"):
        tflite_pipeline.process_image(astronaut[..., 0])
    tflite_pipeline.reset()
    tflite_pipeline.process_frame(astronaut, 1.0)
    with pytest.raises(ValueError, match="not after the previous"):
        tflite_pipeline.process_frame(astronaut, 1.0)
    tflite_pipeline.reset()
    assert tflite_pipeline.process_frame(astronaut, 0.5) is not None


def test_roi_of_the_result_maps_crop_points_into_the_image(tflite_pipeline, astronaut):
    result = tflite_pipeline.process_image(astronaut)
    corners = result.roi.corners()
    assert corners.shape == (4, 2)
    np.testing.assert_allclose(corners.mean(axis=0), [result.roi.center_x, result.roi.center_y],
                               atol=1e-3)
    assert isinstance(result.roi, geometry.Roi)
