"""The fine-tuning recipe: schedules that scale with the run, the trunk's own rate, weight
averaging, the collapse warning, and runs that remember their config."""

import dataclasses
import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import blazepose
from blazepose.train import config as config_lib
from blazepose.train.optimization import TRUNK_PREFIXES, make_optimizer, make_schedule
from blazepose.train.trainer import Trainer

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("train_steps", [20, 400, 30000])
def test_finetune_schedule_keeps_its_shape_whatever_the_steps(train_steps):
    config = dataclasses.replace(config_lib.get_preset("finetune"), train_steps=train_steps)
    section = config.optimizer
    warmup = section.warmup_for(train_steps)
    assert warmup == max(1, round(0.1 * train_steps))
    schedule = make_schedule(config)
    peak = section.learning_rate
    assert float(schedule(warmup // 2)) < peak
    assert float(schedule(warmup)) == pytest.approx(peak, rel=1e-3)
    assert float(schedule(train_steps - 1)) < 0.01 * peak
    assert section.trunk_frozen_for(train_steps) == round(0.25 * train_steps)


def _hand_written_schedule(step, peak, total, warmup, kind, boundaries=(), factor=0.1):
    """The schedule the Keras ones replaced (before issue 17), for the record: its warm-up
    reached ``peak * (step + 1) / warmup`` at ``step``, one step ahead of Keras' convention."""
    if step < warmup:
        return peak * min(1.0, (step + 1) / max(warmup, 1))
    if kind == "cosine":
        progress = min(max((step - warmup) / max(total - warmup, 1), 0.0), 1.0)
        return peak * 0.5 * (1.0 + np.cos(np.pi * progress))
    if kind == "step":
        return peak * factor ** sum(step >= b for b in boundaries)
    return peak


@pytest.mark.parametrize("kind, warmup, boundaries", [
    ("cosine", 10, ()), ("cosine", 0, ()), ("constant", 5, ()), ("constant", 0, ()),
    ("step", 4, (20, 30)), ("step", 0, (1, 25)), ("step", 3, ())])
def test_keras_schedules_keep_the_shape_after_the_warm_up(kind, warmup, boundaries):
    """From the end of the warm-up on, the Keras schedules equal the hand-written one; during
    the warm-up they follow Keras' convention, ``peak * step / warmup`` (0 at step 0), one
    step behind the old ``peak * (step + 1) / warmup``."""
    total, peak = 40, 2e-3
    config = config_lib.TrainConfig(train_steps=total, optimizer=config_lib.OptimizerSection(
        learning_rate=peak, schedule=kind, warmup_steps=warmup, step_boundaries=boundaries,
        step_factor=0.5))
    schedule = make_schedule(config)
    assert isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule)
    for step in range(total + 5):
        rate = float(schedule(tf.constant(step, tf.int64)))
        old = _hand_written_schedule(step, peak, total, warmup, kind, boundaries, 0.5)
        if step < warmup:
            assert rate == pytest.approx(peak * step / warmup, rel=1e-5, abs=1e-12), step
            assert old - rate == pytest.approx(peak / warmup, rel=1e-4), step
        else:
            assert rate == pytest.approx(old, rel=1e-5, abs=1e-10), step


def _grads_of_ones(model):
    return [tf.ones_like(v) for v in model.trainable_variables]


def test_trunk_is_frozen_then_learns_at_its_factor():
    model = blazepose.build_model("lite")
    config = config_lib.TrainConfig(
        train_steps=8, optimizer=config_lib.OptimizerSection(
            name="sgd", momentum=0.0, learning_rate=0.01, schedule="constant", warmup_steps=0,
            clip_norm=0.0, trunk_learning_rate_factor=0.25, trunk_frozen_fraction=0.5))
    optimizer = make_optimizer(config, model)
    trunk = [v for layer in model.layers if layer.name.startswith(TRUNK_PREFIXES)
             for v in layer.trainable_weights]
    head = model.get_layer("heatmap").kernel
    assert trunk

    def step_change():
        before = [v.numpy().copy() for v in (trunk[0], head)]
        optimizer.apply_gradients(zip(_grads_of_ones(model), model.trainable_variables))
        return [float(np.abs(v.numpy() - b).max()) for v, b in zip((trunk[0], head), before)]

    for _ in range(4):  # frozen for half of the 8 steps
        trunk_change, head_change = step_change()
        assert trunk_change == 0.0 and head_change == pytest.approx(0.01, rel=1e-4)
    trunk_change, head_change = step_change()
    assert trunk_change == pytest.approx(0.25 * head_change, rel=1e-4)


def test_validation_uses_the_weight_average_and_training_keeps_its_weights(small_config, tmp_path):
    config = small_config(eval_every=2, summary_every=2, optimizer=dataclasses.replace(
        small_config().optimizer, ema_momentum=0.9))
    trainer = Trainer(config, tmp_path, print_fn=lambda *_: None)
    trainer.train()
    variables = trainer.model.trainable_variables
    raw = [v.numpy().copy() for v in variables]
    averages = [a.numpy() for a in trainer.optimizer._model_variables_moving_average]
    assert any(np.abs(r - a).max() > 0 for r, a in zip(raw, averages))
    with trainer.averaged_weights():
        for variable, average in zip(variables, averages):
            np.testing.assert_array_equal(variable.numpy(), average)
    for variable, value in zip(variables, raw):
        np.testing.assert_array_equal(variable.numpy(), value)
    # The best checkpoint holds averaged weights: restored, they are the average at that step.
    assert (tmp_path / "best.json").exists()


def test_a_run_saves_its_resolved_config_and_reads_it_back(small_config, tmp_path):
    config = small_config(train_steps=2, eval_every=100, summary_every=2)
    Trainer(config, tmp_path, print_fn=lambda *_: None).train()
    assert config_lib.load_run_config(tmp_path) == config
    (tmp_path / "config.json").write_text(json.dumps({"no_such_field": 1}))
    with pytest.raises(ValueError, match="no_such_field"):
        config_lib.load_run_config(tmp_path)


@pytest.mark.parametrize("name", sorted(config_lib.PRESETS))
def test_every_preset_round_trips_through_json(name):
    preset = config_lib.get_preset(name)
    assert config_lib.from_json(config_lib.to_json(preset)) == preset


def test_topology_and_preserve_flags_override_the_preset():
    code = ("from absl import flags; from launch import train; "
            "flags.FLAGS(['train', '--topology=coco_17', '--preset=finetune', "
            "'--preserve_weight=0.5']); "
            "c = train.config_from_flags(); "
            "print(c.model.num_keypoints, c.data.pipeline.topology, c.data.pipeline.crop.framing,"
            " c.losses.preserve_weight, c.losses.visibility_weight)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["17", "coco_17", "mediapipe", "0.5", "0.1"]


# ---------------------------------------------------------------------------------------------
# A recipe that wrecks the pretrained network is caught.


def _pretrained_run(data_dir, tmp_path, optimizer, **overrides):
    config = dataclasses.replace(
        config_lib.get_preset("finetune"), init_from="mediapipe_full", train_steps=6,
        batch_size=4, eval_every=3, eval_batches=2, checkpoint_every=3, log_every=3,
        summary_every=3, deterministic=True, optimizer=optimizer,
        data=dataclasses.replace(config_lib.get_preset("finetune").data,
                                 datasets=("synthetic_pose/tiny",), data_dir=data_dir),
        **overrides)
    lines = []
    trainer = Trainer(config, tmp_path, print_fn=lines.append)
    trainer.train()
    return trainer, lines


def test_a_collapsing_recipe_is_reported_and_the_starting_weights_are_kept(data_dir, tmp_path):
    reckless = config_lib.OptimizerSection(learning_rate=3e-3, warmup_steps=1,
                                           schedule="constant")
    trainer, lines = _pretrained_run(data_dir, tmp_path, reckless)
    start = json.loads((tmp_path / "start.json").read_text())["pck"]
    final = json.loads((tmp_path / "validation.json").read_text())
    assert final["pck@0.2"] < start - 0.02
    assert "fell from" in final["collapse_warning"]
    assert any(line.startswith("WARNING: validation pck@0.2 fell") for line in lines)
    # Keep-best never kept anything worse than the start: evaluate and export read it.
    assert json.loads((tmp_path / "best.json").read_text()) == {"step": 0, "pck": start}


def test_the_finetune_recipe_does_not_collapse(data_dir, tmp_path):
    recipe = config_lib.get_preset("finetune").optimizer
    trainer, lines = _pretrained_run(data_dir, tmp_path, recipe)
    start = json.loads((tmp_path / "start.json").read_text())["pck"]
    final = json.loads((tmp_path / "validation.json").read_text())
    assert final["pck@0.2"] >= start - 0.02 and "collapse_warning" not in final
    assert not any("WARNING" in line for line in lines)
    keras.backend.clear_session()


def test_preserve_runs_googles_network_beside_and_reports_its_loss(data_dir, tmp_path):
    """The reference the pose flag is kept at is Google's network, frozen, untouched by the
    training steps, never checkpointed; the loss it adds is logged."""
    from blazepose.pretrained.importer import load_mediapipe_model

    recipe = config_lib.get_preset("finetune")
    losses = dataclasses.replace(recipe.losses, preserve_weight=1.0)
    trainer, lines = _pretrained_run(data_dir, tmp_path, recipe.optimizer, losses=losses)
    assert any("preserve=" in line for line in lines)
    assert not trainer.reference_model.trainable_variables
    batch = next(iter(trainer.task.dataset_fn(False)(tf.distribute.InputContext())))
    google = load_mediapipe_model("full")(batch["image"])
    np.testing.assert_allclose(trainer.reference_model(batch["image"])["pose_flag"],
                               google["pose_flag"], atol=1e-5)
    trained = trainer.model(batch["image"])["landmarks"]
    assert float(np.max(np.abs(trained - google["landmarks"]))) > 1e-3  # the student moved
    saved = [name for name, _ in tf.train.list_variables(str(tmp_path / "checkpoints"))]
    assert saved and not any("reference" in name for name in saved)
    keras.backend.clear_session()


def test_preserve_needs_a_starting_network(data_dir, tmp_path):
    config = dataclasses.replace(
        config_lib.get_preset("finetune"), init_from=None,
        losses=dataclasses.replace(config_lib.get_preset("finetune").losses, preserve_weight=1.0),
        data=dataclasses.replace(config_lib.get_preset("finetune").data,
                                 datasets=("synthetic_pose/tiny",), data_dir=data_dir))
    with pytest.raises(ValueError, match="init_from"):
        Trainer(config, tmp_path, print_fn=lambda *_: None)
