"""Shared, session-scoped export fixtures: each model is converted once per format and re-used.

Two sources, as the deployment story has them:
* ``google``: Google's BlazePose Full weights (``sources.from_mediapipe``);
* ``default``: a checkpoint of the default training preset written through the trainer (its
  ``Trainer`` initialises from Google's weights as ``python -m launch.train`` does; every weight
  then moves by 0.2 % of its tensor's spread, standing in for fine-tuning, so that the two
  sources differ and the weights are no longer float16 numbers), restored by
  ``sources.from_checkpoint`` from the run directory alone (its ``config.json``).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from blazepose import samples
from blazepose.data import pipeline
from blazepose.export import ExportConfig, export_model, exporter, representative, runtimes, sources
from blazepose.train import config as config_lib


@pytest.fixture(scope="session")
def default_config(tfds_dir):
    """The default preset (what ``python -m launch.train`` trains) on the tiny data set."""
    config = config_lib.get_preset("default")
    return dataclasses.replace(config, data=dataclasses.replace(
        config.data, datasets=("synthetic_pose/tiny",), data_dir=tfds_dir))


@pytest.fixture(scope="session")
def default_run(tmp_path_factory, default_config) -> pathlib.Path:
    """A training run directory with one checkpoint in the trainer's layout."""
    from blazepose.train.trainer import Trainer

    run_dir = tmp_path_factory.mktemp("run")
    trainer = Trainer(default_config, run_dir, print_fn=lambda *_: None)
    trainer.restore()  # no checkpoint yet: initialises from Google's weights (init_from)
    rng = np.random.default_rng(7)
    for variable in trainer.model.trainable_variables:
        value = variable.numpy()
        variable.assign(value + 0.002 * value.std() * rng.standard_normal(value.shape))
    trainer.step.assign(5)
    trainer.manager.save(checkpoint_number=5)
    # What launch.train leaves beside the checkpoints: the run's resolved config.
    (run_dir / config_lib.RUN_CONFIG_FILE).write_text(config_lib.to_json(default_config))
    return run_dir


@pytest.fixture(scope="session")
def model_sources(default_run, default_config) -> dict:
    return {"google": sources.from_mediapipe(),
            "default": sources.from_checkpoint(default_run)}


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    path = samples.fetch_sample("astronaut")
    return tf.io.decode_png(tf.io.read_file(str(path)), channels=3).numpy()


@pytest.fixture(scope="session")
def crops(tfds_dir, photo) -> dict:
    """``calibration``: the tiny train split (16 crops); ``check``: photo crops plus the tiny
    validation split, float32 ``[n, 256, 256, 3]`` (never used for calibration)."""
    train = representative.representative_crops(
        pipeline.DataSource("synthetic_pose/tiny", "train", data_dir=tfds_dir), 16)
    validation = representative.representative_crops(
        pipeline.DataSource("synthetic_pose/tiny", "validation", data_dir=tfds_dir), 4)
    return {"calibration": train,
            "check": np.concatenate([exporter.photo_crops(photo), validation])}


class ExportCache:
    """Exports on demand, once per (source, format, quantisation, preprocessing)."""

    def __init__(self, root: pathlib.Path, model_sources: dict, crops: dict):
        self.root, self.sources, self.crops = root, model_sources, crops
        self.results: dict = {}

    def reference(self, source: str, signature: str) -> dict:
        """The Keras model's outputs on ``exporter.verification_inputs(check crops)``."""
        key = ("reference", source, signature)
        if key not in self.results:
            inputs = exporter.verification_inputs(self.crops["check"], signature)
            self.results[key] = runtimes.reference_runner(self.sources[source].model,
                                                          signature)(inputs)
        return self.results[key]

    def get(self, source: str, format: str, quantize: str = "none",  # noqa: A002
            with_preprocessing: bool = False):
        key = (source, format, quantize, with_preprocessing)
        if key not in self.results:
            saved_model_dir = None
            if format != "saved_model":
                saved_model_dir = self.get(source, "saved_model").directory
            name = f"{source}_{format}_{quantize}{'_image' if with_preprocessing else ''}"
            self.results[key] = export_model(
                self.sources[source], self.root / name,
                ExportConfig(format, quantize, with_preprocessing),
                saved_model_dir=saved_model_dir, representative=self.crops["calibration"],
                print_fn=lambda *_: None)
        return self.results[key]


@pytest.fixture(scope="session")
def exports(tmp_path_factory, model_sources, crops) -> ExportCache:
    return ExportCache(tmp_path_factory.mktemp("exports"), model_sources, crops)
