"""What a training run directory records about how its checkpoints were made.

``MODEL_DIR/config.json`` (:data:`config.RUN_CONFIG_FILE`) is the whole resolved
:class:`TrainConfig` of the run. The trainer writes it after a successful restore, before step 1,
and with the first checkpoint any of its managers saves (:class:`RecordingCheckpointManager`), so
a checkpoint never lies in a directory without the config that made it. Runs written before it
existed have ``architecture.json`` (model section and topology) and ``phase.json`` instead: they
are still read, never written.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Callable

import tensorflow as tf

from blazepose.train import config as config_lib
from blazepose.train.config import TrainConfig

LEGACY_ARCHITECTURE_FILE = "architecture.json"
LEGACY_PHASE_FILE = "phase.json"


class CheckpointMismatchError(ValueError):
    """A checkpoint in the model directory belongs to another architecture."""


def architecture(config: TrainConfig) -> dict:
    """What a checkpoint's variables depend on: the model section and the keypoint topology."""
    return {"model": dataclasses.asdict(config.model), "topology": config.data.pipeline.topology}


def write_run_config(model_dir: os.PathLike, config: TrainConfig) -> None:
    """Writes ``config`` as ``model_dir/config.json``."""
    (pathlib.Path(model_dir) / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(config))


def recorded_architecture(model_dir: os.PathLike) -> dict | None:
    """The :func:`architecture` the run in ``model_dir`` recorded (its ``config.json``, else an
    older run's ``architecture.json``), or None when it recorded none.

    Raises:
      ValueError: ``config.json`` is not a config this version reads (naming the file).
    """
    saved = config_lib.load_run_config(model_dir)
    if saved is not None:
        return architecture(saved)
    path = pathlib.Path(model_dir) / LEGACY_ARCHITECTURE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def recorded_phase(model_dir: os.PathLike) -> str | None:
    """The training phase of the run in ``model_dir`` (``config.json``, else an older run's
    ``phase.json``), or None when it recorded none."""
    saved = config_lib.load_run_config(model_dir)
    if saved is not None:
        return saved.phase
    path = pathlib.Path(model_dir) / LEGACY_PHASE_FILE
    return json.loads(path.read_text())["phase"] if path.is_file() else None


def check_architecture(model_dir: os.PathLike, config: TrainConfig) -> None:
    """Refuses a ``model_dir`` whose recorded architecture (:func:`recorded_architecture`)
    differs from ``config``'s, naming each difference; nothing recorded is not an error here.

    Raises:
      CheckpointMismatchError: the model section or topology differs.
    """
    theirs = recorded_architecture(model_dir)
    if theirs is None:
        return
    ours = architecture(config)
    differences = {key: (theirs.get(key), ours.get(key)) for key in ours
                   if theirs.get(key) != ours.get(key)}
    if differences:
        raise CheckpointMismatchError(
            f"{model_dir} holds checkpoints of another architecture: " + "; ".join(
                f"{k}: checkpoint {a} vs config {b}" for k, (a, b) in differences.items()))


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
