"""Fixtures shared by the training tests."""

import dataclasses

import pytest
import tensorflow_datasets as tfds

import datasets_tfds
from blazepose.data.config import NO_AUGMENTATION, PipelineConfig
from blazepose.train import config as config_lib


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A TFDS data directory with ``synthetic_pose/tiny`` prepared (built once per session)."""
    datasets_tfds.register_builders()
    directory = tmp_path_factory.mktemp("tfds")
    tfds.builder("synthetic_pose/tiny", data_dir=str(directory)).download_and_prepare()
    return str(directory)


@pytest.fixture(scope="session")
def small_config(data_dir):
    """``small_config(**overrides)``: a 4-step Lite run of batch 4 on ``synthetic_pose/tiny``,
    deterministic, without augmentation, at a constant rate (fields replaced by ``overrides``)."""
    base = config_lib.TrainConfig(
        model=config_lib.ModelSection(variant="lite"),
        data=config_lib.DataSection(datasets=("synthetic_pose/tiny",), data_dir=data_dir,
                                    pipeline=PipelineConfig(augment=NO_AUGMENTATION)),
        optimizer=config_lib.OptimizerSection(learning_rate=2e-3, warmup_steps=1,
                                              schedule="constant"),
        train_steps=4, batch_size=4, eval_every=1000, eval_batches=1, checkpoint_every=2,
        log_every=2, summary_every=1, deterministic=True)

    def make(**overrides):
        return dataclasses.replace(base, **overrides)

    return make
