"""Reading a run directory (blazepose.train.runs.load_run), and presets as registered
experiment functions."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from blazepose.train import config as config_lib
from blazepose.train import runs
from blazepose.train.task import PoseTask
from blazepose.train.trainer import Trainer


def test_load_run_reads_what_the_trainer_writes(small_config, tmp_path):
    config = small_config()
    trainer = Trainer(config, tmp_path, print_fn=lambda *_: None)
    trainer.train()
    best_step = json.loads((tmp_path / "best.json").read_text())["step"]

    best = runs.load_run(tmp_path)
    assert best.config == config and best.model_dir == tmp_path
    assert (best.checkpoint.choice, best.step) == ("best", best_step)
    assert best.checkpoint.prefix.startswith(str(tmp_path / "best"))

    latest = runs.load_run(tmp_path, "latest")
    assert (latest.checkpoint.choice, latest.step) == ("latest", config.train_steps)
    for ours, theirs in zip(latest.model.weights, trainer.model.weights, strict=True):
        assert ours.path == theirs.path
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def _save(model, folder, step: int) -> str:
    checkpoint = tf.train.Checkpoint(model=model, step=tf.Variable(step, dtype=tf.int64))
    return tf.train.CheckpointManager(checkpoint, str(folder), max_to_keep=1).save(
        checkpoint_number=step)


def _lite_model(config, value: float):
    model = PoseTask(config).build_model()
    kernel = model.get_layer("heatmap").kernel
    kernel.assign(tf.fill(kernel.shape, value))
    return model


def _kernel(run) -> np.ndarray:
    return run.model.get_layer("heatmap").kernel.numpy()


def test_best_falls_back_to_latest_and_a_prefix_is_read_as_given(small_config, tmp_path):
    config = small_config()
    (tmp_path / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(config))
    with pytest.raises(runs.RunError, match=f"{tmp_path} has no checkpoint .*best and "):
        runs.load_run(tmp_path)
    latest = _save(_lite_model(config, -0.5), tmp_path / "checkpoints", 5)
    run = runs.load_run(tmp_path)
    assert (run.checkpoint.choice, run.step) == ("latest", 5)
    np.testing.assert_array_equal(_kernel(run), -0.5)
    _save(_lite_model(config, 0.25), tmp_path / "best", 3)
    run = runs.load_run(tmp_path, "best")
    assert (run.checkpoint.choice, run.step) == ("best", 3) and "best checkpoint" in \
        run.describe()
    np.testing.assert_array_equal(_kernel(run), 0.25)
    given = runs.load_run(tmp_path, latest)
    assert (given.checkpoint.choice, given.checkpoint.prefix, given.step) == ("prefix", latest, 5)
    np.testing.assert_array_equal(_kernel(given), -0.5)
    with pytest.raises(runs.RunError, match="not a checkpoint prefix"):
        runs.load_run(tmp_path, "newest")


def test_an_older_run_is_read_from_architecture_and_phase(small_config, tmp_path):
    """No config.json: architecture.json gives the network, phase.json the phase (whose layout
    the checkpoint has: the regression phase adds a stop-gradient layer)."""
    config = small_config(phase="regression")
    _save(_lite_model(config, 0.125), tmp_path / "checkpoints", 7)
    (tmp_path / runs.ARCHITECTURE_FILE).write_text(json.dumps(runs.architecture(config)))
    (tmp_path / runs.PHASE_FILE).write_text(json.dumps({"phase": "regression"}))
    run = runs.load_run(tmp_path)
    assert run.config.model == config.model and run.config.phase == "regression"
    assert run.step == 7
    np.testing.assert_array_equal(_kernel(run), 0.125)
    # A preset named for it must be the same network; the phase stays the run's.
    full = config_lib.get_preset("default")
    with pytest.raises(runs.CheckpointMismatchError,
                       match=r"another architecture: model\.variant: run 'lite' vs given 'full'"):
        runs.load_run(tmp_path, config=full)
    named = runs.load_run(tmp_path, config=dataclasses.replace(full, model=config.model))
    assert named.config.phase == "regression"


def test_a_best_checkpoint_of_another_phase_is_restored(small_config, tmp_path):
    """A best checkpoint kept from before a phase change has the other phase's layout."""
    config = small_config(phase="joint")
    (tmp_path / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(config))
    _save(_lite_model(dataclasses.replace(config, phase="regression"), 0.75), tmp_path / "best", 2)
    run = runs.load_run(tmp_path)
    assert run.config.phase == "joint" and run.step == 2
    np.testing.assert_array_equal(_kernel(run), 0.75)


def test_unreadable_runs_are_named(small_config, tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(runs.RunError, match=f"{missing}: no such run directory"):
        runs.load_run(missing)
    config = small_config()
    _save(_lite_model(config, 0.0), tmp_path / "checkpoints", 1)
    with pytest.raises(runs.RunError, match=f"{tmp_path} has no config.json"):
        runs.load_run(tmp_path)
    other = dataclasses.replace(config, model=dataclasses.replace(config.model, variant="full"))
    (tmp_path / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(other))
    with pytest.raises(runs.CheckpointMismatchError, match=f"{tmp_path}: cannot restore"):
        runs.load_run(tmp_path)


def test_pipeline_model_needs_blazepose_keypoints(small_config, tmp_path):
    config = small_config(model=config_lib.ModelSection(variant="lite", offset_head=True))
    (tmp_path / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(config))
    _save(PoseTask(config).build_model(), tmp_path / "checkpoints", 1)
    model = runs.load_run(tmp_path).pipeline_model()
    assert sorted(model.output) == sorted(["landmarks", "world_landmarks", "pose_flag",
                                           "heatmap", "segmentation"])
    lsp = dataclasses.replace(config, model=config_lib.ModelSection(variant="lite",
                                                                    num_keypoints=14),
                              data=dataclasses.replace(config.data, pipeline=dataclasses.replace(
                                  config.data.pipeline, topology="lsp_14")))
    other = tmp_path / "lsp"
    other.mkdir()
    (other / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(lsp))
    _save(PoseTask(lsp).build_model(), other / "checkpoints", 1)
    with pytest.raises(runs.RunError, match="14 keypoints of lsp_14.*needs BlazePose's 33"):
        runs.load_run(other).pipeline_model()


def test_presets_are_registered_experiment_functions():
    assert {"default", "finetune", "scratch"} <= set(config_lib.preset_names())
    assert config_lib.get_preset("scratch").train_steps == 20000
    with pytest.raises(ValueError, match="unknown preset 'nope'; known: default, finetune"):
        config_lib.get_preset("nope")

    @config_lib.register_preset("test_tiny_experiment")
    def tiny() -> config_lib.TrainConfig:
        return config_lib.TrainConfig(train_steps=3)

    try:
        assert "test_tiny_experiment" in config_lib.preset_names()
        assert config_lib.get_preset("test_tiny_experiment").train_steps == 3
        with pytest.raises(ValueError, match="already registered"):
            config_lib.register_preset("test_tiny_experiment")(tiny)
    finally:
        del config_lib.PRESETS["test_tiny_experiment"]
