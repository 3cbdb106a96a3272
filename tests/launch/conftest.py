"""Fixtures of the launch programs' tests: running a program, and small training runs."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys

import pytest
import tensorflow as tf

from blazepose.pretrained.importer import initialize_from
from blazepose.train import config as config_lib
from blazepose.train import runs
from blazepose.train.task import PoseTask

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def launch():
    """``launch(program, *flags, timeout=600)``: runs ``python -m launch.PROGRAM`` in a
    subprocess (absl flags are process-global) from the repository root; returns the
    ``subprocess.CompletedProcess`` (text stdout and stderr)."""

    def run(program: str, *flags: str, timeout: float = 600) -> subprocess.CompletedProcess:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
            [str(ROOT), os.environ.get("PYTHONPATH", "")]))
        return subprocess.run([sys.executable, "-m", f"launch.{program}", *flags], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              check=False)

    return run


@pytest.fixture(scope="session")
def make_run(tmp_path_factory):
    """``make_run(config, best=None, latest=None)``: a run directory as ``launch.train`` leaves
    it: ``config.json`` and checkpoints of the config's network (from its ``init_from``
    weights, else its random initialisation) in ``best/`` at step ``best`` and
    ``checkpoints/`` at step ``latest`` (None: no such checkpoint)."""

    def make(config: config_lib.TrainConfig, best: int | None = None,
             latest: int | None = None) -> pathlib.Path:
        directory = tmp_path_factory.mktemp("run")
        task = PoseTask(config)
        model = task.build_model()
        if config.init_from:
            initialize_from(model, config.init_from, topology=task.topology)
        step = tf.Variable(0, dtype=tf.int64)
        checkpoint = tf.train.Checkpoint(model=model, step=step)
        for number, choice in ((best, "best"), (latest, "latest")):
            if number is not None:
                step.assign(number)
                tf.train.CheckpointManager(
                    checkpoint, str(directory / runs.CHECKPOINT_FOLDERS[choice]),
                    max_to_keep=1).save(checkpoint_number=number)
        (directory / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(config))
        return directory

    return make


@pytest.fixture(scope="session")
def lite_offset_config(tfds_dir) -> config_lib.TrainConfig:
    """The default preset changed where evaluate and export used to need flags: the Lite
    network with an offset head, on the tiny synthetic data set; with the fine-tuning recipe's
    loss keeping the pose flag (which needs the starting network in training, not here)."""
    default = config_lib.get_preset("default")
    return dataclasses.replace(
        default, init_from=None, model=dataclasses.replace(default.model, variant="lite",
                                                           offset_head=True),
        losses=dataclasses.replace(default.losses, preserve_weight=1.0),
        data=dataclasses.replace(default.data, datasets=("synthetic_pose/tiny",),
                                 data_dir=tfds_dir))


@pytest.fixture(scope="session")
def lite_offset_run(make_run, lite_offset_config) -> pathlib.Path:
    """A run of :func:`lite_offset_config` with a best checkpoint (step 3) and a latest (step 5);
    copy it before changing it."""
    return make_run(lite_offset_config, best=3, latest=5)
