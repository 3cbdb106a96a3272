"""Tests for blazepose.metrics with hand-made skeletons whose answers are known."""

import importlib.util
import json
import math

import numpy as np
import pytest

from blazepose.metrics import (
    CocoKeypointGroundTruth,
    CocoKeypointPredictions,
    PoseEvaluator,
    coco_oks_ap,
    mean_pixel_error,
    mpii_head_size,
    pck,
    pckh,
    torso_keypoint_indices,
    torso_size,
    visibility_accuracy,
)
from blazepose.topology import BLAZEPOSE_33, COCO_17, LSP_14, MPII_16, PUSHUP_7, Topology

# A person facing the camera (their left on the image's right), COCO names, in pixels. Shoulder
# midpoint (50, 40), hip midpoint (50, 140): torso size 100.
COCO_PERSON = {
    "nose": (50, 10), "left_eye": (55, 5), "right_eye": (45, 5),
    "left_ear": (60, 8), "right_ear": (40, 8),
    "left_shoulder": (70, 40), "right_shoulder": (30, 40),
    "left_elbow": (80, 90), "right_elbow": (20, 90),
    "left_wrist": (85, 135), "right_wrist": (15, 135),
    "left_hip": (64, 140), "right_hip": (36, 140),
    "left_knee": (62, 210), "right_knee": (38, 210),
    "left_ankle": (61, 280), "right_ankle": (39, 280),
}  # fmt: skip
COCO_PERSON_TORSO = 100.0

# Torso points of a smaller person: shoulder midpoint (50, 50), hip midpoint (50, 130).
LEFT_SHOULDER, RIGHT_SHOULDER = (62.0, 50.0), (38.0, 50.0)
LEFT_HIP, RIGHT_HIP = (58.0, 130.0), (42.0, 130.0)

# COCO's published per-keypoint OKS constants (sigmas), in COCO's keypoint order.
COCO_SIGMAS = np.array(
    [.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]
) / 10  # fmt: skip


def skeleton(topology: Topology, positions: dict, num_examples: int = 1):
    """``keypoints [N, K, 2]`` (NaN where not named) and ``labelled [N, K]`` from names."""
    keypoints = np.full((num_examples, topology.num_keypoints, 2), np.nan)
    labelled = np.zeros((num_examples, topology.num_keypoints), dtype=bool)
    for name, xy in positions.items():
        keypoints[:, topology.index(name)] = xy
        labelled[:, topology.index(name)] = True
    return keypoints, labelled


def random_batch(topology: Topology, num_examples: int, seed: int = 0):
    """Random ground truth with all torso points labelled, noisy predictions and visibility."""
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 256, (num_examples, topology.num_keypoints, 2))
    labelled = rng.random((num_examples, topology.num_keypoints)) < 0.7
    labelled[:, list(torso_keypoint_indices(topology))] = True
    pred = gt + rng.normal(0, 15, gt.shape)
    pred_visibility = rng.random(labelled.shape)
    gt_visibility = rng.random(labelled.shape) < 0.6
    head_sizes = rng.uniform(10, 40, num_examples)
    return pred, gt, labelled, pred_visibility, gt_visibility, head_sizes


def assert_same_result(actual, expected):
    """Nested dicts equal: integers exactly, floats to 1e-12 (NaN equal to NaN)."""
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            assert_same_result(actual[key], value)
        elif isinstance(value, int):
            assert actual[key] == value, key
        else:
            np.testing.assert_allclose(actual[key], value, rtol=1e-12, err_msg=key)


# --- torso size -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topology, names",
    [
        (BLAZEPOSE_33, ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP")),
        (COCO_17, ("left_shoulder", "right_shoulder", "left_hip", "right_hip")),
        (LSP_14, ("left_shoulder", "right_shoulder", "left_hip", "right_hip")),
        (MPII_16, ("l_shoulder", "r_shoulder", "l_hip", "r_hip")),
    ],
    ids=["blazepose_33", "coco_17", "lsp_14", "mpii_16"],
)
def test_torso_size_of_hand_made_skeletons(topology, names):
    left_shoulder, right_shoulder, left_hip, right_hip = names
    assert torso_keypoint_indices(topology) == tuple(topology.index(name) for name in names)
    cases = [
        # All four: shoulder midpoint (50, 50) to hip midpoint (50, 130).
        ({left_shoulder: LEFT_SHOULDER, right_shoulder: RIGHT_SHOULDER,
          left_hip: LEFT_HIP, right_hip: RIGHT_HIP}, 80.0),
        # Left side unlabelled: right shoulder (38, 50) to right hip (42, 130).
        ({right_shoulder: RIGHT_SHOULDER, right_hip: RIGHT_HIP}, math.hypot(4, 80)),
        # Diagonal: left shoulder (62, 50) to right hip (42, 130).
        ({left_shoulder: LEFT_SHOULDER, right_hip: RIGHT_HIP}, math.hypot(20, 80)),
        # Both shoulders, left hip only: (50, 50) to (58, 130).
        ({left_shoulder: LEFT_SHOULDER, right_shoulder: RIGHT_SHOULDER, left_hip: LEFT_HIP},
         math.hypot(8, 80)),
    ]  # fmt: skip
    rng = np.random.default_rng(1)
    for positions, expected in cases:
        keypoints, labelled = skeleton(topology, positions)
        # Unlabelled slots hold garbage (here: NaN or huge values); they must not be read.
        keypoints[0, ~labelled[0]] = rng.choice([np.nan, 1e9], size=(np.sum(~labelled[0]), 2))
        np.testing.assert_allclose(torso_size(keypoints, labelled, topology), [expected])


def test_torso_size_is_nan_without_a_shoulder_or_a_hip():
    no_hips, labelled_no_hips = skeleton(
        BLAZEPOSE_33, {"LEFT_SHOULDER": LEFT_SHOULDER, "RIGHT_SHOULDER": RIGHT_SHOULDER}
    )
    no_shoulders, labelled_no_shoulders = skeleton(
        BLAZEPOSE_33, {"LEFT_HIP": LEFT_HIP, "NOSE": (50, 10)}
    )
    sizes = torso_size(
        np.concatenate([no_hips, no_shoulders]),
        np.concatenate([labelled_no_hips, labelled_no_shoulders]),
        BLAZEPOSE_33,
    )
    assert np.isnan(sizes).all()


def test_torso_size_finds_parts_by_name_in_any_topology():
    topology = Topology(
        name="custom",
        keypoint_names=("hipRight", "head", "leftShoulder", "rightShoulder", "hipLeft"),
        edges=(),
        to_blazepose=(None,) * 5,
    )
    keypoints, labelled = skeleton(
        topology,
        {"leftShoulder": LEFT_SHOULDER, "rightShoulder": RIGHT_SHOULDER,
         "hipLeft": LEFT_HIP, "hipRight": RIGHT_HIP, "head": (50, 0)},
    )  # fmt: skip
    assert torso_keypoint_indices(topology) == (2, 3, 4, 0)
    np.testing.assert_allclose(torso_size(keypoints, labelled, topology), [80.0])


def test_torso_size_needs_shoulders_and_hips_in_the_topology():
    with pytest.raises(ValueError, match="hip"):
        torso_size(np.zeros((1, 7, 2)), np.ones((1, 7), bool), PUSHUP_7)


# --- PCK, PCKh, mean error --------------------------------------------------------------------


def test_perfect_prediction_scores_one_and_zero_error():
    pred, gt, labelled, _, _, head_sizes = random_batch(BLAZEPOSE_33, 6)
    torso = torso_size(gt, labelled, BLAZEPOSE_33)
    result = pck(gt.copy(), gt, labelled, torso, 0.2)
    assert result.overall == 1.0
    assert result.num_counted == labelled.sum()
    np.testing.assert_array_equal(result.num_counted_per_keypoint, labelled.sum(axis=0))
    assert pckh(gt, gt, labelled, head_sizes).overall == 1.0
    errors = mean_pixel_error(gt, gt, labelled)
    assert errors.overall == 0.0
    assert errors.num_counted == labelled.sum()

    evaluator = PoseEvaluator(BLAZEPOSE_33)
    evaluator.update(gt, gt, labelled, head_sizes=head_sizes)
    summary = evaluator.result()
    assert summary["pck@0.2"] == 1.0
    assert summary["pckh@0.5"] == 1.0
    assert summary["mean_pixel_error"] == 0.0


@pytest.mark.parametrize("epsilon, passes", [(-1e-6, True), (1e-6, False)])
def test_pck_threshold_is_a_fifth_of_the_torso(epsilon, passes):
    gt, labelled = skeleton(COCO_17, COCO_PERSON)
    assert torso_size(gt, labelled, COCO_17)[0] == pytest.approx(COCO_PERSON_TORSO)
    pred = gt.copy()
    wrist = COCO_17.index("left_wrist")
    distance = 0.2 * COCO_PERSON_TORSO + epsilon  # 20 px, off along a 3-4-5 direction
    pred[0, wrist] += (0.6 * distance, 0.8 * distance)

    evaluator = PoseEvaluator(COCO_17)
    evaluator.update(pred, gt, labelled)
    summary = evaluator.result()
    assert summary["per_keypoint"]["left_wrist"]["pck@0.2"] == (1.0 if passes else 0.0)
    assert summary["pck@0.2"] == pytest.approx(1.0 if passes else 16 / 17)
    assert summary["per_keypoint"]["left_wrist"]["mean_pixel_error"] == pytest.approx(distance)
    assert summary["mean_pixel_error"] == pytest.approx(distance / 17)


def test_pckh_uses_mpii_head_size():
    head_sizes = mpii_head_size([[10, 20, 40, 60]])  # diagonal 50 -> head size 30
    np.testing.assert_allclose(head_sizes, [30.0])
    gt, labelled = skeleton(MPII_16, {"l_wrist": (100, 100), "r_wrist": (50, 100)})
    pred = gt.copy()
    pred[0, MPII_16.index("l_wrist")] += (14.9, 0)  # within 0.5 * 30 = 15
    pred[0, MPII_16.index("r_wrist")] += (0, 15.1)  # beyond
    result = pckh(pred, gt, labelled, head_sizes)
    assert result.overall == 0.5
    assert result.per_keypoint[MPII_16.index("l_wrist")] == 1.0
    assert result.per_keypoint[MPII_16.index("r_wrist")] == 0.0


def test_unlabelled_points_never_count_even_when_wildly_wrong():
    gt, labelled = skeleton(COCO_17, COCO_PERSON)
    for name in ("left_knee", "right_ankle", "nose"):
        labelled[0, COCO_17.index(name)] = False
    unlabelled = ~labelled[0]
    pred = gt.copy()
    pred[0, unlabelled] = [[1e9, -1e9], [np.nan, np.nan], [np.inf, 0]]
    gt[0, unlabelled] = np.nan
    pred_visibility = np.where(labelled, 1.0, np.nan)
    gt_visibility = np.where(labelled, 1.0, -1.0)  # e.g. a "not labelled" marker

    evaluator = PoseEvaluator(COCO_17)
    evaluator.update(pred, gt, labelled, pred_visibility, gt_visibility, head_sizes=[30.0])
    summary = evaluator.result()
    assert summary["num_labelled_keypoints"] == 14
    assert summary["pck_num_counted_keypoints"] == 14
    assert summary["pck@0.2"] == 1.0
    assert summary["pckh@0.5"] == 1.0
    assert summary["mean_pixel_error"] == 0.0
    assert summary["visibility_accuracy"] == 1.0
    assert summary["visibility_num_counted_keypoints"] == 14
    for name in ("left_knee", "right_ankle", "nose"):
        assert summary["per_keypoint"][name]["num_labelled"] == 0


def test_keypoint_never_labelled_is_nan_per_keypoint_and_null_in_json():
    gt, labelled = skeleton(COCO_17, COCO_PERSON, num_examples=3)
    nose = COCO_17.index("nose")
    labelled[:, nose] = False
    pred = gt + 1.0
    result = pck(pred, gt, labelled, torso_size(gt, labelled, COCO_17), 0.2)
    assert np.isnan(result.per_keypoint[nose])
    assert result.num_counted_per_keypoint[nose] == 0
    assert not np.isnan(np.delete(result.per_keypoint, nose)).any()
    assert result.overall == 1.0
    errors = mean_pixel_error(pred, gt, labelled)
    assert np.isnan(errors.per_keypoint[nose])
    assert errors.overall == pytest.approx(math.sqrt(2))

    evaluator = PoseEvaluator(COCO_17)
    evaluator.update(pred, gt, labelled)
    assert math.isnan(evaluator.result()["per_keypoint"]["nose"]["pck@0.2"])
    document = json.loads(evaluator.to_json())
    assert document["per_keypoint"]["nose"]["pck@0.2"] is None
    assert document["per_keypoint"]["nose"]["num_labelled"] == 0
    assert document["pck@0.2"] == 1.0
    assert document["topology"] == "coco_17"
    assert "nose" in evaluator.table()


def test_examples_without_normaliser_are_excluded_and_counted():
    gt, labelled = skeleton(COCO_17, COCO_PERSON, num_examples=3)
    labelled[1, [COCO_17.index("left_hip"), COCO_17.index("right_hip")]] = False
    pred = gt.copy()
    pred[1] += 500.0  # the example without a torso size is far off; it must not count
    result = pck(pred, gt, labelled, torso_size(gt, labelled, COCO_17), 0.2)
    assert result.overall == 1.0
    assert result.num_examples_without_normaliser == 1
    assert result.num_counted == 2 * 17
    zero_or_negative = pckh(pred, gt, labelled, [30.0, 30.0, 0.0]).num_examples_without_normaliser
    assert zero_or_negative == 1


def test_topology_without_torso_reports_nan_pck():
    evaluator = PoseEvaluator(PUSHUP_7)
    keypoints = np.zeros((2, 7, 2))
    evaluator.update(keypoints, keypoints, np.ones((2, 7), bool))
    summary = evaluator.result()
    assert math.isnan(summary["pck@0.2"])
    assert summary["pck_num_examples_without_torso"] == 2
    assert summary["mean_pixel_error"] == 0.0


# --- visibility -------------------------------------------------------------------------------


def test_visibility_accuracy_thresholds_at_one_half_on_labelled_points():
    pred_visibility = [[0.9, 0.2, 0.5, 0.49, 0.9], [0.1, 0.7, 0.0, 1.0, 0.3]]
    gt_visibility = [[1, 0, 0, 1, 0], [0, 1, 0, 0, 1]]
    labelled = [[True, True, True, True, False], [True, True, False, True, True]]
    # Row 0: right, right, wrong (0.5 counts as visible), wrong, (unlabelled).
    # Row 1: right, right, (unlabelled), wrong, wrong.
    result = visibility_accuracy(pred_visibility, gt_visibility, labelled)
    np.testing.assert_array_equal(result.num_correct_per_keypoint, [2, 2, 0, 0, 0])
    np.testing.assert_array_equal(result.num_counted_per_keypoint, [2, 2, 1, 2, 1])
    assert result.overall == 4 / 8


def test_visibility_rejects_coco_flags_and_logits_on_labelled_points():
    labelled = [[True, False]]
    with pytest.raises(ValueError, match="gt_visibility"):
        visibility_accuracy([[0.5, 0.5]], [[2, 0]], labelled)
    with pytest.raises(ValueError, match="pred_visibility"):
        visibility_accuracy([[-3.0, 0.5]], [[1, 0]], labelled)
    # The same values on unlabelled points are ignored.
    assert visibility_accuracy([[0.9, -3.0]], [[1, 2]], labelled).overall == 1.0


# --- streaming evaluator ----------------------------------------------------------------------


def test_update_in_two_parts_equals_one_update():
    pred, gt, labelled, pred_visibility, gt_visibility, head_sizes = random_batch(COCO_17, 10)
    labelled[3, torso_keypoint_indices(COCO_17)[2:]] = False  # one example without a torso size
    head_sizes[7] = np.nan  # one without a head size
    labelled[:, COCO_17.index("left_ear")] = False
    whole = PoseEvaluator(COCO_17)
    whole.update(pred, gt, labelled, pred_visibility, gt_visibility, head_sizes)
    parts = PoseEvaluator(COCO_17)
    for part in (slice(0, 4), slice(4, 10)):
        parts.update(
            pred[part], gt[part], labelled[part], pred_visibility[part], gt_visibility[part],
            head_sizes[part],
        )  # fmt: skip
    expected = whole.result()
    assert expected["num_examples"] == 10
    assert expected["pck_num_examples_without_torso"] == 1
    assert expected["pckh_num_examples_without_head_size"] == 1
    assert 0 < expected["pck@0.2"] < 1
    assert_same_result(parts.result(), expected)
    assert parts.table() == whole.table()

    # The evaluator agrees with the batch functions.
    torso = torso_size(gt, labelled, COCO_17)
    assert expected["pck@0.2"] == pck(pred, gt, labelled, torso, 0.2).overall
    assert expected["pckh@0.5"] == pckh(pred, gt, labelled, head_sizes, 0.5).overall
    visibility = visibility_accuracy(pred_visibility, gt_visibility, labelled)
    assert expected["visibility_accuracy"] == visibility.overall

    parts.reset()
    assert parts.result()["num_examples"] == 0
    assert math.isnan(parts.result()["pck@0.2"])


def test_optional_inputs_must_be_given_in_every_update_or_none():
    pred, gt, labelled, pred_visibility, gt_visibility, head_sizes = random_batch(COCO_17, 4)
    evaluator = PoseEvaluator(COCO_17, pck_threshold=0.1)
    evaluator.update(pred, gt, labelled, head_sizes=head_sizes)
    before = evaluator.result()
    assert "pck@0.1" in before and "pckh@0.5" in before and "visibility_accuracy" not in before
    with pytest.raises(ValueError, match="head_sizes"):
        evaluator.update(pred, gt, labelled)
    with pytest.raises(ValueError, match="visibility"):
        evaluator.update(pred, gt, labelled, pred_visibility, gt_visibility, head_sizes)
    with pytest.raises(ValueError, match="together"):
        evaluator.update(pred, gt, labelled, pred_visibility=pred_visibility, head_sizes=head_sizes)
    with pytest.raises(ValueError, match="keypoints"):
        evaluator.update(pred[:, :5], gt[:, :5], labelled[:, :5], head_sizes=head_sizes)
    assert_same_result(evaluator.result(), before)  # failed updates changed nothing


# --- COCO OKS AP ------------------------------------------------------------------------------


def coco_people(num_people: int, shift: float = 0.0):
    """Ground truth of ``num_people`` copies of COCO_PERSON side by side in images 1, 2, ..."""
    keypoints, labelled = skeleton(COCO_17, COCO_PERSON, num_examples=num_people)
    keypoints += np.arange(num_people)[:, None, None] * [200.0, 0.0]
    image_ids = np.arange(1, num_people + 1)
    truth = CocoKeypointGroundTruth(image_ids, keypoints, labelled, areas=np.full(num_people, 1e4))
    predictions = CocoKeypointPredictions(
        image_ids, keypoints + [shift, 0.0], np.linspace(0.9, 0.5, num_people)
    )
    return truth, predictions


needs_pycocotools = pytest.mark.skipif(
    importlib.util.find_spec("pycocotools") is None, reason="pycocotools is not installed"
)


@needs_pycocotools
def test_coco_oks_ap_is_one_for_perfect_predictions():
    truth, predictions = coco_people(3)
    stats = coco_oks_ap(predictions, truth)
    assert stats["AP"] == pytest.approx(1.0)
    assert stats["AP50"] == stats["AP75"] == pytest.approx(1.0)
    assert stats["AR"] == 1.0
    assert math.isnan(stats["AP_medium"])  # area 1e4 > 96², so no medium people


@needs_pycocotools
def test_coco_oks_ap_of_shifted_predictions_follows_oks():
    shift = 9.0  # OKS about 0.69: matched at thresholds 0.50 to 0.65, missed from 0.70
    truth, predictions = coco_people(2, shift=shift)
    # OKS by COCO's definition: mean over labelled keypoints of exp(-d² / (2 area (2 sigma)²)).
    oks = np.mean(np.exp(-(shift**2) / (2 * 1e4 * (2 * COCO_SIGMAS) ** 2)))
    thresholds = np.linspace(0.5, 0.95, 10)
    assert np.min(np.abs(thresholds - oks)) > 0.01  # safely between two thresholds
    stats = coco_oks_ap(predictions, truth)
    assert stats["AP"] == pytest.approx(np.mean(thresholds <= oks))
    assert stats["AP"] < 1.0
    assert stats["AP50"] == 1.0
    assert stats["AP75"] == 0.0


@needs_pycocotools
def test_coco_oks_ap_missing_one_person_of_two_halves_recall():
    truth, _ = coco_people(2)
    keypoints = np.asarray(truth.keypoints)
    truth = CocoKeypointGroundTruth([1, 1], keypoints, truth.labelled, areas=[1e4, 1e4])
    predictions = CocoKeypointPredictions([1], keypoints[:1], [0.9])
    stats = coco_oks_ap(predictions, truth)
    assert stats["AR"] == 0.5
    # Precision 1 up to recall 0.5: 51 of COCO's 101 recall points.
    assert stats["AP"] == pytest.approx(51 / 101)


@needs_pycocotools
def test_coco_oks_ap_counts_detections_on_images_without_people():
    truth, predictions = coco_people(2)
    keypoints = np.concatenate([np.asarray(predictions.keypoints), np.asarray(truth.keypoints[:1])])
    with_false_positive = CocoKeypointPredictions([1, 2, 99], keypoints, [0.5, 0.4, 0.95])
    stats = coco_oks_ap(with_false_positive, truth)
    assert stats["AR"] == 1.0
    assert stats["AP"] < 1.0


@needs_pycocotools
def test_coco_oks_ap_without_predictions_is_zero():
    truth, _ = coco_people(2)
    nothing = CocoKeypointPredictions(np.zeros(0, int), np.zeros((0, 17, 2)), np.zeros(0))
    stats = coco_oks_ap(nothing, truth)
    assert stats["AP"] == 0.0 and stats["AR"] == 0.0


@needs_pycocotools
def test_coco_oks_ap_needs_sigmas_for_other_keypoint_counts():
    keypoints, labelled = skeleton(MPII_16, {"l_wrist": (10, 10), "r_wrist": (30, 10)})
    truth = CocoKeypointGroundTruth([1], keypoints, labelled, areas=[1e4])
    predictions = CocoKeypointPredictions([1], np.nan_to_num(keypoints), [1.0])
    with pytest.raises(ValueError, match="sigmas"):
        coco_oks_ap(predictions, truth)
    assert coco_oks_ap(predictions, truth, sigmas=np.full(16, 0.05))["AP"] == pytest.approx(1.0)
