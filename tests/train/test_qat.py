"""Quantisation-aware training: the ``qat`` recipe's parts on a small Lite network (start from a
float run, calibrate, distil, checkpoint, resume, other strategies, refusals)."""

import dataclasses
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import blazepose
from blazepose.model import quantization
from blazepose.train import config as config_lib
from blazepose.train import losses as losses_lib
from blazepose.train import runs
from blazepose.train.task import PoseTask
from blazepose.train.trainer import CheckpointMismatchError, Trainer

ROOT = pathlib.Path(__file__).resolve().parents[2]

DISTILL_ONLY = losses_lib.LossConfig(heatmap_weight=0.0, offset_weight=0.0,
                                     regression_weight=0.0, visibility_weight=0.0,
                                     distill_weight=1.0)


@pytest.fixture(scope="module")
def float_run(small_config, tmp_path_factory):
    """A float Lite run of 2 steps (the network QAT starts from)."""
    run_dir = tmp_path_factory.mktemp("float_run")
    Trainer(small_config(train_steps=2), run_dir, print_fn=lambda *_: None).train()
    return run_dir


def _qat_config(small_config, init_from, **overrides):
    """A quantised Lite run distilled from ``init_from``. The loss-spike guard is off: a barely
    trained Lite network's outputs are near 0, so its distillation losses are too (1e-5), and
    the first steps' jumps from there are large ratios of nothing."""
    base = small_config(train_steps=2)
    return small_config(model=dataclasses.replace(base.model, quantized=True),
                        losses=DISTILL_ONLY, init_from=str(init_from), loss_spike_ratio=0.0,
                        **overrides)


def test_qat_starts_from_a_float_run_calibrates_and_checkpoints(small_config, float_run,
                                                                 tmp_path):
    printed = []
    config = _qat_config(small_config, float_run, train_steps=2)
    trainer = Trainer(config, tmp_path, print_fn=printed.append)
    source = runs.load_source_run(float_run)
    assert not trainer.restore()
    for name in ("stem_conv", "enc16_b0_dw", "reg_landmarks", "seg256_rb1_conv"):
        np.testing.assert_array_equal(trainer.model.get_layer(name).kernel.numpy(),
                                      source.model.get_layer(name).kernel.numpy())
    assert any("calibrated on" in line for line in printed)
    ranges = quantization.range_report(trainer.model)
    assert ranges["seg256_rb1_conv"][1] > ranges["seg256_rb1_conv"][0]  # not trained: calibrated
    trainer.train()
    # The checkpoint is a quantised network that the run reader rebuilds from config.json.
    run = runs.load_run(tmp_path, "latest")
    assert run.config.model.quantized and quantization.is_quantized(run.model)
    assert quantization.range_report(run.model) == quantization.range_report(trainer.model)
    images = next(iter(trainer.task.calibration_images(1)))
    np.testing.assert_allclose(np.asarray(run.model(images)["landmarks"]),
                               np.asarray(trainer.model(images)["landmarks"]), atol=1e-4)


def test_distillation_moves_the_quantised_network_towards_the_float_one(small_config):
    """The task's train step with the distillation loss pulls a quantised network that was
    moved away from its float reference back towards it (only its landmark head trains here,
    at a large rate, so that eight steps show it)."""
    config = _qat_config(small_config, "unused")
    task = PoseTask(config)
    teacher = task.build_model(quantized=False)
    head = teacher.get_layer("reg_landmarks")
    head.bias.assign(np.random.default_rng(1).normal(128, 40, head.bias.shape))
    student = quantization.quantize_model(teacher)
    quantization.calibrate(student, task.calibration_images(2))
    bias = student.get_layer("reg_landmarks").bias
    bias.assign(bias + 6.0)  # every landmark 6 px off, inside the calibrated range
    for layer in student.layers:
        layer.trainable = layer.name == "reg_landmarks"
    reference = task.reference_view(teacher)
    training = task.training_view(student)
    optimizer = keras.optimizers.Adam(0.5)
    batch = next(iter(task.calibration_batches(1)))

    def distance():
        theirs = reference(batch["image"], training=False)["landmarks"]
        ours = student(batch["image"], training=False)["landmarks"]
        return float(tf.reduce_mean(tf.abs(ours[..., :2] - theirs[..., :2])))

    before = distance()
    for _ in range(8):
        losses = task.train_step(batch, training, optimizer, reference)
    assert set(losses) >= {losses_lib.DISTILL, "total"}
    assert distance() < 0.5 * before


def test_qat_runs_under_the_mirrored_strategy(float_run, data_dir, tmp_path):
    """``launch.train --preset=qat --strategy=mirrored`` on two CPU devices. (In a process of
    its own: TF's collectives key their instances per strategy from the same numbers, so a
    second MirroredStrategy with other gradient shapes in one process collides.)"""
    result = subprocess.run(
        [sys.executable, "-m", "launch.train", "--preset=qat", f"--model_dir={tmp_path}",
         "--strategy=mirrored", "--num_cpu_devices=2", "--variant=lite",
         f"--init_from={float_run}", "--dataset=synthetic_pose/tiny", f"--data_dir={data_dir}",
         "--train_steps=2", "--batch_size=4", "--eval_every=1000", "--checkpoint_every=2",
         "--loss_spike_ratio=0"],
        cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True,
        text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "calibrated on" in result.stdout
    run = runs.load_run(tmp_path, "latest")
    assert run.step == 2 and quantization.is_quantized(run.model)
    low, high = quantization.range_report(run.model)["stem_project"]
    assert low < 0 < high
    # Calibration batches, then one update per training step (the replicas' mean).
    seen = run.model.get_layer("stem_project").range_seen.numpy()
    assert seen == int(result.stdout.split("calibrated on ")[1].split()[0]) + 2


def test_qat_from_another_network_is_refused_with_what_differs(small_config, tmp_path):
    other = blazepose.build_model("lite", 17)
    path = tmp_path / "coco17.keras"
    other.save(path)
    config = _qat_config(small_config, path)
    trainer = Trainer(config, tmp_path / "run", print_fn=lambda *_: None)
    with pytest.raises(CheckpointMismatchError, match="reg_landmarks"):
        trainer.restore()
    assert not (tmp_path / "run" / config_lib.RUN_CONFIG_FILE).exists()


def test_a_quantised_run_refuses_float_checkpoints_and_keep_float_needs_quantized(
        small_config, float_run):
    saved = runs.run_config(float_run)
    quantized = dataclasses.replace(saved, model=dataclasses.replace(saved.model,
                                                                     quantized=True))
    with pytest.raises(CheckpointMismatchError, match="model.quantized"):
        runs.check_architecture(float_run, saved, quantized)
    with pytest.raises(ValueError, match="needs model.quantized"):
        config_lib.ModelSection(keep_float=("reg_landmarks",))


def test_the_qat_preset_distils_google_weights():
    config = config_lib.get_preset("qat")
    assert config.model.quantized and config.init_from == "mediapipe_full"
    assert config.losses.distill_weight > 0
    assert config.losses.regression_weight == config.losses.heatmap_weight == 0


def test_distill_loss_is_zero_for_equal_outputs_and_grows_with_the_difference():
    rng = np.random.default_rng(0)
    reference = {"landmarks": rng.normal(128, 40, (2, 39, 5)).astype(np.float32),
                 "world_landmarks": rng.normal(0, 0.3, (2, 39, 3)).astype(np.float32),
                 "pose_flag": np.array([[0.9], [0.2]], np.float32),
                 "heatmap": rng.normal(-5, 2, (2, 64, 64, 39)).astype(np.float32)}
    same = losses_lib.distill_loss(reference, reference).numpy()
    np.testing.assert_allclose(same, 0, atol=1e-4)
    moved = dict(reference, landmarks=reference["landmarks"] + np.array(
        [1.0, 1.0, 1.0, 0, 0], np.float32))
    one_pixel = losses_lib.distill_loss(moved, reference).numpy()
    np.testing.assert_allclose(one_pixel, 1.0, rtol=1e-4)  # 1 px on x, y and z
    # Half the crop's pixels: the same error is 2 pixels of a 256 crop.
    np.testing.assert_allclose(losses_lib.distill_loss(moved, reference, crop_size=128.0),
                               2.0, rtol=1e-4)
    flagged = dict(reference, pose_flag=np.array([[0.5], [0.5]], np.float32))
    assert np.all(losses_lib.distill_loss(flagged, reference).numpy() > 0.1)
    variable = tf.Variable(reference["world_landmarks"] + 0.01)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(losses_lib.distill_loss(dict(reference, world_landmarks=variable),
                                                     reference))
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, variable)))) > 0


def test_evaluation_and_keras_files_of_a_quantised_run(small_config, float_run, tmp_path):
    trainer = Trainer(_qat_config(small_config, float_run), tmp_path, print_fn=lambda *_: None)
    trainer.train()
    run = trainer.run_evaluation(max_batches=1)
    assert run.num_examples > 0 and run.evaluator.result()["pck@0.2"] >= 0
    path = tmp_path / "qat.keras"
    trainer.model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True, compile=False)
    assert quantization.range_report(loaded) == quantization.range_report(trainer.model)
