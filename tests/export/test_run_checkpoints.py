"""A run directory stands for its best checkpoint when it has one, else for its latest."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from blazepose.export import ExportError, sources
from blazepose.train import config as config_lib
from blazepose.train.trainer import Trainer


def _save(folder, step):
    """A checkpoint holding only the trainer's ``step`` variable, as CheckpointManager names it."""
    checkpoint = tf.train.Checkpoint(step=tf.Variable(step, dtype=tf.int64))
    return tf.train.CheckpointManager(checkpoint, str(folder), max_to_keep=3).save(
        checkpoint_number=step)


def test_auto_prefers_best_then_latest(tmp_path):
    assert sources.run_checkpoint(tmp_path) is None
    latest = _save(tmp_path / "checkpoints", 5)
    found = sources.run_checkpoint(tmp_path)
    assert (found.prefix, found.choice, found.step) == (latest, "latest", 5)
    assert sources.run_checkpoint(tmp_path, "best") is None
    best = _save(tmp_path / "best", 3)
    found = sources.run_checkpoint(tmp_path, "auto")
    assert (found.prefix, found.choice, found.step) == (best, "best", 3)
    assert "best checkpoint" in found.describe() and "step 3" in found.describe()
    assert sources.run_checkpoint(tmp_path, "latest").prefix == latest
    newer = _save(tmp_path / "checkpoints", 8)
    assert sources.run_checkpoint(tmp_path, "latest").prefix == newer
    assert sources.run_checkpoint(tmp_path, "auto").prefix == best
    with pytest.raises(ValueError, match="which must be one of"):
        sources.run_checkpoint(tmp_path, "newest")


def test_resolve_checkpoint_of_a_directory_or_a_prefix(tmp_path):
    with pytest.raises(ExportError, match="no checkpoint in"):
        sources.resolve_checkpoint(tmp_path)
    latest = _save(tmp_path / "checkpoints", 5)
    assert sources.resolve_checkpoint(tmp_path).choice == "latest"
    best = _save(tmp_path / "best", 3)
    resolved = sources.resolve_checkpoint(tmp_path)
    assert (resolved.model_dir, resolved.prefix, resolved.choice) == (tmp_path, best, "best")
    given = sources.resolve_checkpoint(latest)
    assert (given.model_dir, given.prefix, given.choice, given.step) == (tmp_path, latest,
                                                                          "prefix", 5)


def test_from_checkpoint_of_a_run_restores_its_best_weights(tmp_path):
    default = config_lib.get_preset("default")
    config = dataclasses.replace(default, init_from=None,
                                 model=dataclasses.replace(default.model, variant="lite"))
    trainer = Trainer(config, tmp_path, print_fn=lambda *_: None)
    kernel = trainer.model.get_layer("heatmap").kernel
    for step, value, manager in ((3, 0.25, trainer.best_manager), (5, -0.5, trainer.manager)):
        kernel.assign(tf.fill(kernel.shape, value))
        trainer.step.assign(step)
        manager.save(checkpoint_number=step)
    source = sources.from_checkpoint(tmp_path, config)
    assert source.description["checkpoint"] == "best" and source.description["step"] == 3
    assert source.description["path"].endswith("best/ckpt-3")
    np.testing.assert_array_equal(source.model.get_layer("heatmap").kernel.numpy(), 0.25)
    latest = sources.from_checkpoint(tmp_path / "checkpoints" / "ckpt-5", config)
    assert latest.description["checkpoint"] == "prefix" and latest.description["step"] == 5
    np.testing.assert_array_equal(latest.model.get_layer("heatmap").kernel.numpy(), -0.5)
