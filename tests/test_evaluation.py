"""Detector-crop evaluation: association, misses, units of the gt crops, records, predictor.

Records are small JPEGs of drawn stick figures with known keypoints. Google's detector finds no
person in them, so most tests pass a stub detector (placing crops where the test wants them)
and a stub predictor (answering with the truth, or the truth plus a known offset).
"""

import dataclasses
import math

import cv2
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import blazepose
import datasets_tfds.custom_pose.custom_pose_dataset_builder  # noqa: F401  (registers it)
from blazepose import evaluation, metrics
from blazepose import topology as topology_lib
from blazepose.data import custom_format, ops, pipeline
from blazepose.data.config import CropConfig, PipelineConfig
from blazepose.inference import geometry
from blazepose.inference import pipeline as inference_pipeline

COCO = topology_lib.COCO_17
CROP = CropConfig(size=256, scale=1.25, upright=False)

# A standing person facing the camera (their left on the image's right), COCO-17 order, as
# offsets from (centre x, top y) in units of the person's height.
_FIGURE = np.array([
    (0.0, 0.06), (0.02, 0.04), (-0.02, 0.04), (0.05, 0.05), (-0.05, 0.05),     # head
    (0.12, 0.2), (-0.12, 0.2), (0.2, 0.36), (-0.2, 0.36), (0.22, 0.5), (-0.22, 0.5),  # arms
    (0.08, 0.52), (-0.08, 0.52), (0.09, 0.75), (-0.09, 0.75), (0.1, 0.97), (-0.1, 0.97),  # legs
])


def _figure(centre_x, top, height):
    return np.array([centre_x, top]) + _FIGURE * height


def _encode(image):
    ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return data.tobytes()


def _draw(width, height, people):
    """uint8 RGB image of stick figures (``[17, 2]`` keypoints each) on a grey background."""
    image = np.full((height, width, 3), 90, np.uint8)
    for points in people:
        for a, b in COCO.edges:
            cv2.line(image, tuple(np.round(points[a] - 0.5).astype(int)),
                     tuple(np.round(points[b] - 0.5).astype(int)), (230, 200, 170), 3)
    return image


def _tfds_record(encoded, keypoints, image_id, labelled=None):
    labelled = np.ones(len(keypoints), bool) if labelled is None else labelled
    low, high = keypoints.min(axis=0), keypoints.max(axis=0)
    return {"image": tf.constant(encoded), "image_id": tf.constant(image_id),
            "keypoints": tf.constant(keypoints, tf.float32),
            "visibility": tf.ones(len(keypoints), tf.float32),
            "labelled": tf.constant(labelled),
            "person_box": tf.constant([low[0], low[1], high[0], high[1]], tf.float32),
            "topology": tf.constant(COCO.name)}


def _records(tfds_records, crop=CROP, target=COCO):
    transform = evaluation.record_transform(COCO, target, crop)
    return [tf.nest.map_structure(lambda t: t.numpy(), transform(r)) for r in tfds_records]


@pytest.fixture(scope="module")
def two_people():
    """One 320x240 image with two people; one record each (sharing the encoded image)."""
    people = [_figure(90.0, 40.0, 170.0), _figure(230.0, 60.0, 150.0)]
    encoded = _encode(_draw(320, 240, people))
    return people, _records([_tfds_record(encoded, points, f"img#{i}")
                             for i, points in enumerate(people)])


class StubDetector:
    """Detections at given ROIs, recording the images it was run on."""

    def __init__(self, rois_by_size):
        self.rois_by_size, self.calls = rois_by_size, []

    def __call__(self, image):
        self.calls.append(image.shape)
        return [evaluation.DetectedPerson(roi, 0.9 - 0.1 * i)
                for i, roi in enumerate(self.rois_by_size.get(image.shape[:2], []))]


class TruthPredictor:
    """Answers with the keypoints of the person whose hips the crop centre is nearest to (plus
    ``offset`` image pixels), with visibility 0.9; records the ROIs it ran on."""

    def __init__(self, people, offset=(0.0, 0.0)):
        self.people, self.offset, self.rois = people, np.asarray(offset), []

    def __call__(self, image, roi):
        self.rois.append(roi)
        hips = np.array([p[11:13].mean(axis=0) for p in self.people])
        person = self.people[int(np.argmin(np.linalg.norm(
            hips - [roi.center_x, roi.center_y], axis=1)))]
        landmarks = np.zeros((len(person), 5), np.float32)
        landmarks[:, :2] = person + self.offset
        landmarks[:, 3:] = 0.9
        return landmarks, 1.0


def _hip_roi(points, size=200.0, dx=0.0):
    hips = points[11:13].mean(axis=0)
    return geometry.Roi(float(hips[0] + dx), float(hips[1]), size, 0.0)


def test_truth_moves_into_the_gt_pipelines_crop_pixels():
    """The truth in the evaluation's crop frame is where the gt evaluation pipeline puts it.

    The figure leans by 20 degrees, so the upright crop is rotated (the gt pipeline then keeps
    sample_crop's matrix exactly); an axis-aligned crop is rounded to whole source pixels by
    the gt pipeline's decoder (under half a source pixel), hence its tolerance.
    """
    angle = math.radians(20.0)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = (_figure(0.0, -90.0, 180.0) @ rotation.T) + [150.0, 120.0]
    encoded = _encode(_draw(300, 240, [points]))
    record = _tfds_record(encoded, points, "one")
    for upright, tolerance in ((True, 1e-3), (False, 1.0)):
        crop = dataclasses.replace(CROP, upright=upright)
        ours = _records([record], crop, target=topology_lib.BLAZEPOSE_33)[0]
        assert ours["keypoints"].shape == (33, 2)
        assert (abs(ours["crop_matrix"][0, 1]) > 0.1) == upright  # rotated only when upright
        config = PipelineConfig(crop=crop, compile_batch_ops=False)
        features = pipeline.record_to_features(record, tf.zeros([2], tf.int64))
        gt = pipeline.example_transform(config, COCO, training=False)(features)
        labelled = gt["labelled"].numpy()
        np.testing.assert_array_equal(ours["labelled"], labelled)
        np.testing.assert_allclose(
            evaluation.image_to_crop_pixels(ours["keypoints"], ours["crop_matrix"])[labelled],
            gt["keypoints"].numpy()[labelled], atol=tolerance)
        # The matrix is sample_crop's, for the keypoints mapped to the evaluated topology.
        mapped = ops.map_topology(pipeline.record_to_features(record, tf.zeros([2], tf.int64)),
                                  COCO, topology_lib.BLAZEPOSE_33)
        expected = ops.sample_crop(mapped, crop, None, topology_lib.BLAZEPOSE_33)
        np.testing.assert_allclose(ours["crop_matrix"], expected["crop_matrix"].numpy(),
                                   rtol=1e-6)


def test_perfect_predictions_give_zero_error_and_offsets_scale_into_crop_pixels(two_people):
    people, records = two_people
    rois = {(240, 320): [_hip_roi(p) for p in people]}
    perfect = evaluation.evaluate_with_detector(records, TruthPredictor(people),
                                                StubDetector(rois), COCO)
    result = perfect.evaluator.result()
    assert perfect.detected == 2 and result["detected"] == 2
    assert result["mean_pixel_error"] == pytest.approx(0.0, abs=1e-9)
    assert result["pck@0.2"] == 1.0

    offset = np.array([3.0, -4.0])  # 5 image pixels
    shifted = evaluation.evaluate_with_detector(records, TruthPredictor(people, offset),
                                                StubDetector(rois), COCO)
    # The gt crop's side is 1.25 x the longer side of the person box, spread over 256 pixels.
    sides = [CROP.scale * max(np.ptp(p[:, 0]), np.ptp(p[:, 1])) for p in people]
    per_person = [5.0 * CROP.size / side for side in sides]
    assert shifted.evaluator.result()["mean_pixel_error"] == pytest.approx(
        np.mean(per_person), rel=1e-5)
    for name, values in shifted.evaluator.result()["per_keypoint"].items():
        assert values["mean_pixel_error"] == pytest.approx(np.mean(per_person), rel=1e-5), name


def test_association_picks_the_labelled_person_among_several(two_people):
    people, records = two_people
    # Best-scoring first: a far-away detection, then person 1's, then person 0's (off by 10 px).
    far = geometry.Roi(5.0, 5.0, 30.0, 0.0)
    rois = {(240, 320): [far, _hip_roi(people[1]), _hip_roi(people[0], dx=10.0)]}
    detector, predictor = StubDetector(rois), TruthPredictor(people)
    run = evaluation.evaluate_with_detector(records, predictor, detector, COCO)
    assert [(roi.center_x, roi.center_y) for roi in predictor.rois] == [
        (rois[(240, 320)][2].center_x, rois[(240, 320)][2].center_y),
        (rois[(240, 320)][1].center_x, rois[(240, 320)][1].center_y)]
    assert run.detected == 2 and run.evaluator.result()["pck@0.2"] == 1.0
    # One detector run for the two records of the image.
    assert len(detector.calls) == 1 and run.images == 1


def test_associate_and_person_centre():
    points = _figure(100.0, 20.0, 160.0)
    labelled = np.ones(17, bool)
    box = np.array([10.0, 20.0, 190.0, 180.0])
    np.testing.assert_allclose(evaluation.person_centre(points, labelled, box, COCO),
                               points[11:13].mean(axis=0))
    labelled[12] = False  # one hip missing: the box centre
    np.testing.assert_allclose(evaluation.person_centre(points, labelled, box, COCO),
                               [100.0, 100.0])
    people = [evaluation.DetectedPerson(geometry.Roi(x, 100.0, 50.0, 0.0), 0.9)
              for x in (40.0, 130.0)]
    assert evaluation.associate(people, np.array([120.0, 90.0]), 30.0) == 1
    assert evaluation.associate(people, np.array([120.0, 90.0]), 10.0) is None
    assert evaluation.associate([], np.array([120.0, 90.0]), 1e9) is None


def test_a_miss_fails_every_labelled_keypoint_of_its_record(two_people):
    people, records = two_people
    # Only person 0 is detected; the detection near person 1's hips is outside its radius.
    box = records[1]["person_box"]
    radius = 0.5 * math.hypot(box[2] - box[0], box[3] - box[1])
    rois = {(240, 320): [_hip_roi(people[0]), _hip_roi(people[1], dx=radius + 5.0)]}
    run = evaluation.evaluate_with_detector(records, TruthPredictor(people), StubDetector(rois),
                                            COCO)
    result = run.evaluator.result()
    assert (run.num_examples, run.detected) == (2, 1)
    assert (result["num_examples"], result["detected"]) == (2, 1)
    # Half of the labelled keypoints (all of the missed record's) fail; none are dropped.
    assert result["pck_num_counted_keypoints"] == 34
    assert result["pck@0.2"] == pytest.approx(0.5)
    assert result["pck@0.2_detected"] == 1.0
    # The error is over the detected record only, so it stays finite (and here 0).
    assert result["mean_pixel_error"] == pytest.approx(0.0, abs=1e-9)
    assert result["visibility_accuracy"] == 1.0 and result["visibility_num_counted_keypoints"] == 17
    assert "detected 1 of 2 examples" in run.evaluator.table()
    # The plain evaluator fed the same NaN predictions agrees on PCK; its error is NaN.
    plain = metrics.PoseEvaluator(COCO)
    truth = np.stack([evaluation.image_to_crop_pixels(r["keypoints"], r["crop_matrix"])
                      for r in records])
    predicted = truth.copy()
    predicted[1] = np.nan
    plain.update(predicted, truth, np.ones((2, 17), bool))
    assert plain.result()["pck@0.2"] == result["pck@0.2"]
    assert math.isnan(plain.result()["mean_pixel_error"])


def test_low_pose_flag_is_a_miss_only_when_asked(two_people):
    people, records = two_people
    rois = {(240, 320): [_hip_roi(p) for p in people]}

    class Unsure(TruthPredictor):
        def __call__(self, image, roi):
            return super().__call__(image, roi)[0], 0.3

    kept = evaluation.evaluate_with_detector(records, Unsure(people), StubDetector(rois), COCO)
    dropped = evaluation.evaluate_with_detector(records, Unsure(people), StubDetector(rois),
                                                COCO, min_pose_flag=0.5)
    assert (kept.detected, dropped.detected) == (2, 0)
    assert dropped.evaluator.result()["pck@0.2"] == 0.0


def test_google_detector_finds_no_drawn_person_and_all_records_fail(two_people):
    from blazepose.pretrained import files

    people, records = two_people
    detector = evaluation.PersonDetector(str(files.fetch_model_file("detector")))
    predictor = TruthPredictor(people)
    run = evaluation.evaluate_with_detector(records, predictor, detector, COCO)
    assert (run.num_examples, run.detected) == (2, 0) and predictor.rois == []
    result = run.evaluator.result()
    assert result["pck@0.2"] == 0.0 and result["pck_num_counted_keypoints"] == 34
    assert math.isnan(result["mean_pixel_error"])


def test_person_detector_finds_a_real_person():
    from blazepose import samples
    from blazepose.pretrained import files

    image = cv2.cvtColor(cv2.imread(str(samples.fetch_sample("astronaut"))), cv2.COLOR_BGR2RGB)
    found = evaluation.PersonDetector(str(files.fetch_model_file("detector")))(image)
    pipeline_roi, score = inference_pipeline.PosePipeline(
        str(files.fetch_model_file("detector")), str(files.fetch_model_file("full")),
        tracking=False).detect(image)
    assert found and found[0].score == pytest.approx(score)
    assert found[0].roi == pipeline_roi


def test_landmark_predictor_runs_a_17_keypoint_model_on_a_rotated_crop():
    model = blazepose.build_model("lite", COCO.num_keypoints)
    image = _draw(300, 240, [_figure(150.0, 30.0, 180.0)])
    roi = geometry.Roi(150.0, 120.0, 190.0, 0.4)
    with pytest.raises(ValueError, match="auxiliary"):  # what the tracking pipeline demands
        inference_pipeline.PosePipeline(
            _detector_stub(), model, tracking=False,
            config=inference_pipeline.PipelineConfig(refine_with_heatmap=False)
        ).estimate(image, roi)
    predictor = evaluation.LandmarkPredictor(model, COCO.num_keypoints, refine_with_heatmap=False)
    landmarks, pose_flag = predictor(image, roi)
    assert landmarks.shape == (17, 5) and 0.0 <= pose_flag <= 1.0
    crop = geometry.crop_image(image, roi, 256).astype(np.float32) / 255
    raw = model(crop[None], training=False)["landmarks"].numpy()[0]
    np.testing.assert_allclose(geometry.unproject_points(landmarks[:, :2], roi),
                               raw[:, :2] / 256, atol=2e-5)
    with pytest.raises(ValueError, match="fewer than the 33"):
        evaluation.LandmarkPredictor(model, 33)(image, roi)



def test_landmark_predictor_runs_a_tflite_file_as_the_keras_network():
    """--crops=detector with --tflite: the predictor runs the file through the one TFLite runner
    (Google's file here: flat landmark outputs named Identity, ...) and gives the landmarks and
    pose flag of the Keras network on the same rotated crop of a photograph."""
    from blazepose import samples
    from blazepose.export.runtimes import TFLiteRunner
    from blazepose.pretrained import files
    from blazepose.pretrained.importer import load_mediapipe_model

    image = cv2.cvtColor(cv2.imread(str(samples.fetch_sample("astronaut"))), cv2.COLOR_BGR2RGB)
    roi = geometry.Roi(250.0, 260.0, 480.0, 0.1)
    num_keypoints = topology_lib.BLAZEPOSE_33.num_keypoints
    lite = evaluation.LandmarkPredictor(TFLiteRunner(files.fetch_model_file("full")),
                                        num_keypoints)
    keras_predictor = evaluation.LandmarkPredictor(load_mediapipe_model("full"), num_keypoints)
    landmarks, pose_flag = lite(image, roi)
    expected, expected_flag = keras_predictor(image, roi)
    assert landmarks.shape == (33, 5) and pose_flag > 0.5  # a person, found
    np.testing.assert_allclose(landmarks[:, :2], expected[:, :2], atol=0.05)
    np.testing.assert_allclose(landmarks[:, 3:], expected[:, 3:], atol=2e-3)
    assert pose_flag == pytest.approx(expected_flag, abs=1e-3)

def _detector_stub():
    class Detector:
        kind, input_size, output_keys, source = "detector", 224, ("boxes", "scores"), "stub"

        def __call__(self, image, keys=None):
            raise AssertionError("not called")

    return Detector()


def test_read_records_from_a_prepared_split(tmp_path):
    folder = tmp_path / "raw"
    custom_format.write_random_people(folder, {"validation": 5}, image_size=(120, 160),
                                      num_keypoints=17, seed=3)
    data_dir = str(tmp_path / "tfds")
    builder = tfds.builder("custom_pose/coco_17", data_dir=data_dir)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(folder)))
    source = pipeline.DataSource("custom_pose/coco_17", "validation", data_dir=data_dir)
    crop = CropConfig(upright=True)
    records = list(evaluation.read_records(source, topology_lib.BLAZEPOSE_33,
                                           crop).as_numpy_iterator())
    originals = list(builder.as_dataset(split="validation", shuffle_files=False))
    assert len(records) == len(originals) == 5
    for record, original in zip(records, originals):
        height, width = original["image"].shape[:2]
        assert record["image"].shape == (height, width, 3) and record["image"].dtype == np.uint8
        assert record["keypoints"].shape == (33, 2)
        assert record["image_id"] == original["image_id"].numpy()
        # COCO's 17 points land on their BlazePose counterparts; the others are unlabelled.
        for index, target in enumerate(COCO.to_blazepose):
            assert record["labelled"][target] == original["labelled"].numpy()[index]
            if original["labelled"].numpy()[index]:
                np.testing.assert_allclose(record["keypoints"][target],
                                           original["keypoints"].numpy()[index])
        assert record["labelled"].sum() == original["labelled"].numpy().sum()


def test_records_the_gt_pipeline_drops_are_skipped_and_counted(two_people):
    people, records = two_people
    encoded = records[0]["encoded"]
    unlabelled = _records([_tfds_record(encoded, people[0], "none",
                                        labelled=np.zeros(17, bool))])[0]
    assert unlabelled["problem"] != 0 and records[0]["problem"] == 0
    rois = {(240, 320): [_hip_roi(p) for p in people]}
    run = evaluation.evaluate_with_detector([records[0], unlabelled, records[1]],
                                            TruthPredictor(people), StubDetector(rois), COCO)
    assert (run.num_examples, run.detected, run.skipped) == (2, 2, 1)
    assert run.evaluator.result()["num_examples"] == 2
