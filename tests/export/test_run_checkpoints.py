"""A run directory stands for its best checkpoint when it has one, else for its latest; export
reads its network from its config.json."""

import dataclasses
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from blazepose.export import ExportError, sources
from blazepose.train import config as config_lib
from blazepose.train import runs
from blazepose.train.task import PoseTask


def _save(folder, step):
    """A checkpoint holding only the trainer's ``step`` variable, as CheckpointManager names it."""
    checkpoint = tf.train.Checkpoint(step=tf.Variable(step, dtype=tf.int64))
    return tf.train.CheckpointManager(checkpoint, str(folder), max_to_keep=3).save(
        checkpoint_number=step)


def test_best_falls_back_to_latest(tmp_path):
    assert runs.find_checkpoint(tmp_path) is None
    latest = _save(tmp_path / "checkpoints", 5)
    found = runs.find_checkpoint(tmp_path)
    assert (found.prefix, found.choice, found.step) == (latest, "latest", 5)
    assert runs.find_checkpoint(tmp_path, "best", fallback=False) is None
    best = _save(tmp_path / "best", 3)
    found = runs.find_checkpoint(tmp_path, "best")
    assert (found.prefix, found.choice, found.step) == (best, "best", 3)
    assert "best checkpoint" in found.describe() and "step 3" in found.describe()
    assert runs.find_checkpoint(tmp_path, "latest").prefix == latest
    newer = _save(tmp_path / "checkpoints", 8)
    assert runs.find_checkpoint(tmp_path, "latest").prefix == newer
    assert runs.find_checkpoint(tmp_path, "best").prefix == best
    with pytest.raises(ValueError, match="which must be one of"):
        runs.find_checkpoint(tmp_path, "newest")


def test_resolve_checkpoint_of_a_directory_or_a_prefix(tmp_path):
    with pytest.raises(ExportError, match="no checkpoint in"):
        sources.resolve_checkpoint(tmp_path)
    latest = _save(tmp_path / "checkpoints", 5)
    assert sources.resolve_checkpoint(tmp_path) == (tmp_path, "best")  # best, else latest
    assert sources.resolve_checkpoint(latest) == (tmp_path, latest)


def _lite_run(run_dir):
    """A Lite run's config.json in ``run_dir``; (config, its network's heatmap kernel, a
    checkpoint of the network and a step) to write checkpoints with."""
    default = config_lib.get_preset("default")
    config = dataclasses.replace(default, init_from=None,
                                 model=dataclasses.replace(default.model, variant="lite"))
    (run_dir / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(config))
    model = PoseTask(config).build_model()
    checkpoint = tf.train.Checkpoint(model=model, step=tf.Variable(0, dtype=tf.int64))
    return config, model.get_layer("heatmap").kernel, checkpoint


def test_from_checkpoint_of_a_run_restores_its_best_weights(tmp_path):
    config, kernel, checkpoint = _lite_run(tmp_path)
    for step, value, folder in ((3, 0.25, "best"), (5, -0.5, "checkpoints")):
        kernel.assign(tf.fill(kernel.shape, value))
        checkpoint.step.assign(step)
        tf.train.CheckpointManager(checkpoint, str(tmp_path / folder), max_to_keep=1).save(
            checkpoint_number=step)
    source = sources.from_checkpoint(tmp_path)  # the run's config.json: no config given
    assert source.description["checkpoint"] == "best" and source.description["step"] == 3
    assert source.description["path"].endswith("best/ckpt-3")
    assert source.description["variant"] == "lite" and source.train_config == config
    np.testing.assert_array_equal(source.model.get_layer("heatmap").kernel.numpy(), 0.25)
    latest = sources.from_checkpoint(tmp_path / "checkpoints" / "ckpt-5", config)
    assert latest.description["checkpoint"] == "prefix" and latest.description["step"] == 5
    np.testing.assert_array_equal(latest.model.get_layer("heatmap").kernel.numpy(), -0.5)


def _truncate_data(prefix):
    """Cuts the checkpoint's data file in half (a copy or a disk that ran out of space)."""
    (data,) = tf.io.gfile.glob(f"{prefix}.data-*")
    content = pathlib.Path(data).read_bytes()
    pathlib.Path(data).write_bytes(content[:len(content) // 2])


def test_export_of_a_run_whose_newest_checkpoint_is_damaged_uses_the_newest_intact_one(
        tmp_path):
    config, kernel, checkpoint = _lite_run(tmp_path)
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path / "checkpoints"),
                                         max_to_keep=3)
    for step, value in ((2, 0.25), (4, -0.5)):
        kernel.assign(tf.fill(kernel.shape, value))
        checkpoint.step.assign(step)
        newest = manager.save(checkpoint_number=step)
    _truncate_data(newest)
    source = sources.from_checkpoint(tmp_path)
    assert source.description["step"] == 2 and source.description["path"].endswith("ckpt-2")
    ((prefix, reason),) = source.description["skipped_damaged"]
    assert prefix == newest and "Read less bytes" in reason
    np.testing.assert_array_equal(source.model.get_layer("heatmap").kernel.numpy(), 0.25)
    with pytest.raises(ExportError, match=f"{newest} is damaged"):
        sources.from_checkpoint(newest)
