"""Our PosePipeline against Google's MediaPipe runtime (mediapipe 1.2.2 in its side environment).

The side environment is made once per cache folder (about a minute from PyPI) and reused.
"""

import cv2
import numpy as np
import pytest

from blazepose import samples
from blazepose.export import task_export
from blazepose.inference import geometry
from blazepose.inference.pipeline import PipelineConfig, load_pipeline
from blazepose.mediapipe_runtime import client, environment, parity, probe


@pytest.fixture(scope="module")
def mediapipe_python():
    return environment.ensure_python("tasks")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundles")
    google = task_export.google_bundle(folder / "google.task")
    return google, parity.write_probe_task(google, folder / "probe.task")


@pytest.fixture(scope="module")
def photos():
    images = [(name, parity.read_photo(name)) for name in ("astronaut", "zidane")]
    frames = parity.read_frames(samples.fetch_sample("sports2d_demo"), (100, 120, 220))
    return images + [(f"sports2d#{i}", f) for i, f in zip((100, 120, 220), frames)]


def test_mediapipe_runs_our_bundle_of_googles_files_and_finds_the_astronaut(
        mediapipe_python, bundles, photos):
    (found,) = client.run_pose_landmarker(bundles[0], [photos[0][1]], python=mediapipe_python)
    assert len(found) == 1
    landmarks = found[0].landmarks
    assert landmarks.shape == (33, 5) and found[0].world_landmarks.shape == (33, 3)
    nose, left_hip = landmarks[0], landmarks[23]
    assert 150 < nose[0] < 300 and 50 < nose[1] < 200 and nose[3] > 0.9  # her face
    assert left_hip[1] > nose[1] + 150  # hips far below the face, off the photo


def test_the_probe_reports_mediapipes_crop_and_our_detection_path_is_exact(
        mediapipe_python, bundles):
    """On a 224x224 image the detector's letterbox is the identity, so both sides feed the
    detector the same tensor: decoding, weighted NMS and the ROI rule must then give MediaPipe's
    crop to float32 precision."""
    bgr = cv2.imread(str(samples.fetch_sample("astronaut")), cv2.IMREAD_COLOR)
    square = cv2.cvtColor(cv2.resize(bgr, (224, 224), interpolation=cv2.INTER_AREA),
                          cv2.COLOR_BGR2RGB)
    (found,) = client.run_pose_landmarker(bundles[1], [square], python=mediapipe_python)
    theirs = probe.roi_of(found[0].landmarks)
    ours, _ = load_pipeline("tflite", tracking=False, smoothing=False).detect(square)
    assert abs(ours.center_x - theirs.center_x) < 1e-3
    assert abs(ours.center_y - theirs.center_y) < 1e-3
    assert abs(ours.size - theirs.size) < 1e-3
    assert abs(ours.rotation - theirs.rotation) < 1e-5


def test_image_mode_agrees_with_mediapipe_on_real_photos(mediapipe_python, bundles, photos):
    pipeline = load_pipeline("tflite", tracking=False, smoothing=False)
    rows = parity.compare_images(pipeline, photos, bundles[0], bundles[1],
                                 python=mediapipe_python)
    assert [row.found_mediapipe for row in rows] == [True, True, True, True, False]
    for row in rows:
        assert row.agrees, row
        if row.found_ours:
            assert row.roi_center_px < 3.0 and row.roi_rotation_deg < 1.0, row
    summary = parity.summary(rows)
    assert summary["median_px_median"] < 0.9
    # Sampling at pixel centres (the textbook choice) is measurably further from MediaPipe.
    centred = load_pipeline("tflite", tracking=False, smoothing=False,
                            config=PipelineConfig(sampling="pixel_centers"))
    centred_rows = parity.compare_images(centred, photos[:2], bundles[0],
                                         python=mediapipe_python)
    assert min(row.median_px for row in centred_rows) > 2 * max(
        row.median_px for row in rows[:2])


def test_video_mode_tracks_and_smooths_like_mediapipe(mediapipe_python, bundles):
    frames = parity.read_frames(samples.fetch_sample("sports2d_demo"), range(100, 120))
    stamps = [round(i * 1000 / 30) for i in range(len(frames))]
    rows = parity.compare_video(load_pipeline("tflite"), "sports2d", frames, stamps,
                                bundles[0], python=mediapipe_python)
    summary = parity.summary(rows)
    assert summary["decisions_differ"] == 0 and summary["found_by_both"] == len(frames)
    assert summary["agree"] == len(frames)
    assert summary["median_px_median"] < 1.0
    # The legacy graph's tracking (filtered auxiliary landmarks) is not the Tasks graph's.
    legacy = load_pipeline("tflite", config=PipelineConfig(video_graph="legacy"))
    legacy_summary = parity.summary(parity.compare_video(
        legacy, "sports2d", frames, stamps, bundles[0], python=mediapipe_python))
    assert legacy_summary["median_px_median"] > 1.5 * summary["median_px_median"]


def test_refused_bundle_and_bad_requests_are_clear_errors(mediapipe_python, tmp_path):
    image = np.zeros((64, 64, 3), np.uint8)
    not_a_bundle = tmp_path / "notes.task"
    not_a_bundle.write_text("not a zip")
    with pytest.raises(client.MediaPipeError, match="notes.task"):
        client.run_pose_landmarker(not_a_bundle, [image], python=mediapipe_python)
    with pytest.raises(ValueError, match="frame 0 must be uint8"):
        client.run_pose_landmarker(not_a_bundle, [image.astype(np.float32)],
                                   python=mediapipe_python)
    with pytest.raises(ValueError, match="increase"):
        client.run_pose_landmarker(not_a_bundle, [image, image], video=True,
                                   timestamps_ms=[5, 5], python=mediapipe_python)


def test_probe_roi_of_inverts_the_projection():
    roi = geometry.Roi(321.5, 200.25, 417.0, -0.6)
    points = geometry.project_points(np.array(probe.PROBE_POINTS) / probe.CROP_SIZE, roi)
    recovered = probe.roi_of(points)
    assert recovered.center_x == pytest.approx(roi.center_x)
    assert recovered.center_y == pytest.approx(roi.center_y)
    assert recovered.size == pytest.approx(roi.size)
    assert recovered.rotation == pytest.approx(roi.rotation)
