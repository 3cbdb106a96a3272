"""Crops framed as MediaPipe frames a person, their fallbacks, and records the pipeline drops."""

import dataclasses
import json
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import datasets_tfds.custom_pose.custom_pose_dataset_builder  # noqa: F401  (registers it)
from blazepose import topology
from blazepose.data import custom_format, ops, pipeline
from blazepose.data.config import NO_AUGMENTATION, CropConfig, PipelineConfig

MEDIAPIPE = CropConfig(framing="mediapipe")
HIPS, SHOULDERS = (23, 24), (11, 12)


def _person(angle_degrees=0.0, centre=(300.0, 400.0), torso=100.0, reach=230.0):
    """BlazePose-33 keypoints of a straight figure: hips about ``centre``, shoulders ``torso``
    pixels towards the head, ankles ``reach`` pixels towards the feet; the body's "up" is turned
    ``angle_degrees`` clockwise on screen. Every other point sits between hips and shoulders."""
    angle = math.radians(angle_degrees)
    up = np.array([math.sin(angle), -math.cos(angle)])
    across = np.array([math.cos(angle), math.sin(angle)])
    hip = np.asarray(centre)
    keypoints = np.tile(hip + 0.5 * torso * up, (33, 1))
    keypoints[list(HIPS)] = [hip - 20 * across, hip + 20 * across]
    keypoints[list(SHOULDERS)] = [hip + torso * up - 30 * across, hip + torso * up + 30 * across]
    keypoints[[27, 28]] = [hip - reach * up, hip - reach * up]
    return keypoints.astype(np.float32)


def _features(keypoints, labelled=None, box=(250.0, 150.0, 350.0, 650.0)):
    labelled = np.ones(len(keypoints), bool) if labelled is None else labelled
    return {"keypoints": tf.constant(keypoints), "labelled": tf.constant(labelled),
            "person_box": tf.constant(box, tf.float32)}


def _expected_side(torso, extent, scale=1.25):
    radius = 0.5 * (extent / ops.MEDIAPIPE_EXTENT_PER_RADIUS
                    + torso / ops.MEDIAPIPE_TORSO_PER_RADIUS)
    return 2 * radius * scale


@pytest.mark.parametrize("angle", [0.0, 35.0, 90.0, -120.0])
def test_mediapipe_framing_centres_on_the_hips_turned_upright(angle):
    keypoints = _person(angle)
    frame = ops.person_frame(_features(keypoints), MEDIAPIPE)
    assert bool(frame["framed"]) and bool(frame["has_torso"])
    np.testing.assert_allclose(frame["centre"], keypoints[list(HIPS)].mean(0), atol=1e-3)
    assert math.degrees(float(frame["angle"])) == pytest.approx(angle, abs=1e-3)
    # Extent: the ankles, 230 px from the mid-hip; torso: 100 px.
    assert float(frame["side"]) == pytest.approx(_expected_side(100.0, 230.0), rel=1e-5)


def test_the_framed_crop_shows_the_body_upright_around_its_centre():
    keypoints = _person(60.0)
    features = ops.sample_crop(_features(keypoints), MEDIAPIPE, None)
    inverse = np.linalg.inv(features["crop_matrix"].numpy())
    in_crop = keypoints @ inverse[:2, :2].T + inverse[:2, 2]
    hip, shoulder = in_crop[list(HIPS)].mean(0), in_crop[list(SHOULDERS)].mean(0)
    np.testing.assert_allclose(hip, [128.0, 128.0], atol=1e-2)
    assert shoulder[0] == pytest.approx(128.0, abs=1e-2) and shoulder[1] < hip[1]


def test_one_hip_and_one_shoulder_are_enough():
    keypoints = _person()
    labelled = np.ones(33, bool)
    labelled[[24, 12]] = False
    frame = ops.person_frame(_features(keypoints, labelled), MEDIAPIPE)
    assert bool(frame["framed"])
    np.testing.assert_allclose(frame["centre"], keypoints[23], atol=1e-3)


@pytest.mark.parametrize("missing", [HIPS, SHOULDERS])
def test_without_hips_or_shoulders_the_box_frames_the_crop(missing):
    labelled = np.ones(33, bool)
    labelled[list(missing)] = False
    box = (100.0, 200.0, 160.0, 400.0)
    frame = ops.person_frame(_features(_person(30.0), labelled, box), MEDIAPIPE)
    assert not bool(frame["framed"]) and not bool(frame["has_torso"])
    np.testing.assert_allclose(frame["centre"], [130.0, 300.0])
    assert float(frame["side"]) == pytest.approx(200.0 * 1.25)
    assert float(frame["angle"]) == 0.0


def test_a_data_set_topology_frames_as_its_blazepose_mapping():
    """COCO-17 keypoints framed in their own layout give the crop of the same points in
    BlazePose's layout (the extent uses the limb joints both have)."""
    keypoints33 = _person(-20.0)
    coco = topology.COCO_17
    keypoints17 = keypoints33[[b for b in coco.to_blazepose]]
    ours = ops.person_frame(_features(keypoints17), MEDIAPIPE, coco)
    labelled33 = np.zeros(33, bool)
    labelled33[[b for b in coco.to_blazepose]] = True
    theirs = ops.person_frame(_features(keypoints33, labelled33), MEDIAPIPE)
    for key in ("centre", "side", "angle"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-4)


def test_extent_ignores_points_outside_the_limb_joints():
    """A far-away face point (not a limb joint) does not change the size: data sets with and
    without faces are framed alike."""
    keypoints = _person()
    reference = float(ops.person_frame(_features(keypoints), MEDIAPIPE)["side"])
    keypoints[0] = keypoints[0] + [0.0, -500.0]  # nose far above the head
    assert float(ops.person_frame(_features(keypoints), MEDIAPIPE)["side"]) == pytest.approx(
        reference)


def test_box_framing_is_unchanged_by_the_mediapipe_option():
    box = (100.0, 200.0, 160.0, 400.0)
    frame = ops.person_frame(_features(_person(45.0), box=box), CropConfig())
    np.testing.assert_allclose(frame["centre"], [130.0, 300.0])
    assert float(frame["angle"]) == 0.0 and float(frame["side"]) == pytest.approx(250.0)
    upright = ops.person_frame(_features(_person(45.0), box=box), CropConfig(upright=True))
    assert math.degrees(float(upright["angle"])) == pytest.approx(45.0, abs=1e-3)


def test_unknown_framing_is_refused_by_name():
    with pytest.raises(ValueError, match="framing"):
        CropConfig(framing="detector")


# ---------------------------------------------------------------------------------------------
# Records the pipeline cannot use


def _problem(features, crop=MEDIAPIPE):
    return ops.RECORD_PROBLEMS[int(ops.record_problem(features, crop))]


def test_record_problems_are_named():
    keypoints = _person()
    assert _problem(_features(keypoints)) == "usable"
    broken = keypoints.copy()
    broken[5] = np.nan
    assert _problem(_features(broken)) == "non-finite keypoints or box"
    # A non-finite point that is not labelled is harmless.
    unlabelled = np.ones(33, bool)
    unlabelled[5] = False
    assert _problem(_features(broken, unlabelled)) == "usable"
    assert _problem(_features(keypoints, np.zeros(33, bool))) == "no labelled keypoint"
    no_torso = np.ones(33, bool)
    no_torso[list(HIPS)] = False
    assert _problem(_features(keypoints, no_torso)) == "usable"  # the box frames it
    assert _problem(_features(keypoints, no_torso),
                    dataclasses.replace(MEDIAPIPE, require_torso=True)).startswith("no torso")
    # The box framing with a box far from every labelled point.
    far_box = (5000.0, 5000.0, 5010.0, 5010.0)
    assert _problem(_features(keypoints, box=far_box), CropConfig()) == (
        "no labelled keypoint inside the crop")


def _damaged_folder(tmp_path):
    folder = custom_format.write_random_people(
        tmp_path / "raw", {"train": 6}, image_size=(120, 160), num_keypoints=17, seed=4,
        unlabelled_fraction=0.0)
    path = folder / "train.json"
    records = json.loads(path.read_text())
    # Record 1: only the face is labelled (no torso). Record 2: a box far from its points.
    records[1]["points"] = [p if i < 5 else [-1, -1] for i, p in enumerate(records[1]["points"])]
    records[2]["bbox"] = [[150.0, 110.0], [151.0, 111.0]]
    records[2]["points"] = [[float(5 + i), 5.0] for i in range(17)]
    path.write_text(json.dumps(records))
    return folder, records


def test_damaged_records_are_counted_named_and_skipped_never_a_nan(tmp_path):
    folder, records = _damaged_folder(tmp_path)
    data_dir = tmp_path / "tfds"
    tfds.builder("custom_pose/coco_17", data_dir=str(data_dir)).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(folder)))
    source = pipeline.DataSource("custom_pose/coco_17", "train", data_dir=str(data_dir))
    config = PipelineConfig(topology="coco_17", augment=NO_AUGMENTATION,
                            crop=CropConfig(framing="box", require_torso=True))
    check = pipeline.check_records(source, config)
    assert check.total == 6 and check.skipped == 2
    assert set(check.problems) == {ops.RECORD_PROBLEMS[3], ops.RECORD_PROBLEMS[4]}
    named = " ".join(sum(check.examples.values(), []))
    assert records[1]["image"] in named and records[2]["image"] in named
    assert records[1]["image"] in check.summary()

    evaluation = pipeline.build_dataset([source], config, batch_size=8, training=False)
    batches = list(evaluation)
    assert sum(int(b["image"].shape[0]) for b in batches) == 4
    training = pipeline.build_dataset([source], config, batch_size=4, training=True)
    for batch in training.take(3):
        assert np.isfinite(batch["landmarks"].numpy()).all()
        assert batch["labelled"].numpy().any(axis=1).all()
