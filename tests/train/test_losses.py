"""Training losses: values, masking, normalisation, gradients, phases, tf.function and
tf.distribute, on targets made by the data pipeline's ``make_targets``."""

import dataclasses
import math

import numpy as np
import pytest
import tensorflow as tf

from blazepose.data import ops
from blazepose.data.config import TargetConfig
from blazepose.train import losses

CROP = 256
NUM_KEYPOINTS = 4
NUM_EXTRA = 2
NUM_OUTPUTS = NUM_KEYPOINTS + NUM_EXTRA
HEATMAP_SIZE = 16  # the losses do not depend on the network's 64; small maps keep tests fast
TARGETS = TargetConfig(heatmap_size=HEATMAP_SIZE, heatmap_sigma=1.5, offsets=True,
                       offset_radius=2.0)

# Example 0: keypoint 2 unlabelled, keypoint 3 labelled but outside the crop (supervised as "no
# peak", no offsets). Example 1: keypoint 1 unlabelled. Example 2: nothing labelled.
LABELLED = np.array([[True, True, False, True],
                     [True, False, True, True],
                     [False, False, False, False]])
KIND_COMBINATIONS = list(zip(losses.HEATMAP_LOSS_KINDS, losses.REGRESSION_LOSS_KINDS))


def _targets(labelled=LABELLED, seed=0) -> dict:
    """A batch of targets as the pipeline makes them."""
    rng = np.random.default_rng(seed)
    batch = len(labelled)
    keypoints = rng.uniform(20.0, CROP - 20.0, (batch, NUM_KEYPOINTS, 2)).astype(np.float32)
    keypoints[0, 3] = (-30.0, 100.0)
    visibility = ((rng.uniform(size=labelled.shape) > 0.3) & labelled).astype(np.float32)
    features = {"keypoints": tf.constant(keypoints), "labelled": tf.constant(labelled),
                "visibility": tf.constant(visibility)}
    return ops.select(ops.make_targets(features, TARGETS, CROP))


def _random_outputs(targets: dict, seed=1) -> dict:
    """Model-shaped outputs (L = K + extra) with moderate errors everywhere."""
    rng = np.random.default_rng(seed)
    batch = targets["labelled"].shape[0]
    landmarks = rng.normal(0.0, 2.0, (batch, NUM_OUTPUTS, 5))
    landmarks[:, :NUM_KEYPOINTS, :2] = (targets["landmarks"].numpy()
                                        + rng.normal(0.0, 15.0, (batch, NUM_KEYPOINTS, 2)))
    heatmap = rng.normal(-2.0, 2.0, (batch, HEATMAP_SIZE, HEATMAP_SIZE, NUM_OUTPUTS))
    offsets = rng.normal(0.0, 1.0, (batch, HEATMAP_SIZE, HEATMAP_SIZE, 2 * NUM_OUTPUTS))
    return {name: tf.constant(value, tf.float32) for name, value in
            (("landmarks", landmarks), ("heatmap", heatmap), ("offsets", offsets))}


def _perfect_outputs(targets: dict, seed=2) -> dict:
    """Outputs equal to the targets for the K keypoints (random for the extra landmarks).

    Heatmap logits are logit(target) (clipped to stay finite); visibility logits are +-10 on the
    side of the target (cross-entropy cannot reach 0).
    """
    outputs = _random_outputs(targets, seed)
    heatmap = np.clip(targets["heatmap"].numpy(), 1e-6, 1.0 - 1e-6)
    logits = outputs["heatmap"].numpy()
    logits[..., :NUM_KEYPOINTS] = np.log(heatmap / (1.0 - heatmap))
    offsets = outputs["offsets"].numpy()
    offsets[..., :2 * NUM_KEYPOINTS] = targets["offsets"].numpy()
    landmarks = outputs["landmarks"].numpy()
    landmarks[:, :NUM_KEYPOINTS, :2] = targets["landmarks"].numpy()
    landmarks[:, :NUM_KEYPOINTS, 3] = 20.0 * targets["visibility"].numpy() - 10.0
    return {"heatmap": tf.constant(logits), "offsets": tf.constant(offsets),
            "landmarks": tf.constant(landmarks)}


def _numpy(result: dict) -> dict:
    return {name: value.numpy() for name, value in result.items()}


# ---------------------------------------------------------------------------------------------
# Configuration


def test_config_defaults_are_valid_and_frozen():
    config = losses.LossConfig()
    assert config.heatmap in losses.HEATMAP_LOSS_KINDS
    assert config.regression in losses.REGRESSION_LOSS_KINDS
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.heatmap = "mse"


@pytest.mark.parametrize("field, value", [
    ("heatmap", "l2"), ("regression", "mse"), ("heatmap_weight", -1.0),
    ("offset_weight", float("nan")), ("regression_weight", "1"), ("visibility_weight", -0.1),
    ("focal_gamma", -2.0), ("huber_delta", 0.0), ("wing_width", -0.04), ("wing_epsilon", 0.0),
    ("wing_width", float("inf")), ("heatmap_weight", True)])
def test_config_rejects_bad_field_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        losses.LossConfig(**{field: value})


# ---------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize("heatmap_kind, regression_kind", KIND_COMBINATIONS)
def test_perfect_prediction_has_zero_loss(heatmap_kind, regression_kind):
    targets = _targets()
    config = losses.LossConfig(heatmap=heatmap_kind, regression=regression_kind)
    result = _numpy(losses.compute_losses(targets, _perfect_outputs(targets), config, CROP))
    np.testing.assert_allclose(result["offsets"], 0.0, atol=1e-6)
    np.testing.assert_allclose(result["regression"], 0.0, atol=1e-6)
    np.testing.assert_allclose(result["visibility"], [math.log1p(math.exp(-10.0))] * 2 + [0.0],
                               rtol=1e-3)
    if heatmap_kind != "bce":  # BCE's minimum is the target's entropy: the next test
        np.testing.assert_allclose(result["heatmap"], 0.0, atol=1e-6)


def test_bce_of_perfect_heatmap_is_the_target_entropy():
    targets = _targets()
    logits = _perfect_outputs(targets)["heatmap"]
    weight = targets["heatmap_weight"]
    result = losses.heatmap_loss(targets["heatmap"], logits, weight, "bce").numpy()
    y = targets["heatmap"].numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nan_to_num(y * np.log(y)) - np.nan_to_num((1.0 - y) * np.log(1.0 - y))
    entropy = entropy.mean(axis=(1, 2))  # [B, K]
    weight = weight.numpy()
    expected = (entropy * weight).sum(-1) / np.maximum(weight.sum(-1), 1.0)
    # Up to the clipping of logit(target) to [logit(1e-6), logit(1 - 1e-6)].
    np.testing.assert_allclose(result, expected, rtol=0.0, atol=2e-5)
    assert np.all(result[:2] > 1e-3)


@pytest.mark.parametrize("heatmap_kind, regression_kind", KIND_COMBINATIONS)
def test_perturbing_a_perfect_prediction_increases_every_loss(heatmap_kind, regression_kind):
    targets = _targets()
    config = losses.LossConfig(heatmap=heatmap_kind, regression=regression_kind)
    perfect = _perfect_outputs(targets)
    rng = np.random.default_rng(3)
    perturbed = {name: value + rng.normal(0.0, 0.5, value.shape).astype(np.float32)
                 for name, value in perfect.items()}
    best = _numpy(losses.compute_losses(targets, perfect, config, CROP))
    worse = _numpy(losses.compute_losses(targets, perturbed, config, CROP))
    # Not visibility: its cross-entropy with 0/1 targets has no finite minimum.
    for head in ("heatmap", "offsets", "regression"):
        assert np.all(worse[head][:2] > best[head][:2]), head
        assert worse[head][2] == best[head][2] == 0.0, f"{head}: nothing labelled"


@pytest.mark.parametrize("heatmap_kind, regression_kind", KIND_COMBINATIONS)
def test_unlabelled_keypoints_and_extra_landmarks_do_not_change_the_loss(heatmap_kind,
                                                                          regression_kind):
    targets = _targets()
    config = losses.LossConfig(heatmap=heatmap_kind, regression=regression_kind)
    outputs = _random_outputs(targets)
    # Unsupervised: unlabelled keypoints and the extra landmarks (index >= K).
    ignored = np.concatenate([~LABELLED, np.ones((len(LABELLED), NUM_EXTRA), bool)], axis=1)
    wild = {
        "landmarks": np.where(ignored[:, :, None], 1e6, outputs["landmarks"].numpy()),
        "heatmap": np.where(ignored[:, None, None, :], 1e4, outputs["heatmap"].numpy()),
        "offsets": np.where(np.repeat(ignored, 2, axis=1)[:, None, None, :], -1e5,
                            outputs["offsets"].numpy()),
    }
    before = _numpy(losses.compute_losses(targets, outputs, config, CROP))
    after = _numpy(losses.compute_losses(targets, wild, config, CROP))
    for head in before:
        np.testing.assert_allclose(after[head], before[head], rtol=1e-6, err_msg=head)
        assert np.all(np.isfinite(after[head])), head



def test_compute_losses_ignores_offset_mask_of_unlabelled_keypoints():
    targets = _targets()
    outputs = _random_outputs(targets)
    config = losses.LossConfig()
    loose = dict(targets, offset_mask=tf.ones_like(targets["offset_mask"]))  # mask everywhere
    wild = outputs["offsets"].numpy()
    wild[..., 4:6] = 1e5  # keypoint 2, unlabelled in example 0
    strict = losses.compute_losses(loose, outputs, config, CROP, phase="heatmap")["offsets"]
    changed = losses.compute_losses(loose, dict(outputs, offsets=tf.constant(wild)), config, CROP,
                                    phase="heatmap")["offsets"]
    np.testing.assert_allclose(changed[0], strict[0], rtol=1e-6)

def test_labelled_keypoint_outside_the_crop_is_supervised_as_no_peak():
    targets = _targets()
    outputs = _random_outputs(targets)
    logits = outputs["heatmap"].numpy()
    logits[0, :, :, 3] = 5.0  # a confident peak everywhere for the out-of-crop keypoint
    worse = losses.heatmap_loss(targets["heatmap"], logits, targets["heatmap_weight"], "bce")
    better = losses.heatmap_loss(targets["heatmap"], outputs["heatmap"],
                                 targets["heatmap_weight"], "bce")
    assert worse[0] > better[0]
    np.testing.assert_allclose(worse[1:], better[1:])


def test_per_example_losses_have_shape_b_and_are_independent_of_the_batch():
    targets = _targets()
    outputs = _random_outputs(targets)
    config = losses.LossConfig()
    batched = _numpy(losses.compute_losses(targets, outputs, config, CROP))
    assert set(batched) == set(losses.HEADS) | {losses.TOTAL}
    for head, value in batched.items():
        assert value.shape == (len(LABELLED),) and value.dtype == np.float32, head
        assert value[2] == 0.0, f"{head}: an example with no labelled keypoints contributes 0"
    for index in range(len(LABELLED)):
        single = _numpy(losses.compute_losses(
            {key: value[index:index + 1] for key, value in targets.items()},
            {key: value[index:index + 1] for key, value in outputs.items()}, config, CROP))
        for head in batched:
            np.testing.assert_allclose(single[head][0], batched[head][index], rtol=1e-5)


def test_losses_are_means_over_labelled_keypoints_not_sums():
    # Example 0: one labelled keypoint; example 1: two, with the same error and visibility.
    labelled = tf.constant([[True, False], [True, True]])
    target_xy = tf.zeros([2, 2, 2])
    predicted = tf.concat([tf.fill([2, 2, 2], 12.0), tf.fill([2, 2, 3], -1.0)], axis=-1)
    visibility = tf.ones([2, 2])
    for kind in losses.REGRESSION_LOSS_KINDS:
        value = losses.regression_loss(target_xy, predicted, labelled, kind, CROP).numpy()
        np.testing.assert_allclose(value[0], value[1], rtol=1e-6)
    value = losses.visibility_loss(visibility, labelled, predicted[..., 3]).numpy()
    np.testing.assert_allclose(value, math.log1p(math.e), rtol=1e-6)
    heatmap = tf.zeros([2, 4, 4, 2])
    value = losses.heatmap_loss(heatmap, tf.ones([2, 4, 4, 2]), tf.cast(labelled, tf.float32))
    np.testing.assert_allclose(value[0], value[1], rtol=1e-6)


def _regression_of_error(error_in_crop_units, kind, **parameters):
    """Loss and its gradient w.r.t. the crop-unit error, for one keypoint wrong in x only."""
    error = tf.constant(float(error_in_crop_units))
    with tf.GradientTape() as tape:
        tape.watch(error)
        predicted = tf.reshape(tf.stack([error * CROP, 0.0, 0.0, 0.0, 0.0]), [1, 1, 5])
        loss = losses.regression_loss(tf.zeros([1, 1, 2]), predicted, tf.constant([[True]]),
                                      kind, CROP, **parameters)[0]
    return float(loss), float(tape.gradient(loss, error))


@pytest.mark.parametrize("width, epsilon", [(losses.DEFAULT_WING_WIDTH,
                                              losses.DEFAULT_WING_EPSILON), (10.0, 2.0)])
def test_wing_loss_matches_the_formula_of_feng_et_al(width, epsilon):
    constant = width - width * math.log(1.0 + width / epsilon)
    parameters = {"wing_width": width, "wing_epsilon": epsilon}
    for error in (0.0, 0.25 * width, -0.5 * width, 0.999 * width, width, 3.0 * width):
        expected = (width * math.log(1.0 + abs(error) / epsilon) if abs(error) < width
                    else abs(error) - constant)
        value, _ = _regression_of_error(error, "wing", **parameters)
        assert value == pytest.approx(expected, rel=1e-5, abs=1e-7), error
    # Continuous at |x| = w; slope w / (epsilon + |x|) inside, 1 (as L1) outside.
    inside, _ = _regression_of_error(width * (1 - 1e-4), "wing", **parameters)
    edge, _ = _regression_of_error(width, "wing", **parameters)
    assert inside == pytest.approx(edge, rel=1e-3)
    _, slope = _regression_of_error(0.5 * width, "wing", **parameters)
    assert slope == pytest.approx(width / (epsilon + 0.5 * width), rel=1e-4)
    _, slope = _regression_of_error(-3.0 * width, "wing", **parameters)
    assert slope == pytest.approx(-1.0, rel=1e-5)


def test_huber_is_l1_for_large_errors_and_quadratic_for_small_ones():
    delta = 0.05
    for error in (0.2, -0.6, 2.0):
        huber, huber_slope = _regression_of_error(error, "huber", huber_delta=delta)
        l1, l1_slope = _regression_of_error(error, "l1")
        assert l1 == pytest.approx(abs(error))
        assert huber == pytest.approx(l1 - 0.5 * delta, rel=1e-5)
        assert huber_slope == pytest.approx(l1_slope) == pytest.approx(math.copysign(1, error))
    for error in (0.01, -0.025):
        huber, huber_slope = _regression_of_error(error, "huber", huber_delta=delta)
        assert huber == pytest.approx(0.5 * error ** 2 / delta, rel=1e-4)
        assert huber < abs(error) and abs(huber_slope) < 1.0
    # Wing pulls harder than L1 on small errors.
    _, wing_slope = _regression_of_error(0.01, "wing")
    assert wing_slope > 1.5


def test_focal_loss_down_weights_easy_negatives_relative_to_bce():
    cells = 8 * 8
    background = tf.zeros([1, 8, 8, 1])
    weight = tf.ones([1, 1])

    def focal_over_bce(logit):
        logits = tf.fill([1, 8, 8, 1], logit)
        focal = losses.heatmap_loss(background, logits, weight, "focal")  # sum over cells
        bce = losses.heatmap_loss(background, logits, weight, "bce")  # mean over cells
        return float(focal[0] / (bce[0] * cells))

    easy, hard = focal_over_bce(-4.0), focal_over_bce(4.0)
    assert easy == pytest.approx(tf.sigmoid(-4.0).numpy() ** 2, rel=1e-4)  # p^gamma
    assert hard > 0.9 and easy < 0.01 * hard
    # gamma = 0 is BCE, summed over cells.
    logits = tf.random.stateless_normal([1, 8, 8, 1], seed=[0, 1])
    target = tf.random.stateless_uniform([1, 8, 8, 1], seed=[0, 2])
    focal = losses.heatmap_loss(target, logits, weight, "focal", focal_gamma=0.0)
    bce = losses.heatmap_loss(target, logits, weight, "bce")
    np.testing.assert_allclose(focal, bce * cells, rtol=1e-5)


def test_too_few_model_landmarks_and_unknown_kinds_are_errors():
    targets = _targets()
    outputs = _random_outputs(targets)
    with pytest.raises(ValueError, match="fewer"):
        losses.regression_loss(targets["landmarks"], outputs["landmarks"][:, :2],
                               targets["labelled"])
    with pytest.raises(ValueError, match="fewer"):
        losses.heatmap_loss(targets["heatmap"], outputs["heatmap"][..., :3],
                            targets["heatmap_weight"])
    with pytest.raises(ValueError, match="kind"):
        losses.heatmap_loss(targets["heatmap"], outputs["heatmap"], targets["heatmap_weight"],
                            "l2")
    with pytest.raises(ValueError, match="kind"):
        losses.regression_loss(targets["landmarks"], outputs["landmarks"], targets["labelled"],
                               "mse")


# ---------------------------------------------------------------------------------------------
# Gradients


@pytest.mark.parametrize("heatmap_kind, regression_kind", KIND_COMBINATIONS)
def test_gradients_are_finite_and_reach_exactly_the_supervised_outputs(heatmap_kind,
                                                                       regression_kind):
    targets = _targets()
    outputs = _random_outputs(targets)
    config = losses.LossConfig(heatmap=heatmap_kind, regression=regression_kind)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(outputs)
        result = losses.compute_losses(targets, outputs, config, CROP)
    supervised = np.concatenate([LABELLED, np.zeros((len(LABELLED), NUM_EXTRA), bool)], axis=1)

    def gradient(head, output):
        value = tape.gradient(result[head], outputs[output])  # of the sum over the batch
        value = np.zeros(outputs[output].shape) if value is None else value.numpy()
        assert np.all(np.isfinite(value)), (head, output)
        return value

    heatmap = np.abs(gradient("heatmap", "heatmap")).max(axis=(1, 2)) > 0  # [B, L]
    np.testing.assert_array_equal(heatmap, supervised)
    landmarks = np.abs(gradient("regression", "landmarks")) > 0  # [B, L, 5]
    np.testing.assert_array_equal(landmarks[..., 0], supervised)
    np.testing.assert_array_equal(landmarks[..., 1], supervised)
    assert not landmarks[..., 2:].any(), "z, visibility and presence are not regressed"
    visibility = np.abs(gradient("visibility", "landmarks")) > 0
    np.testing.assert_array_equal(visibility[..., 3], supervised)
    assert not visibility[..., [0, 1, 2, 4]].any()
    # Offsets: only in the masked cells of labelled, in-crop keypoints (not example 0's 3rd).
    offsets = np.abs(gradient("offsets", "offsets")) > 0  # [B, H, W, 2L]
    mask = np.repeat(targets["offset_mask"].numpy() > 0, 2, axis=-1)
    np.testing.assert_array_equal(offsets[..., :2 * NUM_KEYPOINTS], mask)
    assert not offsets[..., 2 * NUM_KEYPOINTS:].any()
    assert mask[0, ..., 6:].sum() == 0 and mask[:2].any()
    total = gradient(losses.TOTAL, "landmarks")
    assert np.abs(total).sum() > 0


# ---------------------------------------------------------------------------------------------
# Phases


def test_phase_selects_heads_and_total_is_the_weighted_sum():
    targets = _targets()
    outputs = _random_outputs(targets)
    config = losses.LossConfig(heatmap_weight=2.0, offset_weight=0.5, regression_weight=3.0,
                               visibility_weight=0.25)
    expected_heads = {"heatmap": {"heatmap", "offsets"}, "regression": {"regression",
                                                                        "visibility"},
                      "joint": set(losses.HEADS)}
    joint = _numpy(losses.compute_losses(targets, outputs, config, CROP, phase="joint"))
    for phase, heads in expected_heads.items():
        result = _numpy(losses.compute_losses(targets, outputs, config, CROP, phase=phase))
        assert set(result) == heads | {losses.TOTAL}, phase
        total = sum(config.head_weight(head) * result[head] for head in heads)
        np.testing.assert_allclose(result[losses.TOTAL], total, rtol=1e-6)
        for head in heads:
            np.testing.assert_allclose(result[head], joint[head], rtol=1e-6)


def test_heads_without_targets_or_outputs_are_skipped():
    targets = _targets()
    outputs = _random_outputs(targets)
    config = losses.LossConfig()
    without_offset_head = {key: value for key, value in outputs.items() if key != "offsets"}
    without_offset_targets = {key: value for key, value in targets.items()
                              if key not in ("offsets", "offset_mask")}
    for batch, model_outputs in ((targets, without_offset_head),
                                 (without_offset_targets, outputs)):
        result = losses.compute_losses(batch, model_outputs, config, CROP, phase="heatmap")
        assert set(result) == {"heatmap", losses.TOTAL}
        np.testing.assert_allclose(result[losses.TOTAL], result["heatmap"])
    with pytest.raises(ValueError, match="none"):
        losses.compute_losses(targets, {"heatmap": outputs["heatmap"]}, config, CROP,
                              phase="regression")
    with pytest.raises(ValueError, match="phase"):
        losses.compute_losses(targets, outputs, config, CROP, phase="all")


# ---------------------------------------------------------------------------------------------
# Graph mode, mixed precision, tf.distribute


def _half(outputs: dict) -> dict:
    return {key: tf.cast(value, tf.float16) for key, value in outputs.items()}


@pytest.mark.parametrize("heatmap_kind, regression_kind", KIND_COMBINATIONS)
def test_inside_tf_function_with_float16_outputs(heatmap_kind, regression_kind):
    targets = _targets()
    outputs = _half(_random_outputs(targets))
    config = losses.LossConfig(heatmap=heatmap_kind, regression=regression_kind)
    traced = tf.function(lambda batch, out: losses.compute_losses(batch, out, config, CROP))
    graph = traced(targets, outputs)
    eager = losses.compute_losses(
        targets, {key: tf.cast(value, tf.float32) for key, value in outputs.items()}, config, CROP)
    for head, value in graph.items():
        assert value.dtype == tf.float32 and value.shape == (len(LABELLED),), head
        np.testing.assert_allclose(value.numpy(), eager[head].numpy(), rtol=1e-5, atol=1e-7,
                                   err_msg=head)


def test_mirrored_strategy_on_two_cpus_averages_to_the_global_mean():
    devices = tf.config.list_logical_devices("CPU")[:2]
    assert len(devices) == 2, "tests/conftest.py splits the CPU into 2 logical devices"
    strategy = tf.distribute.MirroredStrategy([device.name for device in devices])
    assert strategy.num_replicas_in_sync == 2
    labelled = np.concatenate([LABELLED, [[True, True, True, False]]])  # global batch 4
    targets = _targets(labelled)
    outputs = _half(_random_outputs(targets))
    config = losses.LossConfig(heatmap="focal", regression="huber")
    global_batch = len(labelled)
    dataset = tf.data.Dataset.from_tensor_slices((targets, outputs)).batch(global_batch)
    batch_targets, batch_outputs = next(iter(strategy.experimental_distribute_dataset(dataset)))
    scale = tf.Variable(1.0)  # stands for the model's weights

    @tf.function
    def step(batch, out):
        def replica_step(replica_batch, replica_out):
            with tf.GradientTape() as tape:
                scaled = {key: value * tf.cast(scale, value.dtype)
                          for key, value in replica_out.items()}
                per_example = losses.compute_losses(replica_batch, scaled, config, CROP)
                loss = tf.nn.compute_average_loss(per_example[losses.TOTAL],
                                                  global_batch_size=global_batch)
            return loss, tape.gradient(loss, scale)

        loss, gradient = strategy.run(replica_step, args=(batch, out))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, gradient, axis=None))

    loss, gradient = step(batch_targets, batch_outputs)
    expected = losses.compute_losses(targets, outputs, config, CROP)[losses.TOTAL]
    np.testing.assert_allclose(loss.numpy(), tf.reduce_mean(expected).numpy(), rtol=1e-5)
    assert np.isfinite(gradient.numpy()) and gradient.numpy() != 0.0



def _flag(values):
    return {"pose_flag": tf.constant(values, tf.float32)}


def test_preserve_loss_is_zero_at_the_reference_and_grows_with_the_drift():
    reference = _flag([[0.98], [0.6], [0.1]])
    np.testing.assert_allclose(losses.preserve_loss(reference, reference).numpy(), 0.0,
                               atol=1e-6)
    # Example 0's flag falls to 0.51 (what 400 LSP steps did to a head-and-shoulders photo);
    # example 1's rises a little; example 2 is unchanged.
    drifted = losses.preserve_loss(_flag([[0.51], [0.7], [0.1]]), reference).numpy()
    expected = [0.98 * math.log(0.98 / 0.51) + 0.02 * math.log(0.02 / 0.49),
                0.6 * math.log(0.6 / 0.7) + 0.4 * math.log(0.4 / 0.3), 0.0]
    np.testing.assert_allclose(drifted, expected, rtol=1e-4, atol=1e-6)
    # Only the network in training gets a gradient, towards the reference.
    flag = tf.Variable([[0.5], [0.6], [0.1]])
    target = tf.Variable([[0.98], [0.6], [0.1]])
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(losses.preserve_loss({"pose_flag": flag}, {"pose_flag": target}))
    gradient_flag, gradient_target = tape.gradient(value, [flag, target])
    assert gradient_flag.numpy()[0, 0] < 0 and gradient_target is None


def test_preserve_enters_the_total_only_with_a_reference_and_a_weight():
    targets = _targets()
    outputs = dict(_perfect_outputs(targets), **_flag([[0.5], [0.5], [0.5]]))
    reference = _flag([[0.9], [0.9], [0.9]])
    plain = losses.LossConfig()
    weighted = dataclasses.replace(plain, preserve_weight=2.0)
    without = losses.compute_losses(targets, outputs, weighted, CROP)
    unweighted = losses.compute_losses(targets, outputs, plain, CROP, reference=reference)
    assert losses.PRESERVE not in without and losses.PRESERVE not in unweighted
    result = losses.compute_losses(targets, outputs, weighted, CROP, reference=reference)
    np.testing.assert_allclose(result["total"].numpy() - without["total"].numpy(),
                               2.0 * result[losses.PRESERVE].numpy(), rtol=1e-5)
    assert np.all(result[losses.PRESERVE].numpy() > 0.1)
    with pytest.raises(ValueError, match="preserve_weight"):
        losses.LossConfig(preserve_weight=-1.0)
