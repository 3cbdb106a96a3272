"""The trainer's writing side of a run directory.

``MODEL_DIR/config.json`` (:data:`config.RUN_CONFIG_FILE`) is the whole resolved
:class:`TrainConfig` of the run. The trainer writes it after a successful restore, before step 1,
and with the first checkpoint any of its managers saves (:class:`RecordingCheckpointManager`), so
a checkpoint never lies in a directory without the config that made it. Reading a run (its
config, older runs' ``architecture.json`` / ``phase.json``, the architecture check) is
:mod:`blazepose.train.runs`.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import tensorflow as tf

from blazepose.train import config as config_lib
from blazepose.train.config import TrainConfig


def write_run_config(model_dir: os.PathLike, config: TrainConfig) -> None:
    """Writes ``config`` as ``model_dir/config.json``."""
    (pathlib.Path(model_dir) / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(config))


def has_checkpoint(model_dir: os.PathLike) -> bool:
    """Whether ``model_dir`` holds a trainer checkpoint (latest or best)."""
    return any(tf.train.latest_checkpoint(str(pathlib.Path(model_dir) / folder)) is not None
               for folder in ("checkpoints", "best"))


class RecordingCheckpointManager(tf.train.CheckpointManager):
    """A ``tf.train.CheckpointManager`` that calls ``before_save()`` before each save (the
    trainer records the run's config there)."""

    def __init__(self, checkpoint, directory, max_to_keep, before_save: Callable[[], None],
                 **kwargs):
        super().__init__(checkpoint, directory, max_to_keep, **kwargs)
        self._before_save = before_save

    def save(self, *args, **kwargs):
        self._before_save()
        return super().save(*args, **kwargs)
